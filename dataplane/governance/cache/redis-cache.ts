import type { Redis } from 'ioredis';
import { z } from 'zod';
import { RedisScript } from '../rate-limit/redis-script.js';
import type { CachedResponse, ResponseCache } from '../types.js';
import { partitionOf } from './cache-key.js';
import { type CacheStats, newCacheStats } from './cache-stats.js';

const JsonObjectSchema = z.record(z.string(), z.unknown());
const CachedResponseSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('response'), body: JsonObjectSchema }),
  z.object({ kind: z.literal('stream'), chunks: z.array(JsonObjectSchema) }),
]);

const NOW = `
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
`;

/** KEYS: entry, route index. ARGV: entry key (index member). Reads and marks the entry as used. */
const GET_SCRIPT = `${NOW}
local v = redis.call('GET', KEYS[1])
if v then redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1]) end
return v
`;

/**
 * KEYS: entry, route index. ARGV: value, ttl ms, max entries. Stores the entry, records it in the
 * route's index (a sorted set by last use) and drops the least recently used entries beyond the
 * bound. The index lives as long as its newest entry. Index members are entry key names, so this
 * needs a single Redis primary, not Redis Cluster (as the rate limiter does).
 */
const SET_SCRIPT = `${NOW}
local ttl = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now, KEYS[1])
local evicted = 0
local n = redis.call('ZCARD', KEYS[2])
if n > max then
  local old = redis.call('ZPOPMIN', KEYS[2], n - max)
  for i = 1, #old, 2 do
    evicted = evicted + redis.call('DEL', old[i])
  end
end
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return evicted
`;

export interface RedisCacheOptions {
  /** Prepended to every key (default "tollgate:cache:"). */
  keyPrefix?: string;
  /** Larger responses are not cached (default 1 MiB). */
  maxEntryBytes?: number;
  onError?: (err: unknown, op: 'get' | 'set') => void;
  /** Close the client with the cache (default true). */
  ownsClient?: boolean;
}

/**
 * The response cache in Redis, shared by every pod: one round trip per get and per set. Redis
 * failures never fail a request: a get is a miss, a set is skipped, and both are counted.
 */
export class RedisResponseCache implements ResponseCache {
  readonly stats: CacheStats = newCacheStats();
  private readonly getScript = new RedisScript(GET_SCRIPT);
  private readonly setScript = new RedisScript(SET_SCRIPT);
  private readonly prefix: string;
  private readonly maxEntryBytes: number;

  constructor(
    readonly client: Redis,
    private readonly opts: RedisCacheOptions = {},
  ) {
    this.prefix = opts.keyPrefix ?? 'tollgate:cache:';
    this.maxEntryBytes = opts.maxEntryBytes ?? 1024 * 1024;
  }

  private keys(key: string): [string, string] {
    return [`${this.prefix}e:${key}`, `${this.prefix}i:${partitionOf(key)}`];
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    try {
      if (this.client.status !== 'ready') throw new Error(`Redis is not connected (status ${this.client.status})`);
      const keys = this.keys(key);
      const raw = await this.getScript.run(this.client, keys, [keys[0]]);
      if (raw === null || raw === undefined) {
        this.stats.misses++;
        return undefined;
      }
      const parsed = CachedResponseSchema.safeParse(JSON.parse(String(raw)));
      if (!parsed.success) throw new Error(`unreadable cache entry ${keys[0]}`);
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
    if (Buffer.byteLength(json) > this.maxEntryBytes) {
      this.stats.tooLarge++;
      return;
    }
    if (ttlMs <= 0 || maxEntries < 1) return;
    try {
      if (this.client.status !== 'ready') throw new Error(`Redis is not connected (status ${this.client.status})`);
      const evicted = await this.setScript.run(this.client, this.keys(key), [json, Math.ceil(ttlMs), Math.floor(maxEntries)]);
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
    this.opts.onError?.(err, op);
  }
}
