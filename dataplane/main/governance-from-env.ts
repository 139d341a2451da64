import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { MemoryResponseCache } from '../governance/cache/memory-cache.js';
import type { ResponseCacheHandle } from '../governance/cache/create-response-cache.js';
import { parseResponseCacheEnv } from '../governance/cache/response-cache-config.js';
import { LocalRateLimitBackend } from '../governance/rate-limit/local-backend.js';
import { RateLimitAdmitter } from '../governance/rate-limit/rate-limit-admitter.js';
import { parseRateLimiterEnv } from '../governance/rate-limit/rate-limiter-config.js';
import { parseBudgetModeEnv } from '../governance/budget/budget-mode-config.js';

/**
 * Rate limiter and response cache from the environment (TOLLGATE_REDIS_URL and friends), read once.
 * Without Redis the Redis client is never loaded (it costs a data plane about 20 MB of memory).
 */
export async function governanceFromEnv(env: NodeJS.ProcessEnv, logger: Logger): Promise<{ rateLimiter: RateLimitAdmitter; cache: ResponseCacheHandle }> {
  const limits = parseRateLimiterEnv(env);
  const caching = parseResponseCacheEnv(env);
  const onBackendError = (err: unknown, op: string): void => logger.warn({ err: (err as Error).message, op }, 'rate-limit backend failed');
  const onError = (err: unknown, op: string): void => logger.warn({ err: (err as Error).message, op }, 'response cache failed');
  const onConnectionError = (err: Error): void => logger.warn({ err: err.message }, 'redis connection error');
  if (limits.backend === 'local' && caching.backend === 'memory') {
    return {
      rateLimiter: new RateLimitAdmitter({
        backend: new LocalRateLimitBackend({ replicas: limits.replicas }),
        countMaxOutputTokens: limits.countMaxOutputTokens,
        onBackendError,
      }),
      cache: new MemoryResponseCache({ maxTotalBytes: caching.maxTotalBytes, maxEntryBytes: caching.maxEntryBytes }),
    };
  }
  const { createRateLimiter } = await import('../governance/rate-limit/create-rate-limiter.js');
  const { createResponseCache } = await import('../governance/cache/create-response-cache.js');
  return {
    rateLimiter: createRateLimiter(limits, { onBackendError, onConnectionError }),
    cache: createResponseCache(caching, { onError, onConnectionError }),
  };
}

/** Exact budgets (TOLLGATE_BUDGET_MODE=exact): a Redis client of their own, connected at start-up. */
export async function exactBudgetsFromEnv(
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<{ client: Redis; keyPrefix: string; holdTimeoutMs: number } | undefined> {
  const config = parseBudgetModeEnv(env);
  if (config.mode !== 'exact') return undefined;
  const { createRedisClient } = await import('../governance/rate-limit/redis-client.js');
  const client = createRedisClient(config.redis, (err) => logger.warn({ err: err.message }, 'redis connection error (exact budgets)'));
  logger.info({ holdTimeoutMs: config.holdTimeoutMs }, 'budgets are exact: holds and spend in Redis');
  return { client, keyPrefix: config.redis.keyPrefix, holdTimeoutMs: config.holdTimeoutMs };
}
