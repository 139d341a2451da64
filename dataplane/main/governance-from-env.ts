import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { MemoryResponseCache } from '../governance/cache/memory-cache.js';
import type { ResponseCacheHandle } from '../governance/cache/create-response-cache.js';
import { parseResponseCacheEnv } from '../governance/cache/response-cache-config.js';
import { LocalRateLimitBackend } from '../governance/rate-limit/local-backend.js';
import { RateLimitAdmitter } from '../governance/rate-limit/rate-limit-admitter.js';
import { parseRateLimiterEnv } from '../governance/rate-limit/rate-limiter-config.js';
import { parseBudgetModeEnv } from '../governance/budget/budget-mode-config.js';
import { throttledWarning } from '../telemetry/throttled-warning.js';
import { asStartupError } from './startup-error.js';

/**
 * Rate limiter and response cache from the environment (TOLLGATE_REDIS_URL and friends), read once.
 * Without Redis the Redis client is never loaded (it costs a data plane about 20 MB of memory).
 */
export async function governanceFromEnv(env: NodeJS.ProcessEnv, logger: Logger): Promise<{ rateLimiter: RateLimitAdmitter; cache: ResponseCacheHandle }> {
  const limits = asStartupError(() => parseRateLimiterEnv(env));
  const caching = asStartupError(() => parseResponseCacheEnv(env));
  // Once per request while Redis is down: at most one line per operation per 10 s (metrics count each).
  const onBackendError = throttledWarning(logger, 'rate-limit backend failed');
  const onError = throttledWarning(logger, 'response cache failed');
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
  const rateLimiter = createRateLimiter(limits, { onBackendError, onConnectionError });
  const cache = createResponseCache(caching, { onError, onConnectionError });
  const redis = caching.backend === 'redis' ? caching.redis : limits.backend === 'redis' ? limits.redis : undefined;
  if (redis !== undefined) await redisConnected([rateLimiter.backend, cache], redis.timeoutMs, logger);
  return { rateLimiter, cache };
}

/**
 * Waits for the Redis clients to connect, for at most one connect timeout. A data plane that served
 * before would skip the shared cache (an answered request not stored for the next identical one)
 * and apply the fail mode to its first requests. Redis still down then: it starts anyway, and the
 * clients keep connecting in the background.
 */
async function redisConnected(parts: readonly unknown[], timeoutMs: number, logger: Logger): Promise<void> {
  const { RedisRateLimitBackend } = await import('../governance/rate-limit/redis-backend.js');
  const { RedisResponseCache } = await import('../governance/cache/redis-cache.js');
  const { connectTimeoutMs, waitReady } = await import('../governance/rate-limit/redis-client.js');
  const clients = parts.flatMap((part) => (part instanceof RedisRateLimitBackend || part instanceof RedisResponseCache ? [part.client] : []));
  await Promise.all(
    clients.map((client) =>
      waitReady(client, connectTimeoutMs({ timeoutMs })).catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, 'Redis not connected at start-up; serving meanwhile, it connects in the background'),
      ),
    ),
  );
}

/** Exact budgets (TOLLGATE_BUDGET_MODE=exact): a Redis client of their own, connected at start-up. */
export async function exactBudgetsFromEnv(
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<{ client: Redis; keyPrefix: string; holdTimeoutMs: number } | undefined> {
  const config = asStartupError(() => parseBudgetModeEnv(env));
  if (config.mode !== 'exact') return undefined;
  const { createRedisClient } = await import('../governance/rate-limit/redis-client.js');
  const client = createRedisClient(config.redis, (err) => logger.warn({ err: err.message }, 'redis connection error (exact budgets)'));
  logger.info({ holdTimeoutMs: config.holdTimeoutMs }, 'budgets are exact: holds and spend in Redis');
  return { client, keyPrefix: config.redis.keyPrefix, holdTimeoutMs: config.holdTimeoutMs };
}
