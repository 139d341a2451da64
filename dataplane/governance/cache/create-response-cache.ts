import type { Redis } from 'ioredis';
import { createRedisClient } from '../rate-limit/redis-client.js';
import type { ResponseCacheConfig } from './response-cache-config.js';
import type { CacheStats } from './cache-stats.js';
import { MemoryResponseCache } from './memory-cache.js';
import { RedisResponseCache } from './redis-cache.js';
import type { ResponseCache } from '../types.js';

export { parseResponseCacheEnv, type ResponseCacheConfig } from './response-cache-config.js';

/** A ResponseCache with counters for metrics and a close() for shutdown. */
export interface ResponseCacheHandle extends ResponseCache {
  readonly stats: CacheStats;
  close(): Promise<void>;
}

export interface ResponseCacheHooks {
  onError?: (err: unknown, op: 'get' | 'set') => void;
  onConnectionError?: (err: Error) => void;
  /** Use this client instead of connecting a new one (it is then not closed by the cache). */
  redisClient?: Redis;
  now?: () => number;
}

/** The response cache for the configured backend; `close()` it on shutdown. */
export function createResponseCache(config: ResponseCacheConfig, hooks: ResponseCacheHooks = {}): ResponseCacheHandle {
  if (config.backend === 'memory') {
    return new MemoryResponseCache({ maxTotalBytes: config.maxTotalBytes, maxEntryBytes: config.maxEntryBytes, ...(hooks.now ? { now: hooks.now } : {}) });
  }
  const client = hooks.redisClient ?? createRedisClient(config.redis, hooks.onConnectionError);
  return new RedisResponseCache(client, {
    keyPrefix: `${config.redis.keyPrefix}cache:`,
    maxEntryBytes: config.maxEntryBytes,
    maxTotalBytes: config.maxTotalBytes,
    ownsClient: hooks.redisClient === undefined,
    ...(hooks.onError ? { onError: hooks.onError } : {}),
  });
}
