import { type Logger, pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BudgetConfig } from '../../dataplane/config/snapshot.js';
import { StatusWriter } from '../controller/status-writer.js';
import { KubeError, type KubeObject } from '../kube/kube-client.js';
import { FORGET_PODS_AFTER_MS, MAX_APPLIED_PODS, StaleBudgetStateError, UsageAggregator, type UsageAggregatorOptions } from './usage-aggregator.js';

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
function setup(
  status: Record<string, unknown> = {},
  failWrites = false,
  config: BudgetConfig = budget,
  clock = { now: Date.parse('2026-11-15T12:00:00Z') },
  cached = status,
  extra: Pick<UsageAggregatorOptions, 'events' | 'onLateRecord' | 'rank'> = {},
) {
  const writes: Record<string, unknown>[] = [];
  const object = (st: Record<string, unknown>) => ({ metadata: { name: 'monthly', namespace: 'team-a' }, ...{ status: st } }) as KubeObject;
  const objects = new Map<string, KubeObject>([['team-a/monthly', object(cached)]]);
  const aggregator = new UsageAggregator({
    client: {
      request: async <T>(method: string, _p: string, body?: unknown): Promise<T> => {
        if (method === 'GET') return { items: [object(status)] } as T;
        if (failWrites) throw new Error('apiserver down');
        writes.push((body as { status: Record<string, unknown> }).status);
        return object(writes.at(-1) ?? {}) as T;
      },
    },
    budgetObjects: () => objects,
    budgetConfigs: () => [config],
    replicas: () => 3,
    logger: pino({ level: 'silent' }),
    ...extra,
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

  // Pod names come from reports: a name that is also an Object.prototype member must count like any other.
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('counts each sequence of a pod named %s once', async (pod) => {
    const { aggregator, writes } = setup();
    await aggregator.handle({ pod, records: [rec(1, 1.25), rec(2, 0.75)] });
    const resent = await aggregator.handle({ pod, records: [rec(2, 0.75), rec(3, 1)] });
    expect(resent.budgets['team-a/monthly']?.spent).toBe(3);
    expect(resent.budgets['team-a/monthly']?.appliedThrough).toEqual(JSON.parse(`{"${pod}":3}`));
    expect((writes.at(-1)?.appliedThrough as Record<string, number>)[pod]).toBe(3);
    expect(Object.keys(writes.at(-1)?.appliedThrough as object)).toEqual([pod]);
  });

  it('resumes a pod named __proto__ from persisted status without double counting', async () => {
    const { aggregator } = setup(JSON.parse('{"spent":4,"periodStart":"2026-11-01T00:00:00Z","appliedThrough":{"__proto__":7}}') as Record<string, unknown>);
    const answer = await aggregator.handle({ pod: '__proto__', records: [rec(7, 1), rec(8, 2)] });
    expect(answer.budgets['team-a/monthly']?.spent).toBe(6);
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

  it("carries the period's spend over when spec.timeZone is edited mid-period, while leading and after a restart", async () => {
    const november = { spent: 4, periodStart: '2026-11-01T00:00:00Z', resetsAt: '2026-12-01T00:00:00Z', unit: 'USD', appliedThrough: { p1: 7 } };
    // Edited while this operator leads: its loaded state moves to the new period with the spend.
    const config = { ...budget };
    const leading = setup(november, false, config);
    await leading.aggregator.handle({ pod: 'p1', records: [rec(8, 1)] });
    config.timeZone = 'Europe/Berlin';
    const answer = await leading.aggregator.handle({ pod: 'p1', records: [rec(9, 2)] });
    expect(answer.budgets['team-a/monthly']).toMatchObject({ spent: 7, periodStart: Date.parse('2026-10-31T23:00:00Z') });
    expect(leading.writes.at(-1)).toMatchObject({ spent: 7, periodStart: '2026-10-31T23:00:00Z', resetsAt: '2026-11-30T23:00:00Z', unit: 'USD' });
    // Edited while no operator led: the next one reads the UTC period from status.
    const restarted = setup(november, false, { ...budget, timeZone: 'Etc/GMT+1' });
    await expect(restarted.aggregator.handle({ pod: 'p1', records: [rec(8, 1)] })).resolves.toMatchObject({ budgets: { 'team-a/monthly': { spent: 5 } } });
    // The period that follows does not overlap: a rollover still starts at zero.
    const clock = { now: Date.parse('2026-11-15T12:00:00Z') };
    const rolled = setup(november, false, { ...budget, timeZone: 'Europe/Berlin' }, clock);
    await rolled.aggregator.handle({ pod: 'p1', records: [] });
    clock.now = Date.parse('2026-12-01T00:00:00Z');
    await expect(rolled.aggregator.handle({ pod: 'p1', records: [] })).resolves.toMatchObject({ budgets: { 'team-a/monthly': { spent: 0 } } });
  });

  it('starts again at zero, with a Warning Event, when spec.limit.unit changes: USD is not read as tokens', async () => {
    const events: string[] = [];
    const record: UsageAggregatorOptions['events'] = { record: async (_o, type, reason, message) => void events.push(`${type} ${reason}: ${message}`) };
    const config: BudgetConfig = { ...budget };
    const { aggregator, writes } = setup({ spent: 4, periodStart: '2026-11-01T00:00:00Z', resetsAt: '2026-12-01T00:00:00Z', unit: 'USD', appliedThrough: {} }, false, config, undefined, undefined, { events: record });
    await aggregator.handle({ pod: 'p1', records: [rec(1, 1)] });
    config.unit = 'Tokens';
    config.amount = 10_000;
    const answer = await aggregator.handle({ pod: 'p1', records: [rec(2, 1)] }); // 10 tokens
    expect(answer.budgets['team-a/monthly']?.spent).toBe(10);
    expect(writes.at(-1)).toMatchObject({ spent: 10, unit: 'Tokens' });
    expect(events).toEqual(['Warning BudgetSpendReset: spec.limit.unit changed from USD to Tokens: the 5 USD spent this period cannot be counted in Tokens, so the count starts again at 0 Tokens']);
    // A status in USD read by a new leader for a Budget now in tokens: the same.
    const next = setup({ spent: 4, periodStart: '2026-11-01T00:00:00Z', resetsAt: '2026-12-01T00:00:00Z', unit: 'USD', appliedThrough: {} }, false, config, undefined, undefined, { events: record });
    await expect(next.aggregator.handle({ pod: 'p1', records: [] })).resolves.toMatchObject({ budgets: { 'team-a/monthly': { spent: 0 } } });
    expect(events).toHaveLength(2);
  });

  it('counts a record stamped shortly before the period (a pod clock behind, a report across midnight) in the new one, and says what it drops', async () => {
    const clock = { now: Date.parse('2026-12-01T00:00:02Z') };
    const late: string[] = [];
    const status = { spent: 9, periodStart: '2026-11-01T00:00:00Z', resetsAt: '2026-12-01T00:00:00Z', appliedThrough: {} };
    const { aggregator } = setup(status, false, budget, clock, status, { onLateRecord: (result) => void late.push(result) });
    const at = (iso: string, seq: number) => ({ ...rec(seq, 1), at: Date.parse(iso) });
    const answer = await aggregator.handle({ pod: 'p1', records: [at('2026-11-30T23:59:59Z', 1), at('2026-12-01T00:00:01Z', 2), at('2026-11-30T23:50:00Z', 3)] });
    // Acknowledged all three; the one from a second before midnight counted in December, the one from 10 min before dropped.
    expect(answer).toMatchObject({ ackedThrough: 3, budgets: { 'team-a/monthly': { spent: 2 } } });
    expect(late).toEqual(['counted', 'dropped']);
  });

  it('does not acknowledge what it could not persist', async () => {
    const { aggregator } = setup({}, true);
    await expect(aggregator.handle({ pod: 'p1', records: [rec(1, 1)] })).rejects.toThrow(/apiserver down/);
  });

  it('answers each pod with its own appliedThrough only', async () => {
    const { aggregator } = setup({ spent: 4, periodStart: '2026-11-01T00:00:00Z', appliedThrough: { p1: 7, p2: 9, p3: 2 } });
    const answer = await aggregator.handle({ pod: 'p2', records: [rec(10, 1)] });
    expect(answer.budgets['team-a/monthly']?.appliedThrough).toEqual({ p2: 10 });
    expect((await aggregator.handle({ pod: 'p-new', records: [] })).budgets['team-a/monthly']?.appliedThrough).toEqual({});
  });

  // Each data-plane pod start is a new name; before, every one ever stayed in every Budget's status
  // (and in every answer to every pod) until the object passed etcd's size limit.
  it('forgets a pod not heard from for a day, removing it from status; pods that report stay', async () => {
    const clock = { now: Date.parse('2026-11-15T12:00:00Z') };
    const { aggregator, writes } = setup({ spent: 4, periodStart: '2026-11-01T00:00:00Z', appliedThrough: { gone: 7, alive: 3 } }, false, budget, clock);
    await aggregator.handle({ pod: 'alive', records: [rec(4, 1)] });
    expect(writes.at(-1)?.appliedThrough).toEqual({ gone: 7, alive: 4 });
    clock.now += FORGET_PODS_AFTER_MS / 2;
    await aggregator.handle({ pod: 'alive', records: [rec(5, 1)] });
    clock.now += FORGET_PODS_AFTER_MS / 2 + 60_001;
    // No record of its own: a live pod that reports is not forgotten, the silent one is.
    await aggregator.handle({ pod: 'alive', records: [] });
    // A merge patch removes a key only when it sets it to null.
    expect(writes.at(-1)?.appliedThrough).toEqual({ gone: null, alive: 5 });
    expect(writes.at(-1)?.spent).toBe(6);
    await aggregator.handle({ pod: 'alive', records: [rec(6, 1)] });
    expect(writes.at(-1)?.appliedThrough).toEqual({ alive: 6 });
  });

  it('keeps at most MAX_APPLIED_PODS pods, forgetting the least recently heard', async () => {
    const pods = Object.fromEntries(Array.from({ length: MAX_APPLIED_PODS + 5 }, (_, i) => [`p${i}`, 1]));
    const { aggregator, writes } = setup({ spent: 0, periodStart: '2026-11-01T00:00:00Z', appliedThrough: pods });
    const removed = (): string[] => Object.entries(writes.at(-1)?.appliedThrough as Record<string, number | null>).filter(([, seq]) => seq === null).map(([pod]) => pod);
    // p3 reports: the five least recently heard go (all were heard at load, in status order).
    await aggregator.handle({ pod: 'p3', records: [rec(2, 1)] });
    expect(removed()).toEqual(['p0', 'p1', 'p2', 'p4', 'p5']);
    // A new pod: the next least recently heard goes.
    await aggregator.handle({ pod: 'fresh', records: [rec(1, 1)] });
    expect(removed()).toEqual(['p6']);
    const kept = Object.entries(writes.at(-1)?.appliedThrough as Record<string, number | null>).filter(([, seq]) => seq !== null).map(([pod]) => pod);
    expect(kept).toHaveLength(MAX_APPLIED_PODS);
    expect(kept).toEqual(expect.arrayContaining(['p3', 'fresh', 'p7']));
    expect(writes.at(-1)?.spent).toBe(2);
  });

  // Anyone holding the report token could name 1,000 made-up pods in a row: each new name pushed the
  // least recently heard pod out, real or not, and a real pod forgotten while alive has a record
  // whose answer was lost counted twice. Made-up names (rank 0) now push out only each other.
  it('past MAX_APPLIED_PODS forgets names no data-plane pod has before any real pod', async () => {
    const real = Array.from({ length: MAX_APPLIED_PODS - 10 }, (_, i) => `dp-${i}-0000abcd`);
    const { aggregator, writes } = setup(
      { spent: 0, periodStart: '2026-11-01T00:00:00Z', appliedThrough: Object.fromEntries(real.map((pod) => [pod, 1])) },
      false,
      budget,
      undefined,
      undefined,
      { rank: (pod) => (pod.startsWith('dp-') ? 1 : 0) },
    );
    for (let i = 0; i < 200; i++) await aggregator.handle({ pod: `fake-${i}-12345678`, records: [rec(1, 0)] });
    // The real pods are all there; the made-up names hold what is left (10), the most recent.
    const kept = Object.entries(writes.at(-1)?.appliedThrough as Record<string, number | null>).filter(([, seq]) => seq !== null).map(([pod]) => pod);
    expect(kept).toHaveLength(MAX_APPLIED_PODS);
    expect(kept).toEqual(expect.arrayContaining(real));
    expect(kept.filter((pod) => pod.startsWith('fake-'))).toEqual(Array.from({ length: 10 }, (_, i) => `fake-${190 + i}-12345678`));
  });

  it("drops a deleted Budget's state; created again, it is read from status anew", async () => {
    const configs = { list: [budget] };
    const objects = new Map<string, KubeObject>([['team-a/monthly', { metadata: { name: 'monthly', namespace: 'team-a' }, status: {} } as KubeObject]]);
    let status: Record<string, unknown> = { spent: 4, periodStart: '2026-11-01T00:00:00Z', appliedThrough: { p1: 7 } };
    const aggregator = new UsageAggregator({
      client: { request: async <T>(method: string, _p: string, body?: unknown): Promise<T> => (method === 'GET' ? { items: [{ ...objects.get('team-a/monthly'), status }] } : { metadata: {}, status: (body as { status: unknown }).status }) as T },
      budgetObjects: () => objects,
      budgetConfigs: () => configs.list,
      replicas: () => 1,
      logger: pino({ level: 'silent' }),
      now: () => Date.parse('2026-11-15T12:00:00Z'),
    });
    await aggregator.handle({ pod: 'p1', records: [rec(8, 1)] });
    expect(aggregator.budgetsHeld).toBe(1);
    configs.list = [];
    await aggregator.handle({ pod: 'p1', records: [] });
    expect(aggregator.budgetsHeld).toBe(0);
    configs.list = [budget];
    status = { spent: 0, periodStart: '2026-11-01T00:00:00Z', appliedThrough: {} };
    const answer = await aggregator.handle({ pod: 'p1', records: [rec(9, 2)] });
    expect(answer.budgets['team-a/monthly']).toMatchObject({ spent: 2, appliedThrough: { p1: 9 } });
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

  describe('overlapping leaders and lost leadership (a real node: spend below the usage after the leader pod was deleted)', () => {
    const periodStart = '2026-11-01T00:00:00Z';

    /**
     * One Budget as the API server keeps it: each write bumps the resourceVersion, and a merge patch
     * carrying metadata.resourceVersion is refused with 409 once the object has moved on (as the real
     * API server does on the status subresource). holdNextWrite parks the next usage write.
     */
    /** informer: 'behind' shows the status as it was at start (a watch that has not delivered the other writer's write yet). */
    function apiServer(status: Record<string, unknown>, config: BudgetConfig = budget, informer: 'live' | 'behind' = 'live') {
      const stored = { metadata: { name: 'monthly', namespace: 'team-a', resourceVersion: '1' }, status: { ...status } };
      const objects = new Map<string, KubeObject>([['team-a/monthly', informer === 'live' ? stored : structuredClone(stored)]]);
      let hold: { parked: () => void; until: Promise<void> } | undefined;
      const hooks: {
        /** Runs as each usage write reaches the API server, before it is applied (another writer getting there first). */
        beforeUsageWrite?: () => Promise<void>;
        /** The next usage write is applied, but its answer is lost (a timeout, a reset connection). */
        loseNextAnswer?: boolean;
      } = {};
      const client = {
        request: async <T>(method: string, _p: string, body?: unknown, _contentType?: string): Promise<T> => {
          if (method === 'GET') return { items: [structuredClone(stored)] } as T;
          const patch = body as { metadata?: { resourceVersion?: string }; status: Record<string, unknown> };
          const usage = patch.status.spent !== undefined;
          const h = hold;
          if (h !== undefined && usage) {
            hold = undefined;
            h.parked();
            await h.until;
          }
          if (usage) await hooks.beforeUsageWrite?.();
          const wanted = patch.metadata?.resourceVersion;
          if (wanted !== undefined && wanted !== stored.metadata.resourceVersion) throw new KubeError(409, 'the object has been modified');
          const appliedThrough = Object.fromEntries(
            Object.entries({ ...(stored.status.appliedThrough as object | undefined), ...(patch.status.appliedThrough as object | undefined) }).filter(([, seq]) => seq !== null),
          );
          stored.status = { ...stored.status, ...patch.status, appliedThrough }; // a merge patch merges nested objects and removes null keys
          // The API server answers an object's keys sorted, not in the order written.
          const buckets = stored.status.buckets as { start: string; spent: number }[] | undefined;
          if (buckets !== undefined) stored.status.buckets = buckets.map((b) => ({ spent: b.spent, start: b.start }));
          stored.metadata.resourceVersion = String(Number(stored.metadata.resourceVersion) + 1);
          // A live informer delivers every write as a new object, as a watch does.
          if (informer === 'live') objects.set('team-a/monthly', structuredClone(stored));
          if (usage && hooks.loseNextAnswer === true) {
            hooks.loseNextAnswer = false;
            throw new Error('PATCH: This operation was aborted due to timeout');
          }
          return structuredClone(stored) as T;
        },
      };
      return {
        stored,
        client,
        hooks,
        /** An operator replica's aggregator (a leader, old or new). */
        aggregator: (logger = pino({ level: 'silent' }), events?: UsageAggregatorOptions['events']) =>
          new UsageAggregator({
            client,
            budgetObjects: () => objects,
            budgetConfigs: () => [config],
            replicas: () => 2,
            logger,
            ...(events === undefined ? {} : { events }),
            now: () => Date.parse('2026-11-15T12:00:00Z'),
          }),
        holdNextWrite(): { parked: Promise<void>; release: () => void } {
          let release = (): void => undefined;
          let parked = (): void => undefined;
          const until = new Promise<void>((r) => (release = r));
          const reached = new Promise<void>((r) => (parked = r));
          hold = { parked, until };
          return { parked: reached, release };
        },
      };
    }

    it('a report counted into state that is dropped (leadership lost) before its write is not acknowledged', async () => {
      const api = apiServer({ spent: 0, periodStart, appliedThrough: {} });
      const leader = api.aggregator();
      await leader.handle({ pod: 'p1', records: [] });
      const write = api.holdNextWrite();
      const first = leader.handle({ pod: 'p1', records: [rec(1, 1)] });
      await write.parked;
      // A second pod's report counts while the first write is in flight and waits for the next write.
      const second = leader.handle({ pod: 'p2', records: [rec(1, 2)] });
      await new Promise((r) => setTimeout(r, 10));
      leader.reset(); // the Lease is lost (or the pod is stopping): the in-memory state is dropped
      write.release();
      await expect(first).resolves.toMatchObject({ ackedThrough: 1 }); // written before the reset: acknowledged
      await expect(second).rejects.toBeInstanceOf(StaleBudgetStateError); // never written: p2 keeps and resends it
      expect(api.stored.status).toMatchObject({ spent: 1, appliedThrough: { p1: 1 } });
      // The resend to the next leader counts it once.
      await api.aggregator().handle({ pod: 'p2', records: [rec(1, 2)] });
      expect(api.stored.status).toMatchObject({ spent: 3, appliedThrough: { p1: 1, p2: 1 } });
    });

    it('a leader whose state is older than what another leader counted does not overwrite it; the resend counts on a fresh read', async () => {
      const api = apiServer({ spent: 0, periodStart, appliedThrough: {} }, budget, 'behind');
      const next = api.aggregator();
      await next.handle({ pod: 'p2', records: [] }); // the new leader read the Budget ...
      const old = api.aggregator();
      // ... then the old leader, still finishing, counted and acknowledged p1's records.
      await expect(old.handle({ pod: 'p1', records: [rec(1, 1), rec(2, 2)] })).resolves.toMatchObject({ ackedThrough: 2 });
      expect(api.stored.status).toMatchObject({ spent: 3 });
      // The new leader's first write would start from spent 0: refused, not acknowledged.
      await expect(next.handle({ pod: 'p2', records: [rec(1, 4)] })).rejects.toBeInstanceOf(StaleBudgetStateError);
      expect(api.stored.status).toMatchObject({ spent: 3 });
      // p2 resends: counted on top of the old leader's spend. p1's resend of an acknowledged record is not counted again.
      await expect(next.handle({ pod: 'p2', records: [rec(1, 4)] })).resolves.toMatchObject({ ackedThrough: 1 });
      await next.handle({ pod: 'p1', records: [rec(2, 2)] });
      expect(api.stored.status).toMatchObject({ spent: 7, appliedThrough: { p1: 2, p2: 1 } });
    });

    // Two installations watching one namespace both count into its Budget (each its own data planes).
    // One whose pods reported nothing never wrote, so never met a conflict: it answered its pods,
    // and set ThresholdReached from, its own last write, without what the other counted since.
    it('answers its pods the spend another writer counted since, when the informer shows it, without waiting for a conflict', async () => {
      const api = apiServer({ spent: 0, periodStart, appliedThrough: {} });
      const mine = api.aggregator();
      const theirs = api.aggregator();
      await mine.handle({ pod: 'a-1', records: [rec(1, 1)] });
      await theirs.handle({ pod: 'b-1', records: [rec(1, 2)] });
      await theirs.handle({ pod: 'b-1', records: [rec(2, 4)] });
      await expect(mine.handle({ pod: 'a-1', records: [] })).resolves.toMatchObject({ budgets: { 'team-a/monthly': { spent: 7 } } });
      expect(mine.thresholdCondition(budget, undefined)).toMatchObject({ reason: 'Reached50Percent' });
      expect(api.stored.status).toMatchObject({ spent: 7, appliedThrough: { 'a-1': 1, 'b-1': 2 } });
    });

    it('a write of the conditions alone (the reconciler) between two usage writes does not fail the report', async () => {
      const api = apiServer({ spent: 0, periodStart, appliedThrough: {} });
      const leader = api.aggregator();
      await leader.handle({ pod: 'p1', records: [rec(1, 1)] });
      await api.client.request('PATCH', '/status', { status: { conditions: [{ type: 'Programmed', status: 'True' }] } });
      await expect(leader.handle({ pod: 'p1', records: [rec(2, 2)] })).resolves.toMatchObject({ ackedThrough: 2 });
      expect(api.stored.status).toMatchObject({ spent: 3, appliedThrough: { p1: 2 }, conditions: [{ type: 'Programmed' }] });
    });

    /** A logger whose lines the test reads. */
    function captured(): { logger: Logger; lines: () => { msg: string; budget?: string }[] } {
      const out: string[] = [];
      return { logger: pino({ level: 'info' }, { write: (line: string) => void out.push(line) }), lines: () => out.map((l) => JSON.parse(l) as { msg: string; budget?: string }) };
    }
    const droppedForAnotherWriter = (lines: { msg: string }[]): string[] => lines.map((l) => l.msg).filter((m) => /another (operator|writer)/.test(m));

    /** The reconciler's status writer, writing conditions only (as Reconciler.writeStatus does: a merge patch of status, unconditional). */
    function conditionWriter(api: ReturnType<typeof apiServer>) {
      let n = 0;
      const writer = new StatusWriter<{ conditions: { type: string; status: string; reason: string }[] }>({
        write: async (_key, job) => void (await api.client.request('PATCH', '/apis/tollgate.dev/v1alpha1/namespaces/team-a/budgets/monthly/status', { status: job }, 'application/merge-patch+json')),
        canWrite: () => true,
      });
      return async (): Promise<void> => {
        n++;
        writer.replace(new Map([['Budget/team-a/monthly', { conditions: [{ type: 'Programmed', status: n % 2 === 0 ? 'True' : 'False', reason: n % 2 === 0 ? 'Programmed' : 'Pending' }] }]]));
        expect(await writer.idle()).toBeUndefined();
      };
    }

    // The intake's "counted into by another operator" in a single-operator run: a condition write
    // landing between the usage write's read and its write must cost nothing (no resend, no log).
    it('a condition write from the status writer between the read and the usage write: the spend is persisted in the same report, conditions kept, nothing logged', async () => {
      const api = apiServer({ spent: 0, periodStart, appliedThrough: {} });
      const log = captured();
      const leader = api.aggregator(log.logger);
      const writeConditions = conditionWriter(api);
      // Each of the first four usage writes finds the conditions rewritten since it read the Budget
      // (Programmed flapping Pending/True while pods take a snapshot): more than the three re-reads allowed before.
      let raced = 0;
      api.hooks.beforeUsageWrite = async () => {
        if (raced++ < 4) await writeConditions();
      };
      await expect(leader.handle({ pod: 'p1', records: [rec(1, 1), rec(2, 2)] })).resolves.toMatchObject({ ackedThrough: 2, budgets: { 'team-a/monthly': { spent: 3 } } });
      expect(api.stored.status).toMatchObject({ spent: 3, appliedThrough: { p1: 2 }, conditions: [{ type: 'Programmed', status: 'True' }] });
      // And the other way round: a condition write after the usage write leaves the spend.
      await writeConditions();
      expect(api.stored.status).toMatchObject({ spent: 3, remaining: 7, appliedThrough: { p1: 2 }, conditions: [{ type: 'Programmed', status: 'False' }] });
      expect(droppedForAnotherWriter(log.lines())).toEqual([]);
    });

    it('conditions rewritten under every usage write: the report fails, but the state is kept (no resend, nothing dropped) and the next write persists it', async () => {
      const api = apiServer({ spent: 0, periodStart, appliedThrough: {} });
      const log = captured();
      const leader = api.aggregator(log.logger);
      const writeConditions = conditionWriter(api);
      let racing = true;
      api.hooks.beforeUsageWrite = async () => {
        if (racing) await writeConditions();
      };
      const failed = await leader.handle({ pod: 'p1', records: [rec(1, 1)] }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(Error);
      expect(failed).not.toBeInstanceOf(StaleBudgetStateError);
      expect(api.stored.status).toMatchObject({ spent: 0 });
      racing = false;
      // The next report (here p2's) writes p1's record too: p1's resend is a duplicate, acknowledged without a write.
      await expect(leader.handle({ pod: 'p2', records: [rec(1, 2)] })).resolves.toMatchObject({ ackedThrough: 1, budgets: { 'team-a/monthly': { spent: 3 } } });
      expect(api.stored.status).toMatchObject({ spent: 3, appliedThrough: { p1: 1, p2: 1 } });
      await expect(leader.handle({ pod: 'p1', records: [rec(1, 1)] })).resolves.toMatchObject({ ackedThrough: 1, budgets: { 'team-a/monthly': { spent: 3 } } });
      expect(droppedForAnotherWriter(log.lines())).toEqual([]);
    });

    it("a usage write applied whose answer was lost is known for this operator's own on the next write: persisted at once, nothing counted twice, nothing logged", async () => {
      const api = apiServer({ spent: 0, periodStart, appliedThrough: {} });
      const log = captured();
      const leader = api.aggregator(log.logger);
      await leader.handle({ pod: 'p1', records: [] });
      api.hooks.loseNextAnswer = true;
      await expect(leader.handle({ pod: 'p1', records: [rec(1, 1)] })).rejects.toThrow(/timeout/);
      expect(api.stored.status).toMatchObject({ spent: 1, appliedThrough: { p1: 1 } }); // applied all the same
      // The status writer writes conditions meanwhile: the next usage write conflicts twice over.
      await conditionWriter(api)();
      // p1 resends its unacknowledged record with a new one: counted once, persisted in this report.
      await expect(leader.handle({ pod: 'p1', records: [rec(1, 1), rec(2, 2)] })).resolves.toMatchObject({ ackedThrough: 2, budgets: { 'team-a/monthly': { spent: 3 } } });
      expect(api.stored.status).toMatchObject({ spent: 3, appliedThrough: { p1: 2 } });
      expect(droppedForAnotherWriter(log.lines())).toEqual([]);
    });

    it("the same for a rolling window, whose buckets the API server answers with their keys in another order", async () => {
      const api = apiServer({}, { ...budget, period: 'Rolling', windowMs: 3_600_000 });
      const log = captured();
      const leader = api.aggregator(log.logger);
      await leader.handle({ pod: 'p1', records: [rec(1, 1)] });
      api.hooks.loseNextAnswer = true;
      await expect(leader.handle({ pod: 'p1', records: [rec(2, 2)] })).rejects.toThrow(/timeout/);
      await expect(leader.handle({ pod: 'p1', records: [rec(2, 2), rec(3, 4)] })).resolves.toMatchObject({ ackedThrough: 3, budgets: { 'team-a/monthly': { spent: 7 } } });
      expect(api.stored.status).toMatchObject({ spent: 7, appliedThrough: { p1: 3 } });
      expect(droppedForAnotherWriter(log.lines())).toEqual([]);
    });

    // Each aggregator that read the Budget in the old unit announced the reset as it read it, before
    // any write: two installations whose data planes count into one Budget (or one leader whose
    // first write met another writer's and read the Budget again) said it twice for one reset.
    it('announces a spend reset by a unit change once: by the writer whose write moved status.unit, not by each reader', async () => {
      const api = apiServer({ spent: 4, periodStart, resetsAt: '2026-12-01T00:00:00Z', unit: 'USD', appliedThrough: {} }, { ...budget, unit: 'Tokens', amount: 10_000 });
      const events: string[] = [];
      const record: UsageAggregatorOptions['events'] = { record: async (_o, type, reason) => void events.push(`${type} ${reason}`) };
      const first = api.aggregator(undefined, record);
      const second = api.aggregator(undefined, record);
      // Both read the Budget in USD; the first one's write waits while the second one's lands.
      const write = api.holdNextWrite();
      const parked = first.handle({ pod: 'a-1', records: [rec(1, 1)] });
      await write.parked;
      await expect(second.handle({ pod: 'b-1', records: [rec(1, 1)] })).resolves.toMatchObject({ budgets: { 'team-a/monthly': { spent: 10 } } });
      write.release();
      await expect(parked).rejects.toBeInstanceOf(StaleBudgetStateError);
      // The resend counts on a fresh read, which finds the Budget in tokens already.
      await expect(first.handle({ pod: 'a-1', records: [rec(1, 1)] })).resolves.toMatchObject({ budgets: { 'team-a/monthly': { spent: 20 } } });
      expect(api.stored.status).toMatchObject({ spent: 20, unit: 'Tokens' });
      await new Promise((r) => setImmediate(r));
      expect(events).toEqual(['Warning BudgetSpendReset']);
    });

    it('does not announce a reset whose write failed; the write that lands announces it', async () => {
      const api = apiServer({ spent: 4, periodStart, resetsAt: '2026-12-01T00:00:00Z', unit: 'USD', appliedThrough: {} }, { ...budget, unit: 'Tokens', amount: 10_000 });
      const events: string[] = [];
      const leader = api.aggregator(undefined, { record: async (_o, _t, reason) => void events.push(reason) });
      let refuse = true;
      api.hooks.beforeUsageWrite = async () => {
        if (refuse) throw new Error('apiserver down');
      };
      await expect(leader.handle({ pod: 'p1', records: [rec(1, 1)] })).rejects.toThrow(/apiserver down/);
      leader.reset(); // and the Lease is lost: the next leader reads the Budget, still in USD
      refuse = false;
      const next = api.aggregator(undefined, { record: async (_o, _t, reason) => void events.push(reason) });
      await next.handle({ pod: 'p1', records: [rec(1, 1)] });
      await next.handle({ pod: 'p1', records: [rec(2, 1)] });
      expect(api.stored.status).toMatchObject({ spent: 20, unit: 'Tokens' });
      await new Promise((r) => setImmediate(r));
      expect(events).toEqual(['BudgetSpendReset']);
    });

    it('says which counted fields another writer changed when it drops its state (an edit of appliedThrough, as by kubectl patch)', async () => {
      const api = apiServer({ spent: 0, periodStart, appliedThrough: {} }, budget, 'behind');
      const log = captured();
      const leader = api.aggregator(log.logger);
      await leader.handle({ pod: 'p1', records: [rec(1, 1)] });
      await api.client.request('PATCH', '/status', { status: { appliedThrough: { 'gone-1': 1, 'gone-2': 1 } } });
      await expect(leader.handle({ pod: 'p1', records: [rec(2, 2)] })).rejects.toBeInstanceOf(StaleBudgetStateError);
      const dropped = log.lines().filter((l) => /another writer/.test(l.msg));
      expect(dropped).toHaveLength(1);
      expect(dropped[0]).toMatchObject({ budget: 'team-a/monthly', changed: ['appliedThrough'], persisted: { spent: 1, pods: 1 }, found: { spent: 1, pods: 3 } });
      // The resend counts on a fresh read.
      await expect(leader.handle({ pod: 'p1', records: [rec(2, 2)] })).resolves.toMatchObject({ ackedThrough: 2 });
      expect(api.stored.status).toMatchObject({ spent: 3, appliedThrough: { p1: 2, 'gone-1': 1, 'gone-2': 1 } });
    });
  });
});
