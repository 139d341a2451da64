import { describe, expect, it } from 'vitest';
import { createOperatorMetrics } from '../../operator/operator-metrics.js';
import { SnapshotStore } from '../runtime/snapshot-store.js';
import { HttpTransport } from '../upstream/http-transport.js';
import { createGatewayMetrics } from './gateway-metrics.js';

/** The cumulative count of `metric`'s series in the finite bucket that first takes `value`, from the exposition text. */
function firstFiniteBucket(text: string, metric: string): { le: string; count: number } | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le !== undefined && le !== '+Inf' && count > 0) return { le, count };
  }
  return undefined;
}

describe('the data plane latency histograms', () => {
  it('give slow reasoning models and long streams a finite bucket (before: TTFT topped out at 30 s, requests at 300 s)', async () => {
    const m = createGatewayMetrics(new SnapshotStore(new HttpTransport()), { defaultMetrics: false });
    m.ttft.observe({ route: 'r', provider: 'p', upstream_model: 'u' }, 45);
    m.requestDuration.observe({ route: 'r', model: 'm', provider: 'p', status_class: '2xx' }, 900);
    const text = await m.registry.metrics();
    expect(firstFiniteBucket(text, 'tollgate_time_to_first_token_seconds')).toEqual({ le: '60', count: 1 });
    expect(firstFiniteBucket(text, 'tollgate_request_duration_seconds')).toEqual({ le: '1800', count: 1 });
  });
});

describe('the operator registry', () => {
  it("has the process's own metrics and the push failures (before: neither)", async () => {
    const m = createOperatorMetrics();
    m.pushFailed.inc({ reason: 'unauthorized' });
    const text = await m.registry.metrics();
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(text).toContain('tollgate_operator_push_failures_total{reason="unauthorized"} 1');
  });
});
