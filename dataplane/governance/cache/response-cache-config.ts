import { z } from 'zod';
import { parseRedisSettings, type RedisSettings } from '../rate-limit/rate-limiter-config.js';

export type ResponseCacheConfig =
  | { backend: 'memory'; maxTotalBytes: number; maxEntryBytes: number }
  | { backend: 'redis'; maxTotalBytes: number; maxEntryBytes: number; redis: RedisSettings };

const MIB = 1024 * 1024;

const EnvSchema = z.object({
  TOLLGATE_CACHE_BACKEND: z.enum(['memory', 'redis']).optional(),
  TOLLGATE_CACHE_MAX_BYTES: z.coerce.number().int().min(1024).optional(),
  TOLLGATE_CACHE_MAX_ENTRY_BYTES: z.coerce.number().int().min(1).default(1024 * 1024),
  TOLLGATE_CACHE_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
});

/**
 * Reads the cache settings once at startup. The cache lives in Redis when TOLLGATE_REDIS_URL is
 * set (unless TOLLGATE_CACHE_BACKEND=memory), else in each pod's memory. TOLLGATE_CACHE_MAX_BYTES bounds
 * all entries together: per pod in memory (default 64 MiB), in Redis for all pods together (default
 * 256 MiB, one namespace at most half). Responses above TOLLGATE_CACHE_MAX_ENTRY_BYTES
 * (default 1 MiB) are not cached. TOLLGATE_CACHE_REDIS_URL puts the cache in a Redis of its own (same
 * timeout and key prefix), apart from the rate limiter's and exact budgets'. Whether a route caches
 * at all is the route's `cache`.
 */
export function parseResponseCacheEnv(env: Record<string, string | undefined>): ResponseCacheConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid cache configuration: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  const own = e.TOLLGATE_CACHE_REDIS_URL;
  const redis = parseRedisSettings(own === undefined ? env : { ...env, TOLLGATE_REDIS_URL: own });
  const backend = e.TOLLGATE_CACHE_BACKEND ?? (redis === undefined ? 'memory' : 'redis');
  if (backend === 'memory') return { backend, maxTotalBytes: e.TOLLGATE_CACHE_MAX_BYTES ?? 64 * MIB, maxEntryBytes: e.TOLLGATE_CACHE_MAX_ENTRY_BYTES };
  if (redis === undefined) throw new Error('invalid cache configuration: TOLLGATE_CACHE_BACKEND=redis needs TOLLGATE_REDIS_URL or TOLLGATE_CACHE_REDIS_URL');
  return { backend, maxTotalBytes: e.TOLLGATE_CACHE_MAX_BYTES ?? 256 * MIB, maxEntryBytes: e.TOLLGATE_CACHE_MAX_ENTRY_BYTES, redis };
}
