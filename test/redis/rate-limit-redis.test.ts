import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LimitCheck } from '../../dataplane/governance/rate-limit/backend.js';
import { createRateLimiter } from '../../dataplane/governance/rate-limit/create-rate-limiter.js';
import { RateLimitAdmitter } from '../../dataplane/governance/rate-limit/rate-limit-admitter.js';
import { RedisRateLimitBackend } from '../../dataplane/governance/rate-limit/redis-backend.js';
import { createRedisClient, waitReady } from '../../dataplane/governance/rate-limit/redis-client.js';
import { admission, caller, testRoute } from '../../dataplane/governance/rate-limit/test-support.js';
import { GatewayError } from '../../dataplane/core/gateway-error.js';
import type { RouteConfig } from '../../dataplane/config/snapshot.js';
import { RedisTestServer } from './redis-server.js';

let server: RedisTestServer;
let admin: Redis;
const opened: RateLimitAdmitter[] = [];

beforeAll(async () => {
  server = await RedisTestServer.start();
  admin = new Redis(server.url);
});

afterAll(async () => {
  for (const a of opened) await a.close();
  admin.disconnect();
  await server.destroy();
});

/** One data-plane pod's limiter: its own Redis connection, as in production. */
async function pod(failMode: 'open' | 'closed' = 'open', prefix = 'tollgate:'): Promise<RateLimitAdmitter> {
  const limiter = createRateLimiter({ backend: 'redis', countMaxOutputTokens: false, failMode, redis: { url: server.url, timeoutMs: 500, keyPrefix: prefix } });
  opened.push(limiter);
  const backend = limiter.backend;
  if (!(backend instanceof RedisRateLimitBackend)) throw new Error('expected the Redis backend');
  await waitReady(backend.client, 5000);
  return limiter;
}

async function outcome(p: Promise<unknown>): Promise<'admitted' | 'refused'> {
  try {
    await p;
    return 'admitted';
  } catch (err) {
    if (err instanceof GatewayError && err.status === 429) return 'refused';
    throw err;
  }
}

/** Runs `total` admissions, `concurrency` at a time, spread round-robin over the pods. */
async function load(pods: RateLimitAdmitter[], route: RouteConfig, total: number, concurrency: number, promptTokens = 10): Promise<{ admitted: number; elapsedMs: number }> {
  const started = Date.now();
  let next = 0;
  let admitted = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const p = pods[i % pods.length];
      if (p === undefined) throw new Error('pod');
      if ((await outcome(p.admit(admission(route, caller(`c${i % 5}`), promptTokens)))) === 'admitted') admitted++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { admitted, elapsedMs: Date.now() - started };
}

describe('Redis rate-limit backend (real redis-server)', () => {
  it('the Lua script refills, refuses with a wait, and charges all buckets or none', async () => {
    const limiter = await pod('open', 'lua-test:');
    const backend = limiter.backend;
    const a: LimitCheck = { key: 'a', dimension: 'requests', limit: 60, cost: 1, description: '' };
    const b: LimitCheck = { key: 'b', dimension: 'tokens', limit: 100, cost: 70, description: '' };
    const first = await backend.take([a, b]);
    expect(first.admitted).toBe(true);
    expect(first.reports.map((r) => r.remaining)).toEqual([59, 30]);
    const second = await backend.take([a, b]);
    expect(second.admitted).toBe(false);
    expect(second.reports[0]?.waitMs).toBe(0);
    // 40 more tokens at 100 per minute: about 24 s (Redis's clock moved a little meanwhile)
    expect(second.reports[1]?.waitMs).toBeGreaterThan(23_000);
    expect(second.reports[1]?.waitMs).toBeLessThanOrEqual(24_000);
    // the refused take charged nothing: a still has 59
    expect((await backend.take([a])).reports[0]?.remaining).toBe(58);
    // adjust: refund is capped at the limit; a charge goes into debt
    await backend.adjust([b], [1000]);
    expect((await backend.take([{ ...b, cost: 0 }])).reports[0]?.remaining).toBe(100);
    await backend.adjust([b], [-150]);
    const debt = await backend.take([{ ...b, cost: 0 }]);
    expect(debt.admitted).toBe(false);
    expect(debt.reports[0]?.remaining).toBe(0);
    // buckets expire once they would be full again, so Redis memory stays bounded
    const ttl = await admin.pttl('lua-test:rl:b');
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(31_000 + 60_000);
  });

  it('uses EVALSHA, falls back to EVAL after SCRIPT FLUSH, one round trip per admission', async () => {
    const limiter = await pod('open', 'sha-test:');
    const backend = limiter.backend;
    if (!(backend instanceof RedisRateLimitBackend)) throw new Error('redis');
    const route = testRoute([
      { per: 'Route', requestsPerMinute: 1000, tokensPerMinute: 100_000 },
      { per: 'RouteAndCaller', requestsPerMinute: 100 },
      { per: 'Caller', tokensPerMinute: 50_000 },
    ]);
    await limiter.admit(admission(route, caller('app')));
    await admin.script('FLUSH');
    const loadsBefore = backend.takeScript.loads;
    await admin.config('RESETSTAT');
    for (let i = 0; i < 10; i++) await limiter.admit(admission(route, caller('app')));
    expect(backend.takeScript.loads).toBe(loadsBefore + 1);
    const stats = parseCommandStats(await admin.info('commandstats'));
    // 10 admissions of 5 buckets each: 10 EVALSHA, one of them answered NOSCRIPT and resent as EVAL
    expect(stats.evalsha).toBe(10);
    expect(stats.eval).toBe(1);
  });

  it('holds a cluster-wide limit exactly across three pods under concurrent load', async () => {
    const pods = [await pod(), await pod(), await pod()];
    const route = testRoute([{ per: 'Route', requestsPerMinute: 50 }], { id: 'team-a/exact-requests' });
    const { admitted, elapsedMs } = await load(pods, route, 300, 30);
    // the limit refills 50 per minute: allow exactly what refilled while the test ran
    expect(admitted).toBeGreaterThanOrEqual(50);
    expect(admitted).toBeLessThanOrEqual(50 + Math.floor((elapsedMs * 50) / 60_000));

    const tokenRoute = testRoute([{ per: 'RouteAndCaller', tokensPerMinute: 1000 }], { id: 'team-a/exact-tokens' });
    const started = Date.now();
    let next = 0;
    let admittedTokens = 0;
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        while (next < 400) {
          const p = pods[next++ % 3];
          if (p === undefined) throw new Error('pod');
          if ((await outcome(p.admit(admission(tokenRoute, caller('same'), 7)))) === 'admitted') admittedTokens += 7;
        }
      }),
    );
    const refilled = ((Date.now() - started) * 1000) / 60_000;
    expect(admittedTokens).toBeGreaterThan(1000 - 7);
    expect(admittedTokens).toBeLessThanOrEqual(1000 + refilled);
  });

  it('corrections from settle reach the shared bucket', async () => {
    const [p1, p2] = [await pod(), await pod()];
    const route = testRoute([{ per: 'Route', tokensPerMinute: 10_000 }], { id: 'team-a/settle' });
    const a = await p1.admit(admission(route, caller('app'), 100));
    expect(a.headers['x-ratelimit-remaining-tokens']).toBe('9900');
    a.settle({ usage: { inputTokens: 100, outputTokens: 4900, cachedInputTokens: 0 }, costUsd: 0 });
    await p1.idle();
    const b = await p2.admit(admission(route, caller('app'), 0));
    expect(Number(b.headers['x-ratelimit-remaining-tokens'])).toBeGreaterThanOrEqual(5000);
    expect(Number(b.headers['x-ratelimit-remaining-tokens'])).toBeLessThanOrEqual(5010);
  });

  it('Redis down: fail-open admits and counts, fail-closed refuses with 503 and counts; both recover', async () => {
    const open = await pod('open');
    const closed = await pod('closed');
    const errors: string[] = [];
    const observed = createRateLimiter(
      { backend: 'redis', countMaxOutputTokens: false, failMode: 'open', redis: { url: server.url, timeoutMs: 200, keyPrefix: 'tollgate:' } },
      { onBackendError: (_e, op) => errors.push(op) },
    );
    opened.push(observed);
    if (!(observed.backend instanceof RedisRateLimitBackend)) throw new Error('redis');
    await waitReady(observed.backend.client, 5000);
    const route = testRoute([{ per: 'Route', requestsPerMinute: 1 }], { id: 'team-a/outage' });
    expect(await outcome(open.admit(admission(route, caller('app'))))).toBe('admitted');
    expect(await outcome(open.admit(admission(route, caller('app'))))).toBe('refused');

    await server.stop();
    for (let i = 0; i < 3; i++) {
      const a = await open.admit(admission(route, caller('app')));
      expect(a.headers).toEqual({});
      a.settle({ usage: undefined, costUsd: 0 });
    }
    expect(open.stats.failedOpen).toBe(3);
    expect(open.stats.backendErrors).toBe(3);
    let closedErr: unknown;
    try {
      await closed.admit(admission(route, caller('app')));
    } catch (err) {
      closedErr = err;
    }
    expect(closedErr).toBeInstanceOf(GatewayError);
    expect((closedErr as GatewayError).status).toBe(503);
    expect((closedErr as GatewayError).code).toBe('rate_limiter_unavailable');
    expect(closed.stats.failedClosed).toBe(1);
    await observed.admit(admission(route, caller('app')));
    expect(errors).toEqual(['take']);

    await server.resume();
    for (const limiter of [open, closed]) {
      const b = limiter.backend;
      if (!(b instanceof RedisRateLimitBackend)) throw new Error('redis');
      await waitReady(b.client, 10_000);
    }
    // a fresh server has no buckets: one request, then the limit applies again
    expect(await outcome(closed.admit(admission(route, caller('app'))))).toBe('admitted');
    expect(await outcome(open.admit(admission(route, caller('app'))))).toBe('refused');
  });

  it('a Redis that does not answer in time is a backend failure, not a hang', async () => {
    const closed = createRateLimiter({ backend: 'redis', countMaxOutputTokens: false, failMode: 'closed', redis: { url: server.url, timeoutMs: 100, keyPrefix: 'slow:' } });
    opened.push(closed);
    if (!(closed.backend instanceof RedisRateLimitBackend)) throw new Error('redis');
    await waitReady(closed.backend.client, 5000);
    const route = testRoute([{ per: 'Route', requestsPerMinute: 5 }], { id: 'team-a/slow' });
    // Redis holds every write command (scripts included) for 3 s; the limiter gives up after 100 ms.
    await admin.call('CLIENT', 'PAUSE', '3000', 'WRITE');
    try {
      await expect(closed.admit(admission(route, caller('app')))).rejects.toMatchObject({ status: 503, code: 'rate_limiter_unavailable' });
      expect(closed.stats).toMatchObject({ backendErrors: 1, failedClosed: 1 });
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
    }
    expect(await outcome(closed.admit(admission(route, caller('app'))))).toBe('admitted');
  });

  it('a server that cannot be reached fails at once, whatever the fail mode', async () => {
    const client = createRedisClient({ url: 'redis://127.0.0.1:1', timeoutMs: 100 });
    const admitter = new RateLimitAdmitter({ backend: new RedisRateLimitBackend(client), failMode: 'closed' });
    await expect(admitter.admit(admission(testRoute([{ per: 'Route', requestsPerMinute: 5 }]), caller('app')))).rejects.toMatchObject({ status: 503 });
    await admitter.close();
  });
});

function parseCommandStats(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([a-z|]+):calls=(\d+)/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = Number(m[2]);
  }
  return out;
}
