import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BudgetConfig } from '../../dataplane/config/snapshot.js';
import type { KubeObject } from '../kube/kube-client.js';
import { UsageAggregator } from './usage-aggregator.js';

const budget: BudgetConfig = {
  id: 'team-a/monthly',
  unit: 'USD',
  amount: 10,
  period: 'Month',
  timeZone: 'UTC',
  subjects: { namespaces: ['team-a'], serviceAccounts: [], apiKeys: [], routes: [] },
  action: { type: 'Reject', cutStreams: false },
  thresholds: [50, 100],
};

/** `status` is what the API server holds; `cached`, what the informer shows (default: the same). */
function setup(status: Record<string, unknown> = {}, failWrites = false, config: BudgetConfig = budget, clock = { now: Date.parse('2026-11-15T12:00:00Z') }, cached = status) {
  const writes: Record<string, unknown>[] = [];
  const object = (st: Record<string, unknown>) => ({ metadata: { name: 'monthly', namespace: 'team-a' }, ...{ status: st } }) as KubeObject;
  const objects = new Map<string, KubeObject>([['team-a/monthly', object(cached)]]);
  const aggregator = new UsageAggregator({
    client: {
      request: async <T>(method: string, _p: string, body?: unknown): Promise<T> => {
        if (method === 'GET') return { items: [object(status)] } as T;
        if (failWrites) throw new Error('apiserver down');
        writes.push((body as { status: Record<string, unknown> }).status);
        return {} as T;
      },
    },
    budgetObjects: () => objects,
    budgetConfigs: () => [config],
    replicas: () => 3,
    logger: pino({ level: 'silent' }),
    now: () => clock.now,
  });
  return { aggregator, writes };
}

const rec = (seq: number, costUsd: number) => ({ seq, at: Date.parse('2026-11-15T11:59:00Z'), costUsd, tokens: 10, budgetIds: ['team-a/monthly'] });

describe('UsageAggregator', () => {
  it('counts each (pod, sequence) once, even when a report is resent', async () => {
    const { aggregator, writes } = setup();
    const first = await aggregator.handle({ pod: 'p1', records: [rec(1, 1.25), rec(2, 0.75)] });
    expect(first).toMatchObject({ ackedThrough: 2, replicas: 3, budgets: { 'team-a/monthly': { spent: 2, appliedThrough: { p1: 2 } } } });
    const resent = await aggregator.handle({ pod: 'p1', records: [rec(2, 0.75), rec(3, 1)] });
    expect(resent.budgets['team-a/monthly']?.spent).toBe(3);
    expect(writes.at(-1)).toMatchObject({ spent: 3, remaining: 7, periodStart: '2026-11-01T00:00:00Z', resetsAt: '2026-12-01T00:00:00Z', appliedThrough: { p1: 3 } });
  });

  it('resumes from persisted status after an operator restart without double counting', async () => {
    const { aggregator } = setup({ spent: 4, periodStart: '2026-11-01T00:00:00Z', appliedThrough: { p1: 7 } });
    const answer = await aggregator.handle({ pod: 'p1', records: [rec(7, 1), rec(8, 2)] });
    expect(answer.budgets['team-a/monthly']?.spent).toBe(6);
  });

  // On a real node: the leader was deleted under load and the new one started from its informer's
  // older status, so what the old leader counted last was lost (Budget.status below the usage).
  it('a new leader starts from the status the API server holds, not from a stale informer copy', async () => {
    const { aggregator } = setup({ spent: 4, periodStart: '2026-11-01T00:00:00Z', appliedThrough: { p1: 7 } }, false, budget, undefined, { spent: 1, periodStart: '2026-11-01T00:00:00Z', appliedThrough: { p1: 3 } });
    const answer = await aggregator.handle({ pod: 'p1', records: [rec(8, 2)] });
    expect(answer.budgets['team-a/monthly']).toMatchObject({ spent: 6, appliedThrough: { p1: 8 } });
  });

  it('starts a new period at zero', async () => {
    const { aggregator } = setup({ spent: 9, periodStart: '2026-10-01T00:00:00Z', appliedThrough: { p1: 7 } });
    const answer = await aggregator.handle({ pod: 'p1', records: [rec(8, 1)] });
    expect(answer.budgets['team-a/monthly']?.spent).toBe(1);
  });

  it('does not acknowledge what it could not persist', async () => {
    const { aggregator } = setup({}, true);
    await expect(aggregator.handle({ pod: 'p1', records: [rec(1, 1)] })).rejects.toThrow(/apiserver down/);
  });

  it('keeps a rolling window in buckets: spend leaves the window as time passes', async () => {
    const rolling: BudgetConfig = { ...budget, period: 'Rolling', windowMs: 3_600_000 };
    const clock = { now: Date.parse('2026-11-15T12:00:00Z') };
    const { aggregator, writes } = setup({}, false, rolling, clock);
    const at = (iso: string, seq: number, usd: number) => ({ seq, at: Date.parse(iso), costUsd: usd, tokens: 1, budgetIds: ['team-a/monthly'] });
    await aggregator.handle({ pod: 'p1', records: [at('2026-11-15T11:10:00Z', 1, 2), at('2026-11-15T11:55:00Z', 2, 3)] });
    expect(writes.at(-1)).toMatchObject({ spent: 5, resetsAt: null });
    expect((writes.at(-1)?.buckets as unknown[]).length).toBe(2);
    clock.now = Date.parse('2026-11-15T12:20:00Z'); // the 11:10 spend has left the hour
    const later = await aggregator.handle({ pod: 'p1', records: [] });
    expect(later.budgets['team-a/monthly']?.spent).toBe(3);
    clock.now = Date.parse('2026-11-15T13:10:00Z');
    expect((await aggregator.handle({ pod: 'p1', records: [] })).budgets['team-a/monthly']?.spent).toBe(0);
  });

  it('reports the condition with the Event to record when its reason changes (healthy is Normal, exhausted a Warning)', async () => {
    const { aggregator } = setup();
    expect(aggregator.thresholdCondition(budget, 1)).toMatchObject({ status: 'False', reason: 'BelowThresholds', event: { type: 'Normal' } });
    await aggregator.handle({ pod: 'p1', records: [rec(1, 6)] });
    expect(aggregator.thresholdCondition(budget, 1)).toMatchObject({
      status: 'True',
      reason: 'Reached50Percent',
      event: { type: 'Normal', reason: 'BudgetThresholdReached', message: 'at least 50% of the limit of 10 USD spent: 6 of 10 USD spent (60%)' },
    });
    await aggregator.handle({ pod: 'p1', records: [rec(2, 5)] });
    expect(aggregator.thresholdCondition(budget, 1)).toMatchObject({ type: 'ThresholdReached', status: 'True', reason: 'Exhausted', event: { type: 'Warning', reason: 'BudgetExhausted' } });
    // A lowered limit crosses thresholds without any spend.
    expect(aggregator.thresholdCondition({ ...budget, amount: 12 }, 2)).toMatchObject({ reason: 'Reached50Percent' });
  });
});
