import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheKey } from '../../dataplane/governance/cache/cache-key.js';
import { createResponseCache } from '../../dataplane/governance/cache/create-response-cache.js';
import { RedisResponseCache } from '../../dataplane/governance/cache/redis-cache.js';
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
  const cache = createResponseCache({ backend: 'redis', maxEntryBytes: 4096, redis: { url: server.url, timeoutMs: 500, keyPrefix: prefix } });
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
      { backend: 'redis', maxEntryBytes: 4096, redis: { url: server.url, timeoutMs: 200, keyPrefix: 'down:' } },
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
