import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SummedCounter } from './summed-counter.js';

function counter(): { c: SummedCounter<'route' | 'type'>; registry: Registry } {
  const registry = new Registry();
  const c = new SummedCounter({ name: 't_total', help: 'h', labelNames: ['route', 'type'] as const, registers: [registry] });
  return { c, registry };
}

describe('SummedCounter', () => {
  it('shows per label set what prom-client would: sums, and a series incremented by 0', async () => {
    const { c, registry } = counter();
    c.inc({ route: 'a', type: 'in' }, 2);
    c.inc({ route: 'a', type: 'in' }, 3);
    c.inc({ route: 'b', type: 'in' }, 0);
    c.inc({ route: 'a', type: 'out' });
    const values = (await registry.getSingleMetric('t_total')?.get())?.values.map((v) => [v.labels, v.value]);
    expect(values).toEqual([
      [{ route: 'a', type: 'in' }, 5],
      [{ route: 'b', type: 'in' }, 0],
      [{ route: 'a', type: 'out' }, 1],
    ]);
    c.inc({ route: 'a', type: 'in' }, 1);
    expect(await registry.metrics()).toContain('t_total{route="a",type="in"} 6');
  });

  it('refuses a negative or non-finite increment at the call, as prom-client does', () => {
    const { c } = counter();
    expect(() => c.inc({ route: 'a', type: 'in' }, -1)).toThrow(/decrease/);
    expect(() => c.inc({ route: 'a', type: 'in' }, Number.NaN)).toThrow(TypeError);
  });

  it('a resolved series adds to the same sums as inc with its labels, and is shown only once incremented', async () => {
    const { c, registry } = counter();
    const series = c.series({ route: 'a', type: 'in' });
    c.series({ route: 'b', type: 'in' });
    expect(await registry.metrics()).not.toContain('t_total{');
    series.inc(2);
    c.inc({ route: 'a', type: 'in' }, 3);
    series.inc();
    expect(() => series.inc(-1)).toThrow(/decrease/);
    const values = (await registry.getSingleMetric('t_total')?.get())?.values.map((v) => [v.labels, v.value]);
    expect(values).toEqual([[{ route: 'a', type: 'in' }, 6]]);
  });
});
