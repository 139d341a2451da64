import { describe, expect, it } from 'vitest';
import type { CanonicalRequest } from '../../core/canonical.js';
import { caller, FakeClock, testRoute } from '../rate-limit/test-support.js';
import { cacheKey, canonicalJson, partitionOf } from './cache-key.js';
import { createResponseCache, parseResponseCacheEnv } from './create-response-cache.js';
import { MemoryResponseCache } from './memory-cache.js';

const chat = (body: Record<string, unknown>, stream = false, clientWantsUsage = false): CanonicalRequest => ({
  op: 'chat',
  body: { model: 'chat', messages: [{ role: 'user', content: 'What is 2+2?' }], ...body },
  stream,
  clientWantsUsage,
});

const answer = (text: string) => ({ kind: 'response' as const, body: { id: 'x', choices: [{ message: { role: 'assistant', content: text } }] } });

describe('cacheKey', () => {
  const route = testRoute([]);

  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it('ignores key order and volatile fields, but not anything that changes the answer', () => {
    const base = cacheKey(route, caller('app'), chat({ temperature: 0 }));
    expect(cacheKey(route, caller('app'), { ...chat({}), body: { temperature: 0, messages: [{ content: 'What is 2+2?', role: 'user' }], model: 'chat' } })).toBe(base);
    expect(cacheKey(route, caller('app'), chat({ temperature: 0, user: 'u-123', metadata: { a: 'b' }, store: true, stream: false }))).toBe(base);
    expect(cacheKey(route, caller('app'), chat({ temperature: 0.5 }))).not.toBe(base);
    expect(cacheKey(route, caller('app'), chat({ temperature: 0, seed: 1 }))).not.toBe(base);
    expect(cacheKey(route, caller('app'), { ...chat({ temperature: 0 }), op: 'completions' })).not.toBe(base);
    expect(base.startsWith('team-a/chat#')).toBe(true);
    expect(partitionOf(base)).toBe('team-a/chat');
    expect(base).not.toContain('2+2');
  });

  it('keeps streams apart from responses, and streams with a usage chunk apart from those without', () => {
    const keys = new Set([
      cacheKey(route, caller('app'), chat({})),
      cacheKey(route, caller('app'), chat({ stream: true }, true)),
      cacheKey(route, caller('app'), chat({ stream: true, stream_options: { include_usage: true } }, true, true)),
    ]);
    expect(keys.size).toBe(3);
  });

  it('is per caller unless the route shares its cache; per route; per upstream models', () => {
    const a = cacheKey(route, caller('a'), chat({}));
    expect(cacheKey(route, caller('b'), chat({}))).not.toBe(a);
    expect(cacheKey(route, { kind: 'anonymous', id: 'anonymous' }, chat({}))).not.toBe(a);
    const shared = testRoute([], { cache: { ttlMs: 1000, maxEntries: 10, shareAcrossCallers: true } });
    expect(cacheKey(shared, caller('a'), chat({}))).toBe(cacheKey(shared, caller('b'), chat({})));
    expect(cacheKey(testRoute([], { id: 'team-a/other' }), caller('a'), chat({}))).not.toBe(a);
    const repointed = testRoute([], { targets: [{ providerId: 'team-a/self-hosted', model: 'llama-2', priority: 0, weight: 1, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0 } }] });
    expect(cacheKey(repointed, caller('a'), chat({}))).not.toBe(a);
  });

  it('keys the resolved decision: the rule and the targets that may answer, not their order or health', () => {
    const t = (providerId: string) => ({ providerId, model: 'm' });
    const premium = { rule: 'premium', candidates: [t('team-a/us'), t('team-a/eu')], skipped: [] };
    const base = cacheKey(route, caller('a'), chat({}), premium);
    expect(cacheKey(route, caller('a'), chat({}), { ...premium, rule: 'general' })).not.toBe(base);
    // Residency left only the EU provider for this caller: never an answer the US provider made.
    expect(cacheKey(route, caller('a'), chat({}), { ...premium, candidates: [t('team-a/eu')], skipped: [{ ...t('team-a/us'), reason: 'residency' }] })).not.toBe(base);
    expect(cacheKey(route, caller('a'), chat({}), { ...premium, candidates: [t('team-a/eu'), t('team-a/us')] })).toBe(base);
    expect(cacheKey(route, caller('a'), chat({}), { ...premium, candidates: [t('team-a/eu')], skipped: [{ ...t('team-a/us'), reason: 'ejected' }] })).toBe(base);
  });

  it('keys every field sent upstream, __proto__ included, and stream_options beyond include_usage', () => {
    const base = cacheKey(route, caller('a'), chat({}));
    const proto = JSON.parse('{"__proto__": {"temperature": 2}}') as Record<string, unknown>;
    expect(cacheKey(route, caller('a'), chat(proto))).not.toBe(base);
    const streamed = (options: Record<string, unknown>) => cacheKey(route, caller('a'), chat({ stream: true, stream_options: options }, true, options.include_usage === true));
    expect(streamed({ include_usage: false })).toBe(streamed({}));
    expect(streamed({ include_obfuscation: false })).not.toBe(streamed({}));
  });
});

describe('MemoryResponseCache', () => {
  it('round-trips responses and streams, and hands out copies', async () => {
    const cache = new MemoryResponseCache();
    await cache.set('r#1', answer('4'), 60_000, 10);
    await cache.set('r#2', { kind: 'stream', chunks: [{ choices: [{ delta: { content: '4' } }] }, { choices: [{ delta: {}, finish_reason: 'stop' }] }] }, 60_000, 10);
    const got = await cache.get('r#1');
    expect(got).toEqual(answer('4'));
    if (got?.kind === 'response') got.body.id = 'mutated';
    expect(await cache.get('r#1')).toEqual(answer('4'));
    expect((await cache.get('r#2'))?.kind).toBe('stream');
    expect(await cache.get('r#3')).toBeUndefined();
    expect(cache.stats).toMatchObject({ hits: 3, misses: 1, stores: 2 });
  });

  it('expires entries after their TTL', async () => {
    const clock = new FakeClock();
    const cache = new MemoryResponseCache({ now: clock.now });
    await cache.set('r#1', answer('4'), 1000, 10);
    clock.advance(999);
    expect(await cache.get('r#1')).toBeDefined();
    clock.advance(1);
    expect(await cache.get('r#1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('bounds each route to its maxEntries, dropping the least recently used', async () => {
    const cache = new MemoryResponseCache();
    for (let i = 0; i < 3; i++) await cache.set(`a#${i}`, answer(String(i)), 60_000, 3);
    await cache.get('a#0'); // a#1 is now the least recently used
    await cache.set('a#3', answer('3'), 60_000, 3);
    expect(await cache.get('a#1')).toBeUndefined();
    expect(await cache.get('a#0')).toBeDefined();
    expect(await cache.get('a#3')).toBeDefined();
    // another route has its own bound
    for (let i = 0; i < 5; i++) await cache.set(`b#${i}`, answer(String(i)), 60_000, 5);
    expect(cache.size).toBe(8);
    expect(cache.stats.evictions).toBe(1);
  });

  it('bounds total bytes across routes and skips entries above the entry limit', async () => {
    const one = JSON.stringify(answer('x'.repeat(100))).length;
    const cache = new MemoryResponseCache({ maxTotalBytes: one * 3, maxEntryBytes: one });
    for (let i = 0; i < 5; i++) await cache.set(`r${i}#k`, answer('x'.repeat(100)), 60_000, 100);
    expect(cache.size).toBe(3);
    expect(cache.totalBytes).toBeLessThanOrEqual(one * 3);
    expect(await cache.get('r0#k')).toBeUndefined();
    expect(await cache.get('r4#k')).toBeDefined();
    await cache.set('big#k', answer('x'.repeat(101)), 60_000, 100);
    expect(await cache.get('big#k')).toBeUndefined();
    expect(cache.stats.tooLarge).toBe(1);
  });

  it('replacing an entry does not count it twice', async () => {
    const cache = new MemoryResponseCache();
    await cache.set('r#1', answer('a'), 60_000, 1);
    await cache.set('r#1', answer('b'), 60_000, 1);
    expect(cache.size).toBe(1);
    expect(await cache.get('r#1')).toEqual(answer('b'));
    expect(cache.stats.evictions).toBe(0);
  });
});

describe('parseResponseCacheEnv / createResponseCache', () => {
  it('memory by default, Redis with a URL unless told otherwise', async () => {
    expect(parseResponseCacheEnv({})).toEqual({ backend: 'memory', maxTotalBytes: 64 * 1024 * 1024, maxEntryBytes: 1024 * 1024 });
    expect(parseResponseCacheEnv({ TOLLGATE_REDIS_URL: 'redis://r:6379' })).toMatchObject({ backend: 'redis', maxTotalBytes: 256 * 1024 * 1024, redis: { url: 'redis://r:6379' } });
    // The byte bound applies to the Redis cache too (all pods' entries together there).
    expect(parseResponseCacheEnv({ TOLLGATE_REDIS_URL: 'redis://r:6379', TOLLGATE_CACHE_MAX_BYTES: '1048576' })).toMatchObject({ backend: 'redis', maxTotalBytes: 1048576 });
    expect(parseResponseCacheEnv({ TOLLGATE_REDIS_URL: 'redis://r:6379', TOLLGATE_CACHE_BACKEND: 'memory' }).backend).toBe('memory');
    expect(() => parseResponseCacheEnv({ TOLLGATE_CACHE_BACKEND: 'redis' })).toThrow(/TOLLGATE_REDIS_URL/);
    // A Redis of the cache's own, apart from the rate limiter's (which a full cache then cannot starve).
    expect(parseResponseCacheEnv({ TOLLGATE_REDIS_URL: 'redis://limits:6379', TOLLGATE_CACHE_REDIS_URL: 'redis://cache:6379', TOLLGATE_REDIS_KEY_PREFIX: 'x:' })).toMatchObject({
      backend: 'redis',
      redis: { url: 'redis://cache:6379', keyPrefix: 'x:' },
    });
    expect(parseResponseCacheEnv({ TOLLGATE_CACHE_REDIS_URL: 'redis://cache:6379' })).toMatchObject({ backend: 'redis', redis: { url: 'redis://cache:6379' } });
    expect(() => parseResponseCacheEnv({ TOLLGATE_CACHE_REDIS_URL: 'cache:6379' })).toThrow(/TOLLGATE_CACHE_REDIS_URL/);
    const cache = createResponseCache(parseResponseCacheEnv({ TOLLGATE_CACHE_MAX_BYTES: '4096' }));
    expect(cache).toBeInstanceOf(MemoryResponseCache);
    await cache.close();
  });
});
