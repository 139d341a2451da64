import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exactBudgetCandidates, exactBudgetKeys, HELD_TOTAL, MIRROR_SWEEP_LIMIT, REFRESH_BATCH, RESERVE_SWEEP_LIMIT } from '../../dataplane/config/exact-budget-ledger.js';
import { ExactBudgetAdmitter } from '../../dataplane/governance/budget/exact-budget-admitter.js';
import { createRedisClient, waitReady } from '../../dataplane/governance/rate-limit/redis-client.js';
import type { AdmissionRequest } from '../../dataplane/governance/types.js';
import { testBudget, testCaller, testRequest, testRoute } from '../../dataplane/governance/budget/test-support.js';
import { ExactBudgetMirror } from '../../operator/budgets/exact-budget-mirror.js';
import type { KubeObject } from '../../operator/kube/kube-client.js';
import { RedisTestServer } from './redis-server.js';
import { V1_MIRROR_READ_SCRIPT, V1_RESERVE_SCRIPT, V1_SETTLE_SCRIPT } from './exact-ledger-v1.js';

// Issue 20: an exact budget mode whose spend survives a SIGKILLed pod (holds written before the upstream call).
let server: RedisTestServer;
let admin: Redis;
const clients: Redis[] = [];
const NOW = Date.parse('2026-11-15T12:00:00Z');
const clock = { now: NOW };

const budget = testBudget({ id: 'team-a/monthly', period: 'Month', thresholds: [50, 100] });
// 100 prompt + 300 output tokens hold $0.40 on the test route.
const ask: AdmissionRequest = { caller: testCaller, route: testRoute, req: testRequest, promptTokens: 100, maxOutputTokens: 300, budgets: [budget] };
const usage = (costUsd: number) => ({ usage: { inputTokens: 100, outputTokens: 50, cachedInputTokens: 0 }, costUsd });

/** One data-plane pod: its own connection and reservation names, as in production. */
async function pod(name: string): Promise<ExactBudgetAdmitter> {
  const client = createRedisClient({ url: server.url, timeoutMs: 500 });
  clients.push(client);
  await waitReady(client, 5000);
  return new ExactBudgetAdmitter({ client, keyPrefix: 'tollgate:', pod: name, holdTimeoutMs: 30_000, logger: pino({ level: 'silent' }), now: () => clock.now, periodClock: () => clock.now });
}

/** A pod whose own clock says `now`, its periods and hold deadlines picked by Redis's clock as in production. */
async function podAt(name: string, now: () => number, holdTimeoutMs = 30_000): Promise<ExactBudgetAdmitter> {
  const client = createRedisClient({ url: server.url, timeoutMs: 500 });
  clients.push(client);
  await waitReady(client, 5000);
  return new ExactBudgetAdmitter({ client, keyPrefix: 'tollgate:', pod: name, holdTimeoutMs, logger: pino({ level: 'silent' }), now });
}

const redisTime = async (): Promise<number> => {
  const [seconds, micros] = await admin.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
};

/**
 * The operator's mirror over one Budget object, with an API server that applies its status writes
 * to `status` (which the test reads back).
 */
function mirrorOver(
  config: () => ReturnType<typeof testBudget>,
  name: string,
  initial: Record<string, unknown>,
  extra: { installation?: string; events?: { reason: string; message: string }[]; redisClock?: boolean } = {},
): { mirror: ExactBudgetMirror; status: Record<string, unknown> } {
  const status = { ...initial };
  const object = (): KubeObject => ({ metadata: { name, namespace: 'team-a' }, status }) as KubeObject;
  const mirror = new ExactBudgetMirror({
    redis: admin,
    keyPrefix: 'tollgate:',
    client: {
      request: async <T>(_m: string, _p: string, body?: unknown): Promise<T> => {
        Object.assign(status, (body as { status: Record<string, unknown> }).status);
        return object() as T;
      },
    },
    budgetObjects: () => new Map([[config().id, object()]]),
    budgetConfigs: () => [config()],
    isLeader: () => true,
    logger: pino({ level: 'silent' }),
    ...(extra.installation === undefined ? {} : { installation: extra.installation }),
    events: { record: async (_o, _t, reason, message) => void extra.events?.push({ reason, message }) },
    ...(extra.redisClock === true ? {} : { now: () => clock.now }),
  });
  return { mirror, status };
}

const spentInRedis = async (): Promise<number> => Number((await admin.get(exactBudgetKeys('tollgate:', budget, clock.now).keys[0] ?? '')) ?? 0);

beforeAll(async () => {
  server = await RedisTestServer.start();
  admin = new Redis(server.url);
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  admin.disconnect();
  await server.destroy();
});

describe('exact budgets in Redis', () => {
  it('holds the worst case across pods before the call and charges the real amount after', async () => {
    await admin.flushall();
    const [a, b] = [await pod('a'), await pod('b')];
    const first = await a.admit(ask);
    const second = await b.admit(ask);
    // 0.80 held across both pods: a third worst case of 0.40 does not fit in 1 USD, on either pod.
    await expect(a.admit(ask)).rejects.toThrow(/cannot cover this request's worst case: it would hold 0.4000 USD .* only 0.2000 USD are available: 0.0000 of 1 USD spent this period, 1.0000 left, less 0.8000 held for requests in flight; set max_tokens/);
    first.settle(usage(0.15));
    second.settle({ usage: undefined, costUsd: 0 });
    await a.stop();
    await b.stop();
    expect(await spentInRedis()).toBeCloseTo(0.15, 9);
    await (await a.admit(ask)).settle(usage(0.5));
    await a.stop();
    await expect(b.admit(ask)).rejects.toThrow(/budget team-a\/monthly (is exhausted|cannot cover)/);
  });

  it('charges part of an admission at once (a Realtime response as it ends), on top of its hold, and its settle adds only what it is given', async () => {
    await admin.flushall();
    const p = await pod('a');
    const connection = await p.admit({ ...ask, promptTokens: 0, maxOutputTokens: 0 });
    connection.charge(usage(0.35));
    connection.charge(usage(0.35));
    await p.stop();
    expect(await spentInRedis()).toBeCloseTo(0.7, 9);
    // 0.7 of 1 spent: a worst case of 0.40 does not fit.
    await expect(p.admit(ask)).rejects.toMatchObject({ status: 429 });
    connection.settle({ usage: undefined, costUsd: 0 });
    connection.charge(usage(0.35));
    await p.stop();
    expect(await spentInRedis()).toBeCloseTo(0.7, 9);
  });

  it("charges a dead pod's holds at their worst case once they expire, and a late settle corrects the charge", async () => {
    await admin.flushall();
    const dead = await pod('dead');
    const alive = await pod('alive');
    await dead.admit(ask); // its pod is killed: never settled, never refreshed
    const slow = await alive.admit(ask);
    clock.now += 31_000; // past the hold timeout of both: the alive pod's refresh did not run in this fake time
    const mirrorWrites: Record<string, unknown>[] = [];
    const object = { metadata: { name: 'monthly', namespace: 'team-a' } } as KubeObject;
    const mirror = new ExactBudgetMirror({
      redis: admin,
      keyPrefix: 'tollgate:',
      client: { request: async <T>(_m: string, _p: string, body?: unknown): Promise<T> => (mirrorWrites.push((body as { status: Record<string, unknown> }).status), {} as T) },
      budgetObjects: () => new Map([[budget.id, object]]),
      budgetConfigs: () => [budget],
      isLeader: () => true,
      logger: pino({ level: 'silent' }),
      now: () => clock.now,
    });
    await mirror.sync();
    // Both holds were charged at their worst case: the ledger never counts less than was served.
    expect(mirrorWrites.at(-1)).toMatchObject({ spent: 0.8, remaining: 0.2, periodStart: '2026-11-01T00:00:00Z', resetsAt: '2026-12-01T00:00:00Z' });
    slow.settle(usage(0.1)); // the slow pod was alive after all: its real amount replaces the worst case
    await alive.stop();
    expect(await spentInRedis()).toBeCloseTo(0.5, 9);
    clock.now = NOW;
  });

  it("never lets Redis hold less than Budget.status for the period: a switch from the reported mode, a Redis restart, an evicted key", async () => {
    await admin.flushall();
    const big = testBudget({ id: 'team-a/switched', amount: 9.9, period: 'Month' });
    const askBig = { ...ask, budgets: [big] };
    // Counted in the reported mode until the switch on the 15th: $9.50 of $9.90.
    const { mirror, status } = mirrorOver(() => big, 'switched', { spent: 9.5, remaining: 0.5, periodStart: '2026-11-01T00:00:00Z' });
    const p = await pod('switched');
    const spendOnce = async (): Promise<void> => {
      (await p.admit(askBig)).settle(usage(0.1));
      await p.stop();
    };
    // A pod charges before the operator's first pass: Redis had nothing of the month.
    await spendOnce();
    await mirror.sync();
    expect(status.spent).toBeCloseTo(9.6, 9);
    // A worst case of $0.40 no longer fits in the $0.30 left.
    await expect(p.admit(askBig)).rejects.toMatchObject({ status: 429 });
    // Redis restarts without persistence (every key gone), and a pod charges again before the operator notices.
    await admin.flushall();
    await spendOnce();
    await mirror.sync();
    expect(status.spent).toBeCloseTo(9.7, 9);
    // Only the spent key is evicted: raised back to the status, and the status is not written lower.
    await admin.del(exactBudgetKeys('tollgate:', big, clock.now).keys[0] ?? '');
    await mirror.sync();
    expect(status.spent).toBeCloseTo(9.7, 9);
    await expect(p.admit(askBig)).rejects.toMatchObject({ status: 429 });
    // An upgrade from an operator without the marker: keys that came through are not counted twice.
    await admin.del(exactBudgetKeys('tollgate:', big, clock.now).seededKey);
    await mirror.sync();
    expect(status.spent).toBeCloseTo(9.7, 9);
  });

  // Two installations watching one namespace, each with its own Redis: both mirrors wrote the one
  // status.spent, each over the other every second, and each raised its ledger to the other's spend.
  it("leaves a Budget another installation's status names to that installation: no spend written, no floor taken from it, one Event and a condition", async () => {
    await admin.flushall();
    const events: { reason: string; message: string }[] = [];
    const initial = { installation: 'team-b/b-operator', spent: 0.9, remaining: 0.1, periodStart: '2026-11-01T00:00:00Z' };
    const { mirror, status } = mirrorOver(() => budget, 'monthly', initial, { installation: 'tollgate-system/tollgate-operator', events });
    (await (await pod('mine')).admit(ask)).settle(usage(0.2));
    await mirror.sync();
    await mirror.sync();
    // Its spend fields as they were; SharedWithAnotherInstallation=True says that this installation's spend is not in them.
    expect(status).toEqual({ ...initial, conditions: [expect.objectContaining({ type: 'SharedWithAnotherInstallation', status: 'True', message: expect.stringContaining('team-b/b-operator') })] });
    // This installation's ledger holds its own spend only, not the other's as a floor.
    expect(await spentInRedis()).toBeCloseTo(0.2, 9);
    expect(events).toEqual([{ reason: 'SharedWithAnotherInstallation', message: expect.stringContaining('team-b/b-operator') }]);
    // Handed over (status.installation removed): mirrored again, the status carried into the ledger
    // once, on top of what this installation charged meanwhile.
    delete (status as { installation?: string }).installation;
    await mirror.sync();
    expect(status.spent).toBeCloseTo(1.1, 9);
  });

  it('carries the spend over when spec.timeZone moves the period, and not into the next period', async () => {
    await admin.flushall();
    let config = testBudget({ id: 'team-a/zoned', amount: 9.9, period: 'Month' });
    const { mirror, status } = mirrorOver(() => config, 'zoned', { spent: 9.5, periodStart: '2026-11-01T00:00:00Z', resetsAt: '2026-12-01T00:00:00Z', unit: 'USD' });
    await mirror.sync();
    config = { ...config, timeZone: 'Europe/Berlin' }; // November now starts an hour earlier: other keys
    await mirror.sync();
    expect(status).toMatchObject({ spent: 9.5, periodStart: '2026-10-31T23:00:00Z', unit: 'USD' });
    expect(Number(await admin.get(exactBudgetKeys('tollgate:', config, clock.now).keys[0] ?? ''))).toBeCloseTo(9.5, 9);
    // A rollover takes nothing over.
    clock.now = Date.parse('2026-12-01T00:00:00Z');
    await mirror.sync();
    expect(status).toMatchObject({ spent: 0, periodStart: '2026-11-30T23:00:00Z' });
    clock.now = NOW;
  });

  // spec.limit.unit changed mid-period: the period's Redis total kept what was charged in the old
  // unit and was read in the new one (600 tokens spent read as $600: the Budget looked exhausted).
  it('starts the count at 0 in the new unit when spec.limit.unit changes mid-period, on the pods and in Budget.status', async () => {
    await admin.flushall();
    let config = testBudget({ id: 'team-a/unit', unit: 'Tokens', amount: 1000, period: 'Month' });
    const events: { reason: string; message: string }[] = [];
    const { mirror, status } = mirrorOver(() => config, 'unit', {}, { events });
    const p = await pod('unit');
    // 100 + 300 tokens held, 150 charged, four times: 600 tokens.
    for (let i = 0; i < 4; i++) (await p.admit({ ...ask, budgets: [config] })).settle(usage(0.1));
    await p.stop();
    await mirror.sync();
    expect(status).toMatchObject({ spent: 600, unit: 'Tokens' });
    config = { ...config, unit: 'USD', amount: 1 };
    // A worst case of $0.40 fits in a fresh $1: the 600 tokens are not read as dollars.
    (await p.admit({ ...ask, budgets: [config] })).settle(usage(0.25));
    await p.stop();
    await mirror.sync();
    expect(status).toMatchObject({ spent: 0.25, remaining: 0.75, unit: 'USD' });
    // Said once, by the write that moved status.unit, as the reported mode does (before: no Event).
    await mirror.sync();
    expect(events).toEqual([{ reason: 'BudgetSpendReset', message: 'spec.limit.unit changed from Tokens to USD: the 600 Tokens spent this period cannot be counted in USD, so the count starts again at 0 USD' }]);
  });

  // A hold and its settle picked the period's keys by the pod's own clock: a pod behind at a
  // rollover charged the new period's first moments to the closed one, and no status showed them.
  it("charges the period Redis's clock is in, whatever the pod's clock says, and the operator mirrors that period", async () => {
    await admin.flushall();
    const day = testBudget({ id: 'team-a/daily', period: 'Day' });
    const today = exactBudgetKeys('tollgate:', day, await redisTime());
    // 2 s behind the start of Redis's day: yesterday by its own clock.
    const behind = await podAt('behind', () => today.periodStart - 2_000);
    (await behind.admit({ ...ask, budgets: [day] })).settle(usage(0.15));
    const connection = await behind.admit({ ...ask, promptTokens: 0, maxOutputTokens: 0, budgets: [day] });
    connection.charge(usage(0.05));
    connection.settle({ usage: undefined, costUsd: 0 });
    // Three days behind (more than half a period): asked again around Redis's clock.
    const far = await podAt('far', () => today.periodStart - 3 * 86_400_000);
    (await far.admit({ ...ask, budgets: [day] })).settle(usage(0.1));
    await behind.stop();
    await far.stop();
    expect(Number(await admin.get(today.keys[0] ?? ''))).toBeCloseTo(0.3, 9);
    expect(await admin.get(exactBudgetKeys('tollgate:', day, today.periodStart - 2_000).keys[0] ?? '')).toBeNull();
    // The operator's mirror picks the period by Redis's clock too.
    const { mirror, status } = mirrorOver(() => day, 'daily', {}, { redisClock: true });
    await mirror.sync();
    expect(status).toMatchObject({ spent: 0.3, periodStart: new Date(today.periodStart).toISOString().replace('.000Z', 'Z') });
  });

  it('charges a request held before a rollover and settled after it to the new period, the one the operator mirrors by then', async () => {
    await admin.flushall();
    const day = testBudget({ id: 'team-a/daily', period: 'Day' });
    const { mirror, status } = mirrorOver(() => day, 'daily', {});
    const p = await pod('rollover');
    const closing = exactBudgetKeys('tollgate:', day, clock.now);
    clock.now = (closing.resetsAt ?? 0) - 1_000;
    const held = await p.admit({ ...ask, budgets: [day] });
    clock.now += 2_000; // Redis's clock is in the next day when the answer ends
    held.settle(usage(0.15));
    await p.stop();
    await mirror.sync();
    expect(status).toMatchObject({ spent: 0.15, periodStart: '2026-11-16T00:00:00Z' });
    // Nothing stays held (or charged) in the closed day.
    expect(await admin.exists(closing.keys[1] ?? '', closing.keys[4] ?? '')).toBe(0);
    expect(await admin.get(closing.keys[0] ?? '')).toBeNull();
    clock.now = NOW;
  });

  // Nothing read a closed period's keys after its rollover: a dead pod's hold from its last moments
  // never expired into any total, and the request it stood for was charged nowhere.
  it("charges a dead pod's hold from before a rollover to the new period once it expires, and a late settle corrects it there", async () => {
    await admin.flushall();
    const day = testBudget({ id: 'team-a/daily', period: 'Day' });
    const { mirror, status } = mirrorOver(() => day, 'daily', {});
    const closing = exactBudgetKeys('tollgate:', day, clock.now);
    clock.now = (closing.resetsAt ?? 0) - 1_000;
    const dead = await pod('dead');
    const slow = await dead.admit({ ...ask, budgets: [day] }); // never refreshed: its pod is presumed dead
    clock.now += 32_000; // past the rollover and the hold timeout
    await mirror.sync();
    expect(status).toMatchObject({ spent: 0.4, periodStart: '2026-11-16T00:00:00Z' });
    const next = exactBudgetKeys('tollgate:', day, clock.now);
    slow.settle(usage(0.15)); // alive after all: its real amount replaces the worst case in the new period
    await dead.stop();
    expect(Number(await admin.get(next.keys[0] ?? ''))).toBeCloseTo(0.15, 9);
    expect(await admin.get(closing.keys[0] ?? '')).toBeNull();
    clock.now = NOW;
  });

  // Hold deadlines were the pod's clock plus the timeout: a pod behind Redis's clock wrote holds
  // already expired (its live requests were charged at their worst case by the next sweep), and a
  // dead pod that had been ahead left its holds uncharged for as long as it was ahead.
  it("expires holds by Redis's clock plus the timeout, whatever the pod's clock says", async () => {
    await admin.flushall();
    const day = testBudget({ id: 'team-a/daily', period: 'Day' });
    const t0 = await redisTime();
    const behind = await podAt('behind', () => t0 - 600_000);
    const ahead = await podAt('ahead', () => t0 + 600_000);
    await behind.admit({ ...ask, budgets: [day] }); // in flight
    await ahead.admit({ ...ask, budgets: [day] }); // its pod is killed: never settled, never refreshed
    const { mirror, status } = mirrorOver(() => day, 'daily', {});
    // A second later by Redis's clock neither hold has expired.
    clock.now = t0 + 1_000;
    await mirror.sync();
    expect(status).toMatchObject({ spent: 0 });
    // Past the timeout by Redis's clock both have, the dead pod's too.
    clock.now = t0 + 31_000;
    await mirror.sync();
    expect(status).toMatchObject({ spent: 0.8 });
    clock.now = NOW;
  });

  it("keeps a skewed pod's live holds from expiring while it refreshes them", async () => {
    await admin.flushall();
    const day = testBudget({ id: 'team-a/daily', period: 'Day' });
    const t0 = await redisTime();
    // Ten minutes behind Redis, its holds refreshed every 200 ms.
    const behind = await podAt('behind', () => Date.now() - 600_000, 600);
    behind.start();
    const held = await behind.admit({ ...ask, budgets: [day] });
    await new Promise((r) => setTimeout(r, 1_500));
    const { mirror, status } = mirrorOver(() => day, 'daily', {}, { redisClock: true });
    await mirror.sync();
    expect(status).toMatchObject({ spent: 0 });
    held.settle(usage(0.15));
    await behind.stop();
    await mirror.sync();
    expect(status).toMatchObject({ spent: 0.15 });
  });

  // Only the operator read a closed period's holds: with the operator down across a rollover, a dead
  // pod's last holds were charged nowhere, and the new period admitted as if they were not there.
  it.each([
    ['32 s', 32_000],
    ['13 hours', 13 * 3_600_000],
  ])("charges a dead pod's hold from before a rollover on a pod's next reserve, %s into the new period, with the operator down", async (_label, into) => {
    await admin.flushall();
    const day = testBudget({ id: 'team-a/daily', period: 'Day' });
    const closing = exactBudgetKeys('tollgate:', day, NOW);
    clock.now = (closing.resetsAt ?? 0) - 1_000;
    const dead = await pod('dead');
    const slow = await dead.admit({ ...ask, budgets: [day] }); // never refreshed: its pod is presumed dead
    clock.now = (closing.resetsAt ?? 0) + into;
    const next = exactBudgetKeys('tollgate:', day, clock.now);
    const p = await pod('next');
    (await p.admit({ ...ask, budgets: [day] })).settle(usage(0.15));
    await p.stop();
    // Its worst case, charged to the new period, beside the new request.
    expect(Number(await admin.get(next.keys[0] ?? ''))).toBeCloseTo(0.55, 9);
    expect(await admin.exists(closing.keys[1] ?? '', closing.keys[4] ?? '')).toBe(0);
    expect(await admin.ttl(next.keys[3] ?? '')).toBeGreaterThan(0);
    // Alive after all: its late settle corrects the charge where it went.
    slow.settle(usage(0.1));
    await dead.stop();
    expect(Number(await admin.get(next.keys[0] ?? ''))).toBeCloseTo(0.25, 9);
    clock.now = NOW;
  });

  it('charges a bounded number of expired holds per reserve, and counts the rest as held meanwhile', async () => {
    await admin.flushall();
    const big = testBudget({ id: 'team-a/big', amount: 48.3, period: 'Month' });
    const dead = await pod('dead');
    const count = RESERVE_SWEEP_LIMIT * 2 + 20;
    // Held while the limit was higher (the same keys: the limit is not part of them).
    for (let i = 0; i < count; i++) await dead.admit({ ...ask, budgets: [{ ...big, amount: 1000 }] });
    clock.now += 31_000;
    const keys = exactBudgetKeys('tollgate:', big, clock.now);
    const p = await pod('alive');
    // Every expired hold still counts against the limit: 120 × 0.40 = 48 of 48.30, no room for 0.40.
    await expect(p.admit({ ...ask, budgets: [big] })).rejects.toMatchObject({ status: 429 });
    expect(Number(await admin.get(keys.keys[0] ?? ''))).toBeCloseTo(RESERVE_SWEEP_LIMIT * 0.4, 9);
    expect(await admin.hlen(keys.keys[4] ?? '')).toBe(count - RESERVE_SWEEP_LIMIT);
    await expect(p.admit({ ...ask, budgets: [big] })).rejects.toMatchObject({ status: 429 });
    await expect(p.admit({ ...ask, budgets: [big] })).rejects.toMatchObject({ status: 429 });
    expect(Number(await admin.get(keys.keys[0] ?? ''))).toBeCloseTo(count * 0.4, 9);
    expect(await admin.exists(keys.keys[1] ?? '', keys.keys[4] ?? '')).toBe(0);
    clock.now = NOW;
  });

  // A sweep in a refused admission (or the operator's read) created the spent and expired keys
  // without a TTL: they outlived their period for ever.
  it('gives the keys a sweep creates a TTL, also in an admission it refuses', async () => {
    await admin.flushall();
    const dead = await pod('dead');
    await dead.admit(ask);
    await dead.admit(ask);
    clock.now += 31_000;
    const keys = exactBudgetKeys('tollgate:', budget, clock.now);
    // 0.80 charged from the dead pod's holds: 0.40 more does not fit in 1 USD.
    await expect((await pod('alive')).admit(ask)).rejects.toMatchObject({ status: 429 });
    expect(await spentInRedis()).toBeCloseTo(0.8, 9);
    expect(await admin.ttl(keys.keys[0] ?? '')).toBeGreaterThan(0);
    expect(await admin.ttl(keys.keys[3] ?? '')).toBeGreaterThan(0);
    clock.now = NOW;
  });

  it("charges a bounded number of expired holds per operator read, the rest at the next", async () => {
    await admin.flushall();
    const big = testBudget({ id: 'team-a/big', amount: 1000, period: 'Month' });
    const keys = exactBudgetKeys('tollgate:', big, clock.now);
    const count = MIRROR_SWEEP_LIMIT + 100;
    const write = admin.pipeline();
    for (let i = 0; i < count; i++) {
      write.hset(keys.keys[1] ?? '', `dead:${i}`, '0.01');
      write.zadd(keys.keys[2] ?? '', clock.now - 1, `dead:${i}`);
    }
    await write.exec();
    const { mirror } = mirrorOver(() => big, 'big', {});
    await mirror.sync();
    expect(Number(await admin.get(keys.keys[0] ?? ''))).toBeCloseTo(MIRROR_SWEEP_LIMIT * 0.01, 9);
    expect(await admin.hlen(keys.keys[1] ?? '')).toBe(100);
    await mirror.sync();
    expect(Number(await admin.get(keys.keys[0] ?? ''))).toBeCloseTo(count * 0.01, 9);
    expect(await admin.hlen(keys.keys[1] ?? '')).toBe(0);
  });

  // One script moved every id of the pod in every deadline set any of its holds was in: holds × sets
  // ZADDs in one call (5,000 requests in flight under 50 Budgets: 250,000).
  it('refreshes each hold in its own deadline set only, in bounded batches', async () => {
    await admin.flushall();
    const p = await pod('busy');
    const budgets = Array.from({ length: 30 }, (_, i) => testBudget({ id: `team-a/b${i}`, amount: 100, period: 'Month' }));
    // 20 holds under each: 600 holds, one deadline set each.
    for (let round = 0; round < 20; round++) for (const b of budgets) await p.admit({ ...ask, budgets: [b] });
    const refresh = (): Promise<void> => (p as unknown as { refresh(): Promise<void> }).refresh();
    await refresh(); // loads the script
    clock.now += 10_000;
    await admin.config('RESETSTAT');
    await refresh();
    const stats = await admin.info('commandstats');
    const calls = (command: string): number => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect(calls('zadd')).toBe(600);
    // At most REFRESH_BATCH holds a script.
    expect(calls('evalsha')).toBe(Math.ceil(600 / REFRESH_BATCH));
    const first = exactBudgetKeys('tollgate:', budgets[0] ?? budget, clock.now);
    expect(Number(await admin.zscore(first.keys[5] ?? '', 'busy:1'))).toBe(clock.now + 30_000);
    clock.now = NOW;
  });

  // The reserve summed every hold of the period (HVALS) to know what was held: each admission's work
  // in Redis grew with the requests in flight under the Budget (O(in-flight²) a second for a busy
  // tenant), all of it while Redis runs nothing else.
  it('admits with the same Redis work whether 1 or 2,000 requests are in flight under the Budget', async () => {
    await admin.flushall();
    const big = testBudget({ id: 'team-a/busy', amount: 100_000, period: 'Month' });
    const keys = exactBudgetKeys('tollgate:', big, clock.now);
    const p = await pod('busy');
    (await p.admit({ ...ask, budgets: [big] })).settle(usage(0)); // loads the scripts
    await p.stop();
    const stats = async (): Promise<Record<string, number>> => {
      const text = await admin.info('commandstats');
      return Object.fromEntries([...text.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map((m) => [m[1] ?? '', Number(m[2])]).filter(([c]) => c !== 'info' && c !== 'config'));
    };
    /** The commands one admission and its settle run, with `inFlight` other holds in flight. */
    const oneRequest = async (): Promise<Record<string, number>> => {
      await admin.config('RESETSTAT');
      (await p.admit({ ...ask, budgets: [big] })).settle(usage(0.1));
      await p.stop();
      return stats();
    };
    await p.admit({ ...ask, budgets: [big] });
    const few = await oneRequest();
    for (let i = 1; i < 2_000; i++) await p.admit({ ...ask, budgets: [big] });
    const many = await oneRequest();
    expect(many).toEqual(few);
    // The one command that reads a whole key (HVALS, of the holds of versions before the total)
    // reads a single field however many holds are in flight: the total.
    expect(few.hvals).toBe(1);
    expect(await admin.hlen(keys.keys[1] ?? '')).toBe(1);
    expect(await admin.hlen(keys.keys[4] ?? '')).toBe(2_000);
    expect(Number(await admin.hget(keys.keys[1] ?? '', HELD_TOTAL))).toBeCloseTo(2_000 * 0.4, 6);
  });

  it('keeps the total of holds exact through settles, expiry sweeps (a reserve\'s, the one before a rollover, the operator\'s) and late settles', async () => {
    await admin.flushall();
    const day = testBudget({ id: 'team-a/daily', amount: 1_000, period: 'Day' });
    const askDay = { ...ask, budgets: [day] };
    const closing = exactBudgetKeys('tollgate:', day, NOW);
    const totalMatches = async (k: { keys: string[] }): Promise<void> => {
      const each = (await admin.hvals(k.keys[4] ?? '')).reduce((sum, v) => sum + Number(v), 0);
      const total = await admin.hget(k.keys[1] ?? '', HELD_TOTAL);
      if (each === 0 && (await admin.hlen(k.keys[4] ?? '')) === 0) expect(total).toBeNull();
      else expect(Number(total)).toBeCloseTo(each, 9);
    };
    clock.now = (closing.resetsAt ?? 0) - 60_000;
    const live = await pod('live');
    const dead = await pod('dead');
    const settles = [];
    for (let i = 0; i < 30; i++) {
      settles.push(await live.admit({ ...askDay, maxOutputTokens: 100 + i }));
      await dead.admit({ ...askDay, maxOutputTokens: 200 + i }); // never settled, never refreshed
    }
    await totalMatches(closing);
    for (const s of settles.slice(0, 10)) s.settle(usage(0.01));
    await live.stop();
    await totalMatches(closing);
    // 31 s on, the dead pod's holds expired; the live pod refreshed its own 2 s before.
    const t0 = clock.now;
    clock.now = t0 + 29_000;
    await (live as unknown as { refresh(): Promise<void> }).refresh();
    clock.now = t0 + 31_000;
    // A reserve charges the 30 expired holds (at most RESERVE_SWEEP_LIMIT) to the closing day.
    (await live.admit(askDay)).settle(usage(0.01));
    await live.stop();
    expect(await admin.hlen(closing.keys[4] ?? '')).toBe(20);
    await totalMatches(closing);
    const worst = (tokens: number[]): number => tokens.reduce((sum, t) => sum + t / 1000, 0);
    const deadWorst = worst(Array.from({ length: 30 }, (_, i) => 300 + i));
    expect(Number(await admin.get(closing.keys[0] ?? ''))).toBeCloseTo(deadWorst + 11 * 0.01, 9);
    // Past the rollover the live pod is gone quiet: the next day's first reserve charges the closed
    // day's 20 expired holds to the new day (the sweep of the period before).
    clock.now = (closing.resetsAt ?? 0) + 60_000;
    const next = exactBudgetKeys('tollgate:', day, clock.now);
    (await live.admit(askDay)).settle(usage(0.01));
    await live.stop();
    expect(await admin.exists(closing.keys[1] ?? '', closing.keys[4] ?? '')).toBe(0);
    const liveWorst = worst(Array.from({ length: 20 }, (_, i) => 210 + i));
    expect(Number(await admin.get(next.keys[0] ?? ''))).toBeCloseTo(liveWorst + 0.01, 9);
    // Holds of a pod that dies in the new day: the operator's read charges them.
    const dead2 = await pod('dead2');
    for (let i = 0; i < 5; i++) await dead2.admit(askDay);
    await totalMatches(next);
    clock.now += 31_000;
    const { mirror, status } = mirrorOver(() => day, 'daily', {});
    await mirror.sync();
    expect(await admin.exists(next.keys[1] ?? '', next.keys[4] ?? '')).toBe(0);
    expect(status.spent).toBeCloseTo(liveWorst + 0.01 + 5 * 0.4, 6);
    // The live pod was alive after all: its late settles correct its worst cases where they went
    // (in Redis: Budget.status, already written, is the period's floor).
    for (const s of settles.slice(10)) s.settle(usage(0.01));
    await live.stop();
    expect(Number(await admin.get(next.keys[0] ?? ''))).toBeCloseTo(20 * 0.01 + 0.01 + 5 * 0.4, 9);
    expect(Number(await admin.get(closing.keys[0] ?? ''))).toBeCloseTo(deadWorst + 11 * 0.01, 9);
    clock.now = NOW;
  });

  it('keeps the total of each Budget a request is held under', async () => {
    await admin.flushall();
    const month = testBudget({ id: 'team-a/month', amount: 10, period: 'Month' });
    const tokens = testBudget({ id: 'team-a/tokens', unit: 'Tokens', amount: 1_000, period: 'Day' });
    const p = await pod('two');
    const [m, t] = [exactBudgetKeys('tollgate:', month, clock.now), exactBudgetKeys('tollgate:', tokens, clock.now)];
    const first = await p.admit({ ...ask, budgets: [month, tokens] });
    const second = await p.admit({ ...ask, budgets: [month, tokens] });
    expect([Number(await admin.hget(m.keys[1] ?? '', HELD_TOTAL)), Number(await admin.hget(t.keys[1] ?? '', HELD_TOTAL))]).toEqual([0.8, 800]);
    // 800 of 1,000 tokens held: a third 400 does not fit.
    await expect(p.admit({ ...ask, budgets: [month, tokens] })).rejects.toThrow(/team-a\/tokens/);
    first.settle(usage(0.1));
    await p.stop();
    expect([Number(await admin.hget(m.keys[1] ?? '', HELD_TOTAL)), Number(await admin.hget(t.keys[1] ?? '', HELD_TOTAL))]).toEqual([0.4, 400]);
    second.settle(usage(0.1));
    await p.stop();
    expect(await admin.exists(m.keys[1] ?? '', t.keys[1] ?? '', m.keys[4] ?? '', t.keys[4] ?? '')).toBe(0);
    expect([Number(await admin.get(m.keys[0] ?? '')), Number(await admin.get(t.keys[0] ?? ''))]).toEqual([0.2, 300]);
  });

  /** A pod of the version before the total (its scripts verbatim), on the same Redis. */
  const oldPod = (name: string) => {
    let seq = 0;
    return {
      reserve: async (b: ReturnType<typeof testBudget>, amount: number): Promise<{ id: string; answer: (number | string)[] }> => {
        const id = `${name}:${++seq}`;
        const c = exactBudgetCandidates('tollgate:', b, clock.now);
        const keys = [...c.periods[0].keys.slice(0, 4), ...c.periods[1].keys.slice(0, 4), ...c.before.slice(0, 2)];
        const answer = (await admin.eval(V1_RESERVE_SCRIPT, keys.length, ...keys, 30_000, id, RESERVE_SWEEP_LIMIT, 1, clock.now, b.amount, amount, c.periods[0].ttlSeconds, c.periods[1].ttlSeconds, c.lo, c.mid, c.hi)) as (number | string)[];
        return { id, answer };
      },
      settle: async (b: ReturnType<typeof testBudget>, id: string, actual: number): Promise<void> => {
        const k = exactBudgetKeys('tollgate:', b, clock.now);
        const n = exactBudgetKeys('tollgate:', b, k.resetsAt ?? 0);
        const keys = [...k.keys.slice(0, 4), n.keys[0] ?? '', n.keys[3] ?? ''];
        await admin.eval(V1_SETTLE_SCRIPT, keys.length, ...keys, id, 1, clock.now, actual, k.resetsAt ?? 0, n.ttlSeconds);
      },
      mirrorRead: async (b: ReturnType<typeof testBudget>): Promise<[string, string]> => {
        const k = exactBudgetKeys('tollgate:', b, clock.now);
        const prev = exactBudgetKeys('tollgate:', b, k.periodStart - 1);
        const keys = [...k.keys.slice(0, 4), k.seededKey, ...prev.keys.slice(0, 4)];
        return (await admin.eval(V1_MIRROR_READ_SCRIPT, keys.length, ...keys, clock.now, 0, k.ttlSeconds, MIRROR_SWEEP_LIMIT)) as [string, string];
      },
    };
  };

  // A rolling upgrade runs pods of both versions on one ledger: each must count the other's holds,
  // and neither's sweeps or settles may lose or double one.
  it('counts the holds of pods of the version before the total, and theirs count this version\'s: the limit holds across both in a rolling upgrade', async () => {
    await admin.flushall();
    const keys = exactBudgetKeys('tollgate:', budget, clock.now);
    const fresh = await pod('new');
    const old = oldPod('old');
    const h1 = await fresh.admit(ask);
    // The old pod sees the new pod's 0.40 through the total: 0.80 held, a third 0.40 does not fit, on either.
    const o1 = await old.reserve(budget, 0.4);
    expect(o1.answer[0]).toBe(0);
    expect((await old.reserve(budget, 0.4)).answer.slice(0, 3)).toEqual([1, '0', '0.8']);
    await expect(fresh.admit(ask)).rejects.toThrow(/less 0.8000 held/);
    // The operator not yet upgraded sees both too.
    expect(await old.mirrorRead(budget)).toEqual(['0', '0.8']);
    h1.settle(usage(0.15));
    await fresh.stop();
    expect(await admin.hexists(keys.keys[1] ?? '', HELD_TOTAL)).toBe(0);
    const o2 = await old.reserve(budget, 0.4);
    expect(o2.answer[0]).toBe(0);
    await old.settle(budget, o2.id, 0.05);
    // The old pod dies with o1 in flight: a new pod's reserve charges it once it expires.
    clock.now += 31_000;
    const h2 = await fresh.admit(ask); // 0.60 spent and 0.40 held: the limit, exactly
    expect(await spentInRedis()).toBeCloseTo(0.6, 9);
    expect((await old.reserve(budget, 0.01)).answer.slice(0, 3)).toEqual([1, '0.6', '0.4']);
    // Alive after all: its late settle (old script) corrects the worst case.
    await old.settle(budget, o1.id, 0.1);
    expect(await spentInRedis()).toBeCloseTo(0.3, 9);
    h2.settle(usage(0.2));
    await fresh.stop();
    expect(await spentInRedis()).toBeCloseTo(0.5, 9);
    expect(await admin.exists(keys.keys[1] ?? '', keys.keys[4] ?? '')).toBe(0);
    clock.now = NOW;
  });

  it("never loses a new pod's hold to the sweeps of the version before: its hold stays counted until a new script charges it", async () => {
    await admin.flushall();
    const keys = exactBudgetKeys('tollgate:', budget, clock.now);
    const dead = await pod('dead-new');
    const old = oldPod('old');
    const lost = await dead.admit(ask); // never settled, never refreshed
    clock.now += 31_000;
    // The old pod's reserve and the old operator's read sweep their own deadlines only: the expired
    // new hold is still held (0.80 with the old pod's own), never dropped uncharged.
    expect((await old.reserve(budget, 0.4)).answer[0]).toBe(0);
    expect((await old.reserve(budget, 0.4)).answer.slice(0, 3)).toEqual([1, '0', '0.8']);
    expect(await old.mirrorRead(budget)).toEqual(['0', '0.8']);
    // The upgraded operator charges it at its worst case and takes it off the total.
    const { mirror, status } = mirrorOver(() => budget, 'monthly', {});
    await mirror.sync();
    expect(status.spent).toBeCloseTo(0.4, 9);
    expect(await admin.hexists(keys.keys[1] ?? '', HELD_TOTAL)).toBe(0);
    expect(await old.mirrorRead(budget)).toEqual(['0.4', '0.4']);
    // Its late settle corrects the charge.
    lost.settle(usage(0.1));
    await dead.stop();
    expect(await spentInRedis()).toBeCloseTo(0.1, 9);
    clock.now = NOW;
  });

  it('fails closed when Redis is unreachable', async () => {
    const client = createRedisClient({ url: 'redis://127.0.0.1:1', timeoutMs: 200 });
    clients.push(client);
    const offline = new ExactBudgetAdmitter({ client, keyPrefix: 'tollgate:', pod: 'x', holdTimeoutMs: 30_000, logger: pino({ level: 'silent' }) });
    await expect(offline.admit(ask)).rejects.toMatchObject({ status: 503, code: 'budget_unavailable' });
  });
});
