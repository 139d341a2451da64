import { describe, expect, it } from 'vitest';
import { LocalRateLimitBackend } from './local-backend.js';
import type { LimitCheck } from './backend.js';
import { formatResetDuration, retryAfterSeconds } from './rate-limit-headers.js';
import { resetMs, tokensAt, waitMs } from './token-bucket.js';
import { FakeClock } from './test-support.js';

const req = (key: string, limit: number, cost = 1): LimitCheck => ({ key, dimension: 'requests', limit, cost, description: `${limit}/min` });

describe('token bucket math', () => {
  it('an unknown bucket is full; refill is linear at capacity per minute and capped at capacity', () => {
    expect(tokensAt(undefined, 60, 0)).toBe(60);
    expect(tokensAt({ tokens: 0, updatedMs: 0 }, 60, 1000)).toBe(1);
    expect(tokensAt({ tokens: 0, updatedMs: 0 }, 60, 30_000)).toBe(30);
    expect(tokensAt({ tokens: 50, updatedMs: 0 }, 60, 60_000)).toBe(60);
    expect(tokensAt({ tokens: -60, updatedMs: 0 }, 60, 30_000)).toBe(-30);
    // a clock that went backwards refills nothing
    expect(tokensAt({ tokens: 5, updatedMs: 10_000 }, 60, 0)).toBe(5);
  });

  it('wait and reset times', () => {
    expect(waitMs(0, 1, 60)).toBe(1000);
    expect(waitMs(0.5, 1, 60)).toBe(500);
    expect(waitMs(3, 1, 60)).toBe(0);
    // a cost above capacity waits for a full bucket, not forever
    expect(waitMs(0, 500, 60)).toBe(60_000);
    expect(waitMs(-60, 1, 60)).toBe(61_000);
    expect(resetMs(30, 60)).toBe(30_000);
    expect(resetMs(60, 60)).toBe(0);
  });

  it('formats reset durations like OpenAI and never sends retry-after 0', () => {
    expect(formatResetDuration(20)).toBe('20ms');
    expect(formatResetDuration(1000)).toBe('1s');
    expect(formatResetDuration(1500)).toBe('1.5s');
    expect(formatResetDuration(360_000)).toBe('6m0s');
    expect(formatResetDuration(90_250)).toBe('1m30.25s');
    expect(formatResetDuration(3_723_000)).toBe('1h2m3s');
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
  });
});

describe('LocalRateLimitBackend', () => {
  it('admits a burst of the limit, then refills one request per limit-th of a minute', () => {
    const clock = new FakeClock();
    const b = new LocalRateLimitBackend({ now: clock.now });
    const c = [req('k', 60)];
    for (let i = 0; i < 60; i++) expect(b.takeSync(c).admitted).toBe(true);
    const refused = b.takeSync(c);
    expect(refused.admitted).toBe(false);
    expect(refused.reports[0]).toEqual({ remaining: 0, waitMs: 1000, resetMs: 60_000 });
    clock.advance(999);
    expect(b.takeSync(c).admitted).toBe(false);
    clock.advance(1);
    expect(b.takeSync(c).admitted).toBe(true);
  });

  it('is all-or-nothing: a refusal by one bucket charges none of the others', () => {
    const clock = new FakeClock();
    const b = new LocalRateLimitBackend({ now: clock.now });
    const tight = req('tight', 1);
    const loose = req('loose', 100);
    expect(b.takeSync([loose, tight]).admitted).toBe(true);
    const r = b.takeSync([loose, tight]);
    expect(r.admitted).toBe(false);
    expect(r.reports.map((x) => x.remaining)).toEqual([99, 0]);
    expect(r.reports[0]?.waitMs).toBe(0);
    expect(r.reports[1]?.waitMs).toBe(60_000);
    expect(b.takeSync([loose]).reports[0]?.remaining).toBe(98);
  });

  it('enforces limit x share, with share = 1 / replicas, and reports cluster-wide estimates', () => {
    const clock = new FakeClock();
    const b = new LocalRateLimitBackend({ now: clock.now, replicas: 3 });
    const c = [req('k', 30)];
    const first = b.takeSync(c);
    expect(first.reports[0]?.remaining).toBe(27); // 9 left here x 3 pods
    for (let i = 1; i < 10; i++) expect(b.takeSync(c).admitted).toBe(true);
    expect(b.takeSync(c).admitted).toBe(false);
    // capacity 10 refilling 10 per minute: one request every 6 s
    expect(b.takeSync(c).reports[0]?.waitMs).toBe(6000);
    // two pods left: capacity 15, the rate goes up at once
    b.setReplicas(2);
    expect(b.takeSync(c).reports[0]?.waitMs).toBe(4000);
    clock.advance(60_000);
    for (let i = 0; i < 15; i++) expect(b.takeSync(c).admitted).toBe(true);
    expect(b.takeSync(c).admitted).toBe(false);
    // more pods: tokens above the new capacity are cut off
    clock.advance(60_000);
    b.setReplicas(6);
    for (let i = 0; i < 5; i++) expect(b.takeSync(c).admitted).toBe(true);
    expect(b.takeSync(c).admitted).toBe(false);
    expect(() => b.setReplicas(0)).toThrow(RangeError);
    expect(() => b.setReplicas(1.5)).toThrow(RangeError);
  });

  it('lets a request that costs more than the bucket through when the bucket is full, then holds the debt', () => {
    const clock = new FakeClock();
    const b = new LocalRateLimitBackend({ now: clock.now });
    const big = { ...req('t', 100, 250), dimension: 'tokens' as const };
    expect(b.takeSync([big]).admitted).toBe(true);
    const r = b.takeSync([{ ...big, cost: 1 }]);
    expect(r.admitted).toBe(false);
    // -150 tokens: 151 tokens to refill at 100 per minute
    expect(r.reports[0]?.waitMs).toBe(90_600);
  });

  it('corrects with adjust: refunds are capped at capacity, extra charges go into debt', async () => {
    const clock = new FakeClock();
    const b = new LocalRateLimitBackend({ now: clock.now });
    const t = { ...req('t', 1000, 400), dimension: 'tokens' as const };
    b.takeSync([t]);
    await b.adjust([t], [1000]);
    expect(b.takeSync([{ ...t, cost: 0 }]).reports[0]?.remaining).toBe(1000);
    await b.adjust([t], [-1500]);
    const r = b.takeSync([{ ...t, cost: 0 }]);
    expect(r.admitted).toBe(false);
    expect(r.reports[0]?.remaining).toBe(0);
    expect(r.reports[0]?.waitMs).toBe(30_000);
  });

  it('stays bounded: full buckets are dropped first, then the least recently charged', () => {
    const clock = new FakeClock();
    const b = new LocalRateLimitBackend({ now: clock.now, maxBuckets: 10 });
    for (let i = 0; i < 10; i++) b.takeSync([req(`k${i}`, 60)]);
    clock.advance(60_000); // all full again
    b.takeSync([req('fresh', 60)]);
    expect(b.size).toBe(1);
    for (let i = 0; i < 25; i++) b.takeSync([req(`x${i}`, 60)]);
    expect(b.size).toBeLessThanOrEqual(10);
    // Charged again, x20 is the most recently charged: it outlives the ones charged after it once.
    b.takeSync([req('x20', 60)]);
    for (let i = 0; i < 8; i++) b.takeSync([req(`y${i}`, 60)]);
    expect(b.takeSync([{ ...req('x20', 60), cost: 0 }]).reports[0]?.remaining).toBe(58);
    expect(b.takeSync([{ ...req('x21', 60), cost: 0 }]).reports[0]?.remaining).toBe(60);
  });
});
