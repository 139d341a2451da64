import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SummedHistogram } from './summed-histogram.js';

const BUCKETS = [0.5, 0.01, 0.1, 1];
const config = { name: 't_seconds', help: 'h', labelNames: ['route', 'outcome'] as const, buckets: BUCKETS };

function feed(observe: (labels: { route: string; outcome: string }, v: number) => void): void {
  const values = [0.001, 0.01, 0.05, 0.3, 0.7, 2, 100, 0.01, 1];
  values.forEach((v, i) => observe(i % 3 === 0 ? { route: 'a', outcome: 'success' } : { outcome: 'Timeout', route: 'b' }, v));
  observe({ route: 'a', outcome: 'success' }, 0.2);
}

describe('SummedHistogram', () => {
  it('scrapes (text and JSON) exactly as prom-client’s Histogram fed the same observations', async () => {
    const plain = new Registry();
    const summed = new Registry();
    const h = new Histogram({ ...config, registers: [plain] });
    const s = new SummedHistogram({ ...config, registers: [summed] });
    feed((labels, v) => h.observe(labels, v));
    feed((labels, v) => s.observe(labels, v));
    expect(await summed.metrics()).toBe(await plain.metrics());
    expect(await summed.getMetricsAsJSON()).toEqual(await plain.getMetricsAsJSON());
    plain.resetMetrics();
    summed.resetMetrics();
    expect(await summed.metrics()).toBe(await plain.metrics());
  });

  it('refuses what prom-client refuses: a value that is not a finite number', () => {
    const s = new SummedHistogram({ ...config, registers: [] });
    expect(() => s.observe({ route: 'a', outcome: 'success' }, Number.NaN)).toThrow(TypeError);
  });

  it('a resolved series scrapes as observe with its labels, shows only once observed, and survives a reset', async () => {
    const plain = new Registry();
    const summed = new Registry();
    const h = new Histogram({ ...config, registers: [plain] });
    const s = new SummedHistogram({ ...config, registers: [summed] });
    const a = s.series({ route: 'a', outcome: 'success' });
    const b = s.series({ outcome: 'Timeout', route: 'b' });
    expect(await summed.metrics()).toBe(await plain.metrics());
    feed((labels, v) => h.observe(labels, v));
    feed((labels, v) => (labels.route === 'a' ? a : b).observe(v));
    expect(await summed.metrics()).toBe(await plain.metrics());
    plain.resetMetrics();
    summed.resetMetrics();
    h.observe({ route: 'a', outcome: 'success' }, 0.2);
    a.observe(0.2);
    expect(await summed.metrics()).toBe(await plain.metrics());
    expect(() => a.observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });
});
