import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheKey } from '../../dataplane/governance/cache/cache-key.js';
import { createResponseCache } from '../../dataplane/governance/cache/create-response-cache.js';
import { RedisResponseCache } from '../../dataplane/governance/cache/redis-cache.js';
import { RedisRateLimitBackend } from '../../dataplane/governance/rate-limit/redis-backend.js';
import { waitReady } from '../../dataplane/governance/rate-limit/redis-client.js';
import { caller, testRoute } from '../../dataplane/governance/rate-limit/test-support.js';
import type { CachedResponse } from '../../dataplane/governance/types.js';
import { RedisTestServer } from './redis-server.js';

let server: RedisTestServer;
let admin: Redis;
const caches: RedisResponseCache[] = [];

beforeAll(async () => {
  server = await RedisTestServer.start();
  admin = new Redis(server.url);
});

afterAll(async () => {
  for (const c of caches) await c.close();
  admin.disconnect();
  await server.destroy();
});

async function podCache(prefix = 'tollgate:'): Promise<RedisResponseCache> {
  const cache = createResponseCache({ backend: 'redis', maxEntryBytes: 4096, maxTotalBytes: 16 * 1024 * 1024, redis: { url: server.url, timeoutMs: 500, keyPrefix: prefix } });
  if (!(cache instanceof RedisResponseCache)) throw new Error('expected the Redis cache');
  caches.push(cache);
  await waitReady(cache.client, 5000);
  return cache;
}

const response: CachedResponse = { kind: 'response', body: { id: 'chatcmpl-1', choices: [{ index: 0, message: { role: 'assistant', content: '4' } }] } };
const stream: CachedResponse = { kind: 'stream', chunks: [{ choices: [{ delta: { content: '4' } }] }, { choices: [{ delta: {}, finish_reason: 'stop' }] }] };

describe('Redis response cache (real redis-server)', () => {
  it('round-trips responses and streams between pods, isolated per caller', async () => {
    const [a, b] = [await podCache(), await podCache()];
    const route = testRoute([], { cache: { ttlMs: 60_000, maxEntries: 100, shareAcrossCallers: false } });
    const req = { op: 'chat' as const, body: { model: 'chat', messages: [{ role: 'user', content: 'What is 2+2?' }] }, stream: false, clientWantsUsage: false };
    const key = cacheKey(route, caller('app'), req);
    await a.set(key, response, 60_000, 100);
    expect(await b.get(key)).toEqual(response);
    expect(await b.get(cacheKey(route, caller('someone-else'), req))).toBeUndefined();
    const streamKey = cacheKey(route, caller('app'), { ...req, stream: true });
    await b.set(streamKey, stream, 60_000, 100);
    expect(await a.get(streamKey)).toEqual(stream);
    // the prompt is not in any key Redis holds
    expect((await admin.keys('*')).join(' ')).not.toContain('2+2');
    expect(b.stats).toMatchObject({ hits: 1, misses: 1, stores: 1 });
  });

  it('expires entries with their TTL and bounds each route to maxEntries, least recently used first', async () => {
    const cache = await podCache('bound:');
    await cache.set('r#short', response, 50, 10);
    expect(await admin.pttl('bound:cache:e:r#short')).toBeLessThanOrEqual(50);
    await new Promise((r) => setTimeout(r, 120));
    expect(await cache.get('r#short')).toBeUndefined();

    for (let i = 0; i < 3; i++) {
      await cache.set(`lru#${i}`, response, 60_000, 3);
      await new Promise((r) => setTimeout(r, 3)); // distinct last-use times (ms resolution)
    }
    expect(await cache.get('lru#0')).toBeDefined(); // lru#1 is now the least recently used
    await new Promise((r) => setTimeout(r, 3));
    await cache.set('lru#3', response, 60_000, 3);
    expect(await cache.get('lru#1')).toBeUndefined();
    expect(await cache.get('lru#0')).toBeDefined();
    expect(await cache.get('lru#3')).toBeDefined();
    expect(await admin.zcard('bound:cache:i:lru')).toBe(3);
    expect(cache.stats.evictions).toBe(1);
    // entries above maxEntryBytes are not stored
    await cache.set('lru#big', { kind: 'response', body: { text: 'x'.repeat(5000) } }, 60_000, 3);
    expect(cache.stats.tooLarge).toBe(1);
    expect(await admin.exists('bound:cache:e:lru#big')).toBe(0);
  });

  it('an unreadable entry is a miss, and Redis down is a miss, never an error', async () => {
    const errors: string[] = [];
    const cache = createResponseCache(
      { backend: 'redis', maxEntryBytes: 4096, maxTotalBytes: 16 * 1024 * 1024, redis: { url: server.url, timeoutMs: 200, keyPrefix: 'down:' } },
      { onError: (_e, op) => errors.push(op) },
    );
    if (!(cache instanceof RedisResponseCache)) throw new Error('redis');
    caches.push(cache);
    await waitReady(cache.client, 5000);
    await admin.set('down:cache:e:r#junk', '{"kind":"response"}');
    expect(await cache.get('r#junk')).toBeUndefined();
    await server.stop();
    expect(await cache.get('r#1')).toBeUndefined();
    await expect(cache.set('r#1', response, 1000, 10)).resolves.toBeUndefined();
    expect(errors).toEqual(['get', 'get', 'set']);
    expect(cache.stats.errors).toBe(3);
    await server.resume();
    await waitReady(cache.client, 10_000);
    await cache.set('r#1', response, 60_000, 10);
    expect(await cache.get('r#1')).toEqual(response);
  });
});

// One tenant must not be able to fill a shared Redis with cache entries: at maxmemory with
// noeviction, every admitting rate-limit script (and exact budgets) fails with OOM, so fail-open
// pods admit everyone unlimited and fail-closed pods refuse everyone.
describe('Redis response cache bound (redis-server at maxmemory 8mb, noeviction)', () => {
  let full: RedisTestServer;
  let fullAdmin: Redis;
  const budget = 2 * 1024 * 1024;

  beforeAll(async () => {
    full = await RedisTestServer.start();
    fullAdmin = new Redis(full.url);
    await fullAdmin.config('SET', 'maxmemory', '8mb');
    await fullAdmin.config('SET', 'maxmemory-policy', 'noeviction');
  });

  afterAll(async () => {
    fullAdmin.disconnect();
    await full.destroy();
  });

  async function boundedCache(keyPrefix = 'fill:'): Promise<RedisResponseCache> {
    const cache = createResponseCache({ backend: 'redis', maxEntryBytes: 64 * 1024, maxTotalBytes: budget, redis: { url: full.url, timeoutMs: 2000, keyPrefix } });
    if (!(cache instanceof RedisResponseCache)) throw new Error('expected the Redis cache');
    caches.push(cache);
    await waitReady(cache.client, 5000);
    return cache;
  }

  const sized = (i: number): CachedResponse => ({ kind: 'response', body: { i, text: 'x'.repeat(8 * 1024) } });

  it('does not count expired entries against maxEntries (a live entry stays)', async () => {
    const cache = await boundedCache('stale:');
    const v = (s: string): CachedResponse => ({ kind: 'response', body: { s } });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const ttl = 1000;
    const start = Date.now();
    await cache.set('stale/r#A', v('A'), ttl, 2);
    await sleep(500 - (Date.now() - start));
    await cache.set('stale/r#B', v('B'), ttl, 2);
    await sleep(850 - (Date.now() - start));
    expect(await cache.get('stale/r#A')).toBeDefined(); // A becomes the most recently used
    await sleep(1150 - (Date.now() - start)); // A has expired, B has 350 ms left
    await cache.set('stale/r#C', v('C'), ttl, 2);
    expect(await cache.get('stale/r#B')).toEqual(v('B'));
    expect(await cache.get('stale/r#C')).toEqual(v('C'));
  });

  it('keeps all routes of all namespaces within its byte budget: Redis does not fill, rate limits still admit, another namespace keeps its entries', async () => {
    const cache = await boundedCache();
    // A quiet tenant stores a few answers first.
    for (let i = 0; i < 10; i++) await cache.set(`quiet/chat#${i}`, sized(i), 3_600_000, 1000);
    // A noisy tenant stores ~24 MiB over many routes (its own mock Provider costs nothing), three
    // times maxmemory; a second noisy namespace joins in.
    for (let i = 0; i < 3000; i++) await cache.set(`noisy/r${i % 40}#${i}`, sized(i), 86_400_000, 100_000);
    for (let i = 0; i < 300; i++) await cache.set(`other/r${i % 5}#${i}`, sized(i), 86_400_000, 100_000);
    expect(cache.stats.errors).toBe(0);
    const accounted = Number(await fullAdmin.get('fill:cache:g:total'));
    expect(accounted).toBeGreaterThan(budget / 2);
    expect(accounted).toBeLessThanOrEqual(budget);
    const info = await fullAdmin.info('memory');
    const used = Number(/used_memory:(\d+)/.exec(info)?.[1]);
    expect(used).toBeLessThan(6 * 1024 * 1024);
    // No namespace holds more than half of the budget.
    for (const ns of ['noisy', 'other', 'quiet']) expect(Number(await fullAdmin.zscore('fill:cache:g:ns', ns))).toBeLessThanOrEqual(budget / 2);
    // The quiet tenant's entries are still there, and it can still store.
    for (let i = 0; i < 10; i++) expect(await cache.get(`quiet/chat#${i}`)).toEqual(sized(i));
    await cache.set('quiet/chat#new', sized(99), 3_600_000, 1000);
    expect(await cache.get('quiet/chat#new')).toEqual(sized(99));
    // The rate limiter sharing this Redis still admits a fresh bucket.
    const limiter = new RedisRateLimitBackend(new Redis(full.url));
    try {
      await waitReady(limiter.client, 5000);
      const result = await limiter.take([{ key: 'fresh', dimension: 'requests', limit: 10, cost: 1, description: '' }]);
      expect(result.admitted).toBe(true);
    } finally {
      await limiter.close();
    }
  });

  it('an entry above the budget share is not stored', async () => {
    const cache = createResponseCache({ backend: 'redis', maxEntryBytes: 64 * 1024, maxTotalBytes: 16 * 1024, redis: { url: full.url, timeoutMs: 2000, keyPrefix: 'tiny:' } });
    if (!(cache instanceof RedisResponseCache)) throw new Error('expected the Redis cache');
    caches.push(cache);
    await waitReady(cache.client, 5000);
    await cache.set('ns/r#big', sized(1), 60_000, 10);
    expect(cache.stats.tooLarge).toBe(1);
    expect(await fullAdmin.exists('tiny:cache:e:ns/r#big')).toBe(0);
  });

  // Last: it leaves this redis-server at maxmemory.
  it('with Redis at maxmemory for other reasons, a store fails whole (skipped, nothing half-written) and hits are still served', async () => {
    const errors: string[] = [];
    const cache = createResponseCache(
      { backend: 'redis', maxEntryBytes: 64 * 1024, maxTotalBytes: budget, redis: { url: full.url, timeoutMs: 2000, keyPrefix: 'oom:' } },
      { onError: (_e, op) => errors.push(op) },
    );
    if (!(cache instanceof RedisResponseCache)) throw new Error('expected the Redis cache');
    caches.push(cache);
    await waitReady(cache.client, 5000);
    await cache.set('ns/r#kept', sized(1), 60_000, 10);
    const accounted = await fullAdmin.get('oom:cache:g:total');
    // Redis is full for other reasons (here: its maxmemory lowered below what it holds).
    const used = Number(/used_memory:(\d+)/.exec(await fullAdmin.info('memory'))?.[1]);
    await fullAdmin.config('SET', 'maxmemory', String(used - 256 * 1024));
    await expect(fullAdmin.set('probe', 'x')).rejects.toThrow(/OOM/);
    await cache.set('ns/r#new', sized(2), 60_000, 10);
    expect(errors).toEqual(['set']);
    expect(await fullAdmin.exists('oom:cache:e:ns/r#new')).toBe(0);
    expect(await fullAdmin.get('oom:cache:g:total')).toBe(accounted);
    expect(await fullAdmin.zrange('oom:cache:i:ns/r', '0', '-1')).toEqual(['oom:cache:e:ns/r#kept']);
    expect(await cache.get('ns/r#kept')).toEqual(sized(1));
    expect(errors).toEqual(['set']);
  });
});
