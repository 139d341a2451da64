import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerRateLimitBackendErrors } from '../../telemetry/rate-limit-backend-metrics.js';
import { GatewayError } from '../../core/gateway-error.js';
import { ANONYMOUS } from '../../core/caller.js';
import type { RateLimitConfig } from '../../config/snapshot.js';
import type { LimitCheck, RateLimitBackend, TakeResult } from './backend.js';
import { createRateLimiter } from './create-rate-limiter.js';
import { limitChecks } from './limit-checks.js';
import { LocalRateLimitBackend } from './local-backend.js';
import { RateLimitAdmitter } from './rate-limit-admitter.js';
import { parseRateLimiterEnv } from './rate-limiter-config.js';
import { admission, caller, FakeClock, testRoute } from './test-support.js';

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

function localAdmitter(clock: FakeClock, replicas = 1): RateLimitAdmitter {
  return new RateLimitAdmitter({ backend: new LocalRateLimitBackend({ now: clock.now, replicas }) });
}

describe('limitChecks', () => {
  it('keys buckets by route, caller, or both, and charges the prompt estimate (or prompt + max output)', () => {
    const route = testRoute([
      { per: 'Route', requestsPerMinute: 100 },
      { per: 'Caller', tokensPerMinute: 1000 },
      { per: 'RouteAndCaller', requestsPerMinute: 10, tokensPerMinute: 500 },
    ]);
    const checks = limitChecks(admission(route, caller('app'), 40, 200));
    expect(checks.map((c) => [c.key, c.limit, c.cost])).toEqual([
      ['req|route=team-a/chat|100', 100, 1],
      ['tok|caller=sa:team-a/app|rpm=0|tpm=1000|1000', 1000, 40],
      ['req|route=team-a/chat|caller=sa:team-a/app|10', 10, 1],
      ['tok|route=team-a/chat|caller=sa:team-a/app|500', 500, 40],
    ]);
    expect(limitChecks(admission(route, caller('app'), 40, 200), { countMaxOutputTokens: true }).map((c) => c.cost)).toEqual([1, 240, 1, 240]);
    expect(limitChecks(admission(testRoute([]), caller('app')))).toEqual([]);
  });

  it('charges each request its own estimate on remembered keys, and a new route object gets its own limits', () => {
    const route = testRoute([{ per: 'RouteAndCaller', requestsPerMinute: 10, tokensPerMinute: 500 }]);
    expect(limitChecks(admission(route, caller('app'), 40)).map((c) => c.cost)).toEqual([1, 40]);
    expect(limitChecks(admission(route, caller('app'), 7)).map((c) => c.cost)).toEqual([1, 7]);
    expect(limitChecks(admission(route, caller('other'), 7)).map((c) => c.key)).toEqual(['req|route=team-a/chat|caller=sa:team-a/other|10', 'tok|route=team-a/chat|caller=sa:team-a/other|500']);
    // A new snapshot brings new route objects: a changed limit takes effect at once.
    const changed = testRoute([{ per: 'RouteAndCaller', requestsPerMinute: 20 }]);
    expect(limitChecks(admission(changed, caller('app'), 7)).map((c) => [c.key, c.limit, c.description])).toEqual([
      ['req|route=team-a/chat|caller=sa:team-a/app|20', 20, '20 requests per minute per caller on this route'],
    ]);
  });
});

describe('RateLimitAdmitter', () => {
  it('refuses with 429 rate_limit_exceeded naming the route and limit, with retry-after and x-ratelimit-* headers', async () => {
    const clock = new FakeClock();
    const admitter = localAdmitter(clock);
    const route = testRoute([{ per: 'RouteAndCaller', requestsPerMinute: 2, tokensPerMinute: 1000 }]);
    const ok = await admitter.admit(admission(route, caller('app'), 100));
    expect(ok.headers).toEqual({
      'x-ratelimit-limit-requests': '2',
      'x-ratelimit-remaining-requests': '1',
      'x-ratelimit-reset-requests': '30s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '900',
      'x-ratelimit-reset-tokens': '6s',
    });
    await admitter.admit(admission(route, caller('app'), 100));
    const err = await refusal(admitter.admit(admission(route, caller('app'), 100)));
    expect(err.status).toBe(429);
    expect(err.type).toBe('rate_limit_error');
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.message).toContain('team-a/chat');
    expect(err.message).toContain('2 requests per minute per caller on this route');
    expect(err.headers).toMatchObject({
      'retry-after': '30',
      'retry-after-ms': '30000',
      'x-ratelimit-limit-requests': '2',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1m0s',
      'x-ratelimit-remaining-tokens': '800',
    });
    // another caller has its own bucket
    await expect(admitter.admit(admission(route, caller('other'), 100))).resolves.toBeDefined();
    expect(admitter.stats).toMatchObject({ admitted: 3, refused: 1 });
  });

  it('charges nothing when one of several limits refuses', async () => {
    const clock = new FakeClock();
    const admitter = localAdmitter(clock);
    const route = testRoute([
      { per: 'Route', requestsPerMinute: 100 },
      { per: 'RouteAndCaller', tokensPerMinute: 100 },
    ]);
    await admitter.admit(admission(route, caller('app'), 100));
    for (let i = 0; i < 5; i++) await refusal(admitter.admit(admission(route, caller('app'), 100)));
    const next = await admitter.admit(admission(route, caller('other'), 1));
    expect(next.headers['x-ratelimit-remaining-requests']).toBe('98');
  });

  it('settle corrects the token estimate with real usage, once', async () => {
    const clock = new FakeClock();
    const admitter = localAdmitter(clock);
    const route = testRoute([{ per: 'Route', tokensPerMinute: 1000 }]);
    const a = await admitter.admit(admission(route, caller('app'), 100));
    expect(a.headers['x-ratelimit-remaining-tokens']).toBe('900');
    a.settle({ usage: { inputTokens: 120, outputTokens: 380, cachedInputTokens: 100 }, costUsd: 0 });
    a.settle({ usage: { inputTokens: 120, outputTokens: 380, cachedInputTokens: 100 }, costUsd: 0 });
    await admitter.idle();
    const b = await admitter.admit(admission(route, caller('app'), 0));
    expect(b.headers['x-ratelimit-remaining-tokens']).toBe('500');
    // nothing sent upstream: the estimate is refunded
    const c = await admitter.admit(admission(route, caller('app'), 200));
    expect(c.headers['x-ratelimit-remaining-tokens']).toBe('300');
    c.settle({ usage: undefined, costUsd: 0 });
    await admitter.idle();
    expect((await admitter.admit(admission(route, caller('app'), 0))).headers['x-ratelimit-remaining-tokens']).toBe('500');
  });

  it('charge takes tokens at once, on top of the estimate; settle then corrects only the estimate (a Realtime connection, charged per response)', async () => {
    const clock = new FakeClock();
    const admitter = localAdmitter(clock);
    const route = testRoute([{ per: 'Route', tokensPerMinute: 1000 }]);
    const a = await admitter.admit(admission(route, caller('app'), 0));
    a.charge({ usage: { inputTokens: 100, outputTokens: 200, cachedInputTokens: 0 }, costUsd: 0 });
    await admitter.idle();
    expect((await admitter.admit(admission(route, caller('app'), 0))).headers['x-ratelimit-remaining-tokens']).toBe('700');
    a.charge({ usage: { inputTokens: 100, outputTokens: 0, cachedInputTokens: 0 }, costUsd: 0 });
    a.settle({ usage: undefined, costUsd: 0 });
    a.charge({ usage: { inputTokens: 100, outputTokens: 0, cachedInputTokens: 0 }, costUsd: 0 });
    await admitter.idle();
    expect((await admitter.admit(admission(route, caller('app'), 0))).headers['x-ratelimit-remaining-tokens']).toBe('600');
  });

  it('settle corrects only the token buckets, each by its own estimate, and not at all when the estimate was right', async () => {
    const clock = new FakeClock();
    const backend = new LocalRateLimitBackend({ now: clock.now });
    const adjusted: [string[], number[]][] = [];
    const adjustSync = backend.adjustSync.bind(backend);
    backend.adjustSync = (checks, deltas) => {
      adjusted.push([checks.map((c) => c.key), [...deltas]]);
      adjustSync(checks, deltas);
    };
    const admitter = new RateLimitAdmitter({ backend, countMaxOutputTokens: true });
    const route = testRoute([
      { per: 'Route', tokensPerMinute: 10_000 },
      { per: 'RouteAndCaller', requestsPerMinute: 100, tokensPerMinute: 5_000 },
    ]);
    const used = { usage: { inputTokens: 100, outputTokens: 40, cachedInputTokens: 0 }, costUsd: 0 };
    (await admitter.admit({ ...admission(route, caller('app'), 100), maxOutputTokens: 300 })).settle(used);
    (await admitter.admit({ ...admission(route, caller('app'), 100), maxOutputTokens: 40 })).settle(used);
    (await admitter.admit(admission(route, caller('app'), 100))).settle({ usage: undefined, costUsd: 0 });
    expect(adjusted).toEqual([
      [['tok|route=team-a/chat|10000', 'tok|route=team-a/chat|caller=sa:team-a/app|5000'], [260, 260]],
      [['tok|route=team-a/chat|10000', 'tok|route=team-a/chat|caller=sa:team-a/app|5000'], [200, 200]],
    ]);
  });

  it('usage above the limit leaves a debt that refuses everything until it has refilled', async () => {
    const clock = new FakeClock();
    const admitter = localAdmitter(clock);
    const route = testRoute([{ per: 'Caller', tokensPerMinute: 600 }]);
    const a = await admitter.admit(admission(route, caller('app'), 10));
    a.settle({ usage: { inputTokens: 10, outputTokens: 890, cachedInputTokens: 0 }, costUsd: 0 });
    await admitter.idle();
    const err = await refusal(admitter.admit(admission(route, caller('app'), 0)));
    // -300 tokens at 600 per minute: 30 s
    expect(err.headers['retry-after']).toBe('30');
    expect(err.headers['x-ratelimit-remaining-tokens']).toBe('0');
    clock.advance(30_000);
    await expect(admitter.admit(admission(route, caller('app'), 0))).resolves.toBeDefined();
  });

  it("anonymous callers share a Caller limit within a namespace's routes, never with another namespace's", async () => {
    const admitter = localAdmitter(new FakeClock());
    const limit: RateLimitConfig = { per: 'Caller', requestsPerMinute: 1 };
    const teamA = testRoute([limit]);
    const teamAOther = testRoute([limit], { id: 'team-a/other' });
    const teamB = testRoute([limit], { id: 'team-b/open', namespace: 'team-b' });
    await admitter.admit(admission(teamB, ANONYMOUS));
    // team-b's anonymous traffic used its own bucket: team-a's first anonymous request is admitted.
    await expect(admitter.admit(admission(teamA, ANONYMOUS))).resolves.toBeDefined();
    expect((await refusal(admitter.admit(admission(teamAOther, ANONYMOUS)))).status).toBe(429);
  });

  it('routes without limits are admitted without headers or backend calls', async () => {
    const backend = new ThrowingBackend();
    const admitter = new RateLimitAdmitter({ backend, failMode: 'closed' });
    const a = await admitter.admit(admission(testRoute([]), caller('app')));
    expect(a.headers).toEqual({});
    expect(backend.calls).toBe(0);
  });

  it('backend failure: fail-open admits and counts, fail-closed refuses with 503 and counts', async () => {
    const route = testRoute([{ per: 'Route', requestsPerMinute: 1 }]);
    const seen: string[] = [];
    const open = new RateLimitAdmitter({ backend: new ThrowingBackend(), failMode: 'open', onBackendError: (_e, op) => seen.push(op) });
    for (let i = 0; i < 3; i++) expect((await open.admit(admission(route, caller('app')))).headers).toEqual({});
    expect(open.stats).toMatchObject({ backendErrors: 3, failedOpen: 3, admitted: 0 });
    expect(seen).toEqual(['take', 'take', 'take']);

    const closed = new RateLimitAdmitter({ backend: new ThrowingBackend(), failMode: 'closed' });
    const err = await refusal(closed.admit(admission(route, caller('app'))));
    expect(err.status).toBe(503);
    expect(err.code).toBe('rate_limiter_unavailable');
    expect(err.headers['retry-after']).toBe('1');
    expect(closed.stats).toMatchObject({ backendErrors: 1, failedClosed: 1 });

    // Both are a metric an operator can alert on.
    const registry = new Registry();
    registerRateLimitBackendErrors(registry, () => ({ failedOpen: open.stats.failedOpen, failedClosed: closed.stats.failedClosed, failedAdjust: 0 }));
    const text = await registry.metrics();
    expect(text).toContain('tollgate_rate_limit_backend_errors_total{mode="open"} 3');
    expect(text).toContain('tollgate_rate_limit_backend_errors_total{mode="closed"} 1');
  });

  it('failed corrections are counted, not thrown', async () => {
    const backend = new ThrowingBackend(true);
    const admitter = new RateLimitAdmitter({ backend });
    const a = await admitter.admit(admission(testRoute([{ per: 'Route', tokensPerMinute: 100 }]), caller('app'), 5));
    a.settle({ usage: { inputTokens: 50, outputTokens: 50, cachedInputTokens: 0 }, costUsd: 0 });
    await admitter.idle();
    expect(admitter.stats.backendErrors).toBe(1);
    // A lost correction leaves the bucket at the estimate: a metric of its own.
    expect(admitter.stats.failedAdjust).toBe(1);
    const registry = new Registry();
    registerRateLimitBackendErrors(registry, () => admitter.stats);
    expect(await registry.metrics()).toContain('tollgate_rate_limit_corrections_failed_total 1');
  });

  it('per-pod share 1/3 across three pods holds the cluster-wide limit within tolerance', async () => {
    // Three pods behind a Service, random (seeded) spreading of an overload of 3x the limit, five
    // simulated minutes. Bound: the cluster may admit at most one full burst plus the refill, i.e.
    // limit x (1 + minutes). Tolerance: balanced-but-random spreading admits at least 90 % of that.
    const limit = 120;
    const clock = new FakeClock();
    const pods = [0, 1, 2].map(() => localAdmitter(clock, 3));
    const route = testRoute([{ per: 'Route', requestsPerMinute: limit }]);
    let seed = 42;
    const random = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const minutes = 5;
    const perMinute = limit * 3;
    let admitted = 0;
    for (let i = 0; i < perMinute * minutes; i++) {
      clock.advance(60_000 / perMinute);
      const pod = pods[Math.floor(random() * 3)];
      if (pod === undefined) throw new Error('pod');
      try {
        await pod.admit(admission(route, caller(`c${i % 7}`)));
        admitted++;
      } catch (err) {
        if (!(err instanceof GatewayError) || err.status !== 429) throw err;
      }
    }
    const ceiling = limit * (1 + minutes);
    expect(admitted).toBeLessThanOrEqual(ceiling);
    expect(admitted).toBeGreaterThanOrEqual(Math.floor(0.9 * ceiling));
    // all traffic on one pod: that pod alone still keeps to its third
    const lone = localAdmitter(new FakeClock(), 3);
    let loneAdmitted = 0;
    for (let i = 0; i < limit; i++) {
      try {
        await lone.admit(admission(route, caller('x')));
        loneAdmitted++;
      } catch {
        // refused
      }
    }
    expect(loneAdmitted).toBe(limit / 3);
  });

  it('createRateLimiter builds the configured backend and setReplicas reaches the per-pod buckets', async () => {
    const clock = new FakeClock();
    const limiter = createRateLimiter(parseRateLimiterEnv({}), { now: clock.now });
    expect(limiter.backend.kind).toBe('local');
    limiter.setReplicas(4);
    const route = testRoute([{ per: 'Route', requestsPerMinute: 8 }]);
    await limiter.admit(admission(route, caller('a')));
    await limiter.admit(admission(route, caller('a')));
    await refusal(limiter.admit(admission(route, caller('a'))));
    await limiter.close();
  });
});

describe('parseRateLimiterEnv', () => {
  it('defaults to per-pod buckets; a Redis URL selects Redis with its fail mode', () => {
    expect(parseRateLimiterEnv({})).toEqual({ backend: 'local', countMaxOutputTokens: false, replicas: 1 });
    expect(parseRateLimiterEnv({ TOLLGATE_REDIS_URL: '', TOLLGATE_RATE_LIMIT_FAIL_MODE: '' }).backend).toBe('local');
    expect(
      parseRateLimiterEnv({
        TOLLGATE_REDIS_URL: 'redis://redis.tollgate.svc:6379/0',
        TOLLGATE_RATE_LIMIT_FAIL_MODE: 'closed',
        TOLLGATE_REDIS_TIMEOUT_MS: '80',
        TOLLGATE_RATE_LIMIT_COUNT_MAX_OUTPUT: 'true',
      }),
    ).toEqual({
      backend: 'redis',
      countMaxOutputTokens: true,
      failMode: 'closed',
      redis: { url: 'redis://redis.tollgate.svc:6379/0', timeoutMs: 80, keyPrefix: 'tollgate:' },
    });
    expect(() => parseRateLimiterEnv({ TOLLGATE_REDIS_URL: 'http://x' })).toThrow(/TOLLGATE_REDIS_URL/);
    expect(() => parseRateLimiterEnv({ TOLLGATE_RATE_LIMIT_FAIL_MODE: 'sometimes' })).toThrow(/FAIL_MODE/);
  });
});

class ThrowingBackend implements RateLimitBackend {
  readonly kind = 'redis';
  calls = 0;
  constructor(private readonly onlyAdjust = false) {}
  take(checks: readonly LimitCheck[]): Promise<TakeResult> {
    this.calls++;
    if (this.onlyAdjust) return Promise.resolve({ admitted: true, reports: checks.map(() => ({ remaining: 1, waitMs: 0, resetMs: 0 })) });
    return Promise.reject(new Error('connection refused'));
  }
  adjust(): Promise<void> {
    this.calls++;
    return Promise.reject(new Error('connection refused'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
