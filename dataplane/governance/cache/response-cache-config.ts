import { z } from 'zod';
import { parseRedisSettings, type RedisSettings } from '../rate-limit/rate-limiter-config.js';

export type ResponseCacheConfig =
  | { backend: 'memory'; maxTotalBytes: number; maxEntryBytes: number }
  | { backend: 'redis'; maxEntryBytes: number; redis: RedisSettings };

const EnvSchema = z.object({
  TOLLGATE_CACHE_BACKEND: z.enum(['memory', 'redis']).optional(),
  TOLLGATE_CACHE_MAX_BYTES: z.coerce.number().int().min(1024).default(64 * 1024 * 1024),
  TOLLGATE_CACHE_MAX_ENTRY_BYTES: z.coerce.number().int().min(1).default(1024 * 1024),
});

/**
 * Reads the cache settings once at startup. The cache lives in Redis when TOLLGATE_REDIS_URL is
 * set (unless TOLLGATE_CACHE_BACKEND=memory), else in each pod's memory, bounded by
 * TOLLGATE_CACHE_MAX_BYTES (default 64 MiB). Responses above TOLLGATE_CACHE_MAX_ENTRY_BYTES
 * (default 1 MiB) are not cached. Whether a route caches at all is the route's `cache`.
 */
export function parseResponseCacheEnv(env: Record<string, string | undefined>): ResponseCacheConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid cache configuration: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  const redis = parseRedisSettings(env);
  const backend = e.TOLLGATE_CACHE_BACKEND ?? (redis === undefined ? 'memory' : 'redis');
  if (backend === 'memory') return { backend, maxTotalBytes: e.TOLLGATE_CACHE_MAX_BYTES, maxEntryBytes: e.TOLLGATE_CACHE_MAX_ENTRY_BYTES };
  if (redis === undefined) throw new Error('invalid cache configuration: TOLLGATE_CACHE_BACKEND=redis needs TOLLGATE_REDIS_URL');
  return { backend, maxEntryBytes: e.TOLLGATE_CACHE_MAX_ENTRY_BYTES, redis };
}
