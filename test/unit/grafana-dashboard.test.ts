import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SnapshotStore } from '../../dataplane/runtime/snapshot-store.js';
import { createGatewayMetrics } from '../../dataplane/telemetry/gateway-metrics.js';
import { HttpTransport } from '../../dataplane/upstream/http-transport.js';
import { createOperatorMetrics } from '../../operator/operator-metrics.js';

interface Dashboard {
  uid: string;
  panels: { id: number; title: string; targets: { expr: string }[] }[];
}

const dashboard = JSON.parse(readFileSync('charts/tollgate/dashboards/tollgate.json', 'utf8')) as Dashboard;

async function metricNames(): Promise<Set<string>> {
  const dataplane = createGatewayMetrics(new SnapshotStore(new HttpTransport()), { defaultMetrics: false });
  const operator = createOperatorMetrics();
  const names = new Set<string>();
  for (const registry of [dataplane.registry, operator.registry]) {
    for (const metric of await registry.getMetricsAsJSON()) names.add(metric.name);
  }
  return names;
}

describe('the chart Grafana dashboard', () => {
  it('queries only metrics the data plane and the operator export', async () => {
    const known = await metricNames();
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        for (const m of target.expr.matchAll(/\btollgate_[a-z_]+/g)) used.add(m[0].replace(/_(bucket|sum|count)$/, ''));
      }
    }
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((name) => !known.has(name))).toEqual([]);
  });

  it('has unique panel ids, a stable uid and a query in every panel', () => {
    expect(dashboard.uid).toBe('tollgate-overview');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) expect(p.targets.length, p.title).toBeGreaterThan(0);
  });
});
