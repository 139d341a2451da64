import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../config/snapshot.js';
import { PASS_THROUGH_ENDPOINTS } from '../config/pass-through-endpoints.js';
import { objectKeys, retirablePromMetric, SeriesRetirement, type KeepSeries, type SeriesLabels } from './series-retirement.js';
import { SummedCounter } from './summed-counter.js';
import { SummedHistogram } from './summed-histogram.js';
import { boundedLabel } from './target-labels.js';

const target = (providerId: string, model: string) => ({ providerId, model, priority: 0, weight: 1, pricing: { inputPer1M: 0, outputPer1M: 0 } });

/** Only what objectKeys reads; the rest of a Snapshot is not looked at. */
function snapshot(parts: {
  routes?: { id: string; model: string; targets: [string, string][] }[];
  budgets?: string[];
  guardrails?: { id: string; rules: string[] }[];
  dataPolicies?: { id: string; destinations: string[] }[];
}): Snapshot {
  return {
    routes: (parts.routes ?? []).map((r) => ({ id: r.id, model: r.model, targets: r.targets.map(([p, m]) => target(p, m)) })),
    budgets: (parts.budgets ?? []).map((id) => ({ id })),
    guardrails: (parts.guardrails ?? []).map((g) => ({ id: g.id, rules: g.rules.map((name) => ({ name })) })),
    dataPolicies: (parts.dataPolicies ?? []).map((d) => ({ id: d.id, destinations: d.destinations.map((name) => ({ name })) })),
  } as unknown as Snapshot;
}

const FULL = snapshot({
  routes: [{ id: 'team/chat', model: 'chat', targets: [['team/openai', 'gpt-x']] }],
  budgets: ['team/monthly'],
  guardrails: [{ id: 'team/pii', rules: ['no-cards'] }],
  dataPolicies: [{ id: 'team/audit', destinations: ['bucket'] }],
});

/** What `keep` says of `labels` once `snap` is applied and the sweep runs. */
async function kept(snap: Snapshot, labels: SeriesLabels): Promise<boolean> {
  const retirement = new SeriesRetirement(0);
  let answer = false;
  retirement.track({ retire: (keep: KeepSeries) => void (answer = keep(labels)) });
  await retirement.apply(snap);
  return answer;
}

describe('which series name only configured objects', () => {
  it('keeps series of the configured route, its model, its targets, budget, guardrail rule and capture destination, and the none label', async () => {
    const route = { route: 'team/chat' };
    for (const labels of [
      route,
      { ...route, model: 'chat' },
      { ...route, provider: 'team/openai', upstream_model: 'gpt-x', outcome: 'success' },
      { ...route, model: 'chat', provider: 'none', upstream_model: 'none', status_class: '4xx' },
      { ...route, model: 'chat', provider: 'team/openai', status_class: '2xx' },
      { route: 'none', model: 'none', provider: 'none', upstream_model: 'none' },
      { provider: 'team/openai', upstream_model: 'gpt-x' },
      { ...route, budget: 'team/monthly', action: 'reject' },
      { policy: 'team/pii', rule: 'no-cards', phase: 'request', action: 'Block' },
      { destination: 'team/audit/bucket', reason: 'queue_full' },
      { version: 'abc' },
    ]) {
      expect(await kept(FULL, labels), JSON.stringify(labels)).toBe(true);
    }
  });

  it('drops series that name any object the snapshot does not have', async () => {
    const route = { route: 'team/chat' };
    for (const labels of [
      { route: 'team/gone' },
      { ...route, model: 'renamed' },
      // A target of another route, or a model the provider no longer serves here.
      { ...route, provider: 'team/openai', upstream_model: 'gpt-old' },
      { ...route, provider: 'team/other', upstream_model: 'gpt-x' },
      { provider: 'team/openai', upstream_model: 'gpt-old' },
      { ...route, model: 'chat', provider: 'team/other', status_class: '2xx' },
      { provider: 'team/other' },
      { ...route, budget: 'team/daily', action: 'reject' },
      { policy: 'team/pii', rule: 'removed-rule', phase: 'request', action: 'Block' },
      { policy: 'team/gone', rule: 'no-cards', phase: 'request', action: 'Block' },
      { destination: 'team/audit/other', reason: 'queue_full' },
    ]) {
      expect(await kept(FULL, labels), JSON.stringify(labels)).toBe(false);
    }
  });

  it('lists every object of a snapshot once per kind', () => {
    expect(objectKeys(FULL).map((k) => k.replaceAll('\0', '|'))).toEqual([
      'r|team/chat',
      'm|team/chat|chat',
      't|team/openai|gpt-x',
      'rt|team/openai|gpt-x|team/chat',
      'p|team/openai',
      'rp|team/openai|team/chat',
      'b|team/monthly',
      'g|team/pii|no-cards',
      // The policy's decisions about pass-through endpoints, which no rule reads.
      ...PASS_THROUGH_ENDPOINTS.map((e) => `g|team/pii|endpoint:${e}`),
      'd|team/audit/bucket',
    ]);
  });

  it("keeps a route's target series as target-labels.ts shows them (cut, folded into _other), while the route is configured", () => {
    const long = 'm'.repeat(200);
    const targets: [string, string][] = Array.from({ length: 40 }, (_, i) => ['ns/p', `${long}-${i}`]);
    const retirement = new SeriesRetirement(0);
    const c = new SummedCounter({ name: 'c_total', help: 'h', labelNames: ['route', 'provider', 'upstream_model'] as const, registers: [] });
    retirement.track(c);
    const kept = (labels: SeriesLabels): boolean => {
      let found = false;
      c.retire((l) => {
        if (l === labels) found = true;
        return true;
      });
      return found;
    };
    const folded = { route: 'ns/r', provider: '_other', upstream_model: '_other' };
    const cut = { route: 'ns/r', provider: 'ns/p', upstream_model: boundedLabel(`${long}-0`) };
    c.inc(folded);
    c.inc(cut);
    void retirement.apply(snapshot({ routes: [{ id: 'ns/r', model: 'r', targets }] }));
    expect(kept(folded)).toBe(true);
    expect(kept(cut)).toBe(true);
    void retirement.apply(snapshot({ routes: [] }));
    expect(kept(folded)).toBe(false);
    expect(kept(cut)).toBe(false);
  });
});

describe('SeriesRetirement', () => {
  const A = snapshot({ routes: [{ id: 'ns/a', model: 'a', targets: [['ns/p', 'm']] }, { id: 'ns/b', model: 'b', targets: [['ns/p', 'm']] }] });
  const B_ONLY = snapshot({ routes: [{ id: 'ns/b', model: 'b', targets: [['ns/p', 'm']] }] });

  function counted(): { retirement: SeriesRetirement; clock: { t: number }; registry: Registry; c: SummedCounter<'route'> } {
    const clock = { t: 0 };
    const retirement = new SeriesRetirement(1000, () => clock.t);
    const registry = new Registry();
    const c = new SummedCounter({ name: 'c_total', help: 'h', labelNames: ['route'] as const, registers: [registry] });
    retirement.track(c);
    return { retirement, clock, registry, c };
  }
  const routes = async (registry: Registry): Promise<unknown[]> => (await registry.getSingleMetric('c_total')!.get()).values.map((v) => [v.labels.route, v.value]);

  it("drops a deleted object's series only once its grace has passed, and keeps the others", async () => {
    const { retirement, clock, registry, c } = counted();
    await retirement.apply(A);
    c.inc({ route: 'ns/a' }, 2);
    c.inc({ route: 'ns/b' }, 3);
    clock.t = 100;
    await retirement.apply(B_ONLY);
    expect(await routes(registry)).toEqual([['ns/a', 2], ['ns/b', 3]]);
    clock.t = 1099;
    await retirement.sweep();
    expect(await routes(registry)).toEqual([['ns/a', 2], ['ns/b', 3]]);
    clock.t = 1100;
    await retirement.sweep();
    expect(await routes(registry)).toEqual([['ns/b', 3]]);
    // Gone from the counter's own sums too: a new series starts at zero.
    c.inc({ route: 'ns/a' }, 1);
    expect(await routes(registry)).toEqual([['ns/b', 3], ['ns/a', 1]]);
  });

  it('an object back within its grace is configured again, with no end', async () => {
    const { retirement, clock, registry, c } = counted();
    await retirement.apply(A);
    c.inc({ route: 'ns/a' });
    await retirement.apply(B_ONLY);
    clock.t = 500;
    await retirement.apply(A);
    clock.t = 1_000_000;
    await retirement.sweep();
    expect(await routes(registry)).toEqual([['ns/a', 1]]);
  });

  it('a later snapshot does not restart the grace of what an earlier one removed', async () => {
    const { retirement, clock, registry, c } = counted();
    await retirement.apply(A);
    c.inc({ route: 'ns/a' });
    await retirement.apply(B_ONLY);
    clock.t = 900;
    await retirement.apply(snapshot({ routes: [{ id: 'ns/b', model: 'b', targets: [] }, { id: 'ns/c', model: 'c', targets: [] }] }));
    clock.t = 1000;
    await retirement.sweep();
    expect(await routes(registry)).toEqual([]);
  });

  it('drops nothing before the first snapshot', async () => {
    const { retirement, clock, registry, c } = counted();
    c.inc({ route: 'ns/a' });
    clock.t = 1_000_000;
    await retirement.sweep();
    expect(await routes(registry)).toEqual([['ns/a', 1]]);
  });

  it('a handle of a retired counter series counts again from zero, in the shown series', async () => {
    const { retirement, clock, registry, c } = counted();
    await retirement.apply(A);
    const handle = c.series({ route: 'ns/a' });
    handle.inc(5);
    await retirement.apply(B_ONLY);
    clock.t = 2000;
    await retirement.sweep();
    expect(await routes(registry)).toEqual([]);
    handle.inc(2);
    expect(await routes(registry)).toEqual([['ns/a', 2]]);
  });

  it('retires histogram series, and a retired series handle observes into a new one', async () => {
    const clock = { t: 0 };
    const retirement = new SeriesRetirement(10, () => clock.t);
    const registry = new Registry();
    const h = new SummedHistogram({ name: 'h_seconds', help: 'h', labelNames: ['route'] as const, buckets: [1], registers: [registry] });
    retirement.track(h);
    await retirement.apply(A);
    const handle = h.series({ route: 'ns/a' });
    handle.observe(0.5);
    h.observe({ route: 'ns/b' }, 2);
    await retirement.apply(B_ONLY);
    clock.t = 10;
    await retirement.sweep();
    const text = await registry.metrics();
    expect(text).not.toContain('route="ns/a"');
    expect(text).toContain('h_seconds_count{route="ns/b"} 1');
    handle.observe(0.5);
    expect(await registry.metrics()).toContain('h_seconds_count{route="ns/a"} 1');
  });

  it('retires series of plain prom-client counters and gauges', async () => {
    const retirement = new SeriesRetirement(0);
    const registry = new Registry();
    const counter = new Counter({ name: 'p_total', help: 'h', labelNames: ['destination'] as const, registers: [registry] });
    const gauge = new Gauge({ name: 'g', help: 'h', labelNames: ['budget'] as const, registers: [registry] });
    retirement.track(retirablePromMetric(counter), retirablePromMetric(gauge));
    counter.inc({ destination: 'ns/p/kept' });
    counter.inc({ destination: 'ns/p/gone' });
    gauge.set({ budget: 'ns/gone' }, 1);
    await retirement.apply(snapshot({ dataPolicies: [{ id: 'ns/p', destinations: ['kept'] }] }));
    const text = await registry.metrics();
    expect(text).toContain('p_total{destination="ns/p/kept"} 1');
    expect(text).not.toContain('gone');
  });
});
