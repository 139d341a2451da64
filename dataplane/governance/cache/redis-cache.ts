import type { Redis } from 'ioredis';
import { z } from 'zod';
import { RedisScript } from '../rate-limit/redis-script.js';
import type { CachedResponse, ResponseCache } from '../types.js';
import { partitionOf } from './cache-key.js';
import { GET_SCRIPT, SET_SCRIPT } from './redis-cache-scripts.js';
import { type CacheStats, newCacheStats } from './cache-stats.js';

const JsonObjectSchema = z.record(z.string(), z.unknown());
const CachedResponseSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('response'), body: JsonObjectSchema }),
  z.object({ kind: z.literal('stream'), chunks: z.array(JsonObjectSchema) }),
]);

/** Default bound of all entries in Redis together (TOLLGATE_CACHE_MAX_BYTES with the Redis cache). */
export const DEFAULT_REDIS_CACHE_MAX_BYTES = 256 * 1024 * 1024;

/**
 * What an entry is accounted at, an estimate of what it takes of Redis's memory: its JSON text
 * rounded up as the allocator does (jemalloc's size classes are up to 25 % apart), its key name held
 * five times (the key, the route, namespace and expiry indexes, the size hash), and fixed
 * bookkeeping per holding. Measured on Redis 7 with entries of 10 B to 8 KiB: at or above what they
 * add to used_memory (test/redis/response-cache-redis.test.ts checks used_memory against the bound).
 */
export function accountedBytes(jsonBytes: number, entryKey: string): number {
  return Math.ceil(jsonBytes * 1.25) + 5 * Buffer.byteLength(entryKey) + ENTRY_OVERHEAD_BYTES;
}
const ENTRY_OVERHEAD_BYTES = 640;

/** The namespace of a route id ("namespace/name"); what the byte share is kept per. */
export function namespaceOfRoute(route: string): string {
  const i = route.indexOf('/');
  return i < 0 ? route : route.slice(0, i);
}

export interface RedisCacheOptions {
  /** Prepended to every key (default "tollgate:cache:"). */
  keyPrefix?: string;
  /** Larger responses are not cached (default 1 MiB). */
  maxEntryBytes?: number;
  /**
   * All entries of all routes together, in accounted bytes (accountedBytes; default 256 MiB); one
   * namespace holds at most half. Every pod sharing the Redis should be given the same bound.
   */
  maxTotalBytes?: number;
  onError?: (err: unknown, op: 'get' | 'set') => void;
  /** Close the client with the cache (default true). */
  ownsClient?: boolean;
}

/**
 * The response cache in Redis, shared by every pod: one round trip per get and per set. Redis
 * failures never fail a request: a get is a miss, a set is skipped, and both are counted. The
 * entries of all routes are bounded together in bytes (maxTotalBytes), so that the cache cannot
 * fill a Redis it shares with the rate limiter and exact budgets (at maxmemory with noeviction
 * their scripts fail, and with them every tenant's limits).
 */
export class RedisResponseCache implements ResponseCache {
  readonly stats: CacheStats = newCacheStats();
  private readonly getScript = new RedisScript(GET_SCRIPT);
  private readonly setScript = new RedisScript(SET_SCRIPT);
  private readonly prefix: string;
  private readonly maxEntryBytes: number;
  private readonly maxTotalBytes: number;

  constructor(
    readonly client: Redis,
    private readonly opts: RedisCacheOptions = {},
  ) {
    this.prefix = opts.keyPrefix ?? 'tollgate:cache:';
    this.maxEntryBytes = opts.maxEntryBytes ?? 1024 * 1024;
    this.maxTotalBytes = opts.maxTotalBytes ?? DEFAULT_REDIS_CACHE_MAX_BYTES;
  }

  /** entry, route index, namespace index, then the accounting (g:exp, g:size, g:ns, g:total). */
  private keys(key: string): { keys: string[]; namespace: string } {
    const route = partitionOf(key);
    const namespace = namespaceOfRoute(route);
    const p = this.prefix;
    return { keys: [`${p}e:${key}`, `${p}i:${route}`, `${p}n:${namespace}`, `${p}g:exp`, `${p}g:size`, `${p}g:ns`, `${p}g:total`], namespace };
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    try {
      if (this.client.status !== 'ready') throw new Error(`Redis is not connected (status ${this.client.status})`);
      const { keys } = this.keys(key);
      const raw = await this.getScript.run(this.client, keys, [this.prefix]);
      if (raw === null || raw === undefined) {
        this.stats.misses++;
        return undefined;
      }
      const parsed = CachedResponseSchema.safeParse(JSON.parse(String(raw)));
      if (!parsed.success) throw new Error(`unreadable cache entry ${keys[0] ?? key}`);
      this.stats.hits++;
      return parsed.data;
    } catch (err) {
      this.failed(err, 'get');
      this.stats.misses++;
      return undefined;
    }
  }

  async set(key: string, value: CachedResponse, ttlMs: number, maxEntries: number): Promise<void> {
    const json = JSON.stringify(value);
    const bytes = Buffer.byteLength(json);
    const { keys, namespace } = this.keys(key);
    const cost = accountedBytes(bytes, keys[0] ?? key);
    // A namespace holds at most half of the budget: an entry above that would evict all of it and still not fit.
    if (bytes > this.maxEntryBytes || cost > Math.floor(this.maxTotalBytes / 2)) {
      this.stats.tooLarge++;
      return;
    }
    if (ttlMs <= 0 || maxEntries < 1) return;
    try {
      if (this.client.status !== 'ready') throw new Error(`Redis is not connected (status ${this.client.status})`);
      const evicted = await this.setScript.run(this.client, keys, [
        this.prefix,
        json,
        Math.ceil(ttlMs),
        Math.floor(maxEntries),
        cost,
        this.maxTotalBytes,
        Math.floor(this.maxTotalBytes / 2),
        namespace,
      ]);
      this.stats.stores++;
      this.stats.evictions += typeof evicted === 'number' ? evicted : 0;
    } catch (err) {
      this.failed(err, 'set');
    }
  }

  async close(): Promise<void> {
    if (this.opts.ownsClient === false) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private failed(err: unknown, op: 'get' | 'set'): void {
    this.stats.errors++;
    this.stats.errorsByOp[op]++;
    this.opts.onError?.(err, op);
  }
}
