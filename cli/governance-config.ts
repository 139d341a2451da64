import type { Logger } from 'pino';
import { createResponseCache, parseResponseCacheEnv, type ResponseCacheHandle } from '../dataplane/governance/cache/create-response-cache.js';
import { createRateLimiter } from '../dataplane/governance/rate-limit/create-rate-limiter.js';
import type { RateLimitAdmitter } from '../dataplane/governance/rate-limit/rate-limit-admitter.js';
import { parseRateLimiterEnv } from '../dataplane/governance/rate-limit/rate-limiter-config.js';

/** Rate limiter and response cache from the environment (TOLLGATE_REDIS_URL and friends), read once. */
export function governanceFromEnv(env: NodeJS.ProcessEnv, logger: Logger): { rateLimiter: RateLimitAdmitter; cache: ResponseCacheHandle } {
  const rateLimiter = createRateLimiter(parseRateLimiterEnv(env), {
    onBackendError: (err, op) => logger.warn({ err: (err as Error).message, op }, 'rate-limit backend failed'),
    onConnectionError: (err) => logger.warn({ err: err.message }, 'redis connection error'),
  });
  const cache = createResponseCache(parseResponseCacheEnv(env), {
    onError: (err, op) => logger.warn({ err: (err as Error).message, op }, 'response cache failed'),
    onConnectionError: (err) => logger.warn({ err: err.message }, 'redis connection error'),
  });
  return { rateLimiter, cache };
}
