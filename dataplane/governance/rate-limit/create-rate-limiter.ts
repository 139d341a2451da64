import type { Redis } from 'ioredis';
import { LocalRateLimitBackend } from './local-backend.js';
import { RateLimitAdmitter } from './rate-limit-admitter.js';
import type { RateLimiterConfig } from './rate-limiter-config.js';
import { RedisRateLimitBackend } from './redis-backend.js';
import { createRedisClient } from './redis-client.js';

export interface RateLimiterHooks {
  /** Every backend failure (Redis down, timeout): count it, log it. */
  onBackendError?: (err: unknown, op: 'take' | 'adjust') => void;
  /** Redis connection errors as ioredis reports them (reconnects are automatic). */
  onConnectionError?: (err: Error) => void;
  /** Use this client instead of connecting a new one (it is then not closed by the limiter). */
  redisClient?: Redis;
  now?: () => number;
}

/** The rate limiter for the configured backend. Close it on shutdown. */
export function createRateLimiter(config: RateLimiterConfig, hooks: RateLimiterHooks = {}): RateLimitAdmitter {
  const policy = { countMaxOutputTokens: config.countMaxOutputTokens };
  const onBackendError = hooks.onBackendError;
  if (config.backend === 'local') {
    const backend = new LocalRateLimitBackend({ replicas: config.replicas, ...(hooks.now ? { now: hooks.now } : {}) });
    return new RateLimitAdmitter({ backend, ...policy, ...(onBackendError ? { onBackendError } : {}) });
  }
  const client = hooks.redisClient ?? createRedisClient(config.redis, hooks.onConnectionError);
  const backend = new RedisRateLimitBackend(client, { keyPrefix: `${config.redis.keyPrefix}rl:`, ownsClient: hooks.redisClient === undefined });
  return new RateLimitAdmitter({ backend, failMode: config.failMode, ...policy, ...(onBackendError ? { onBackendError } : {}) });
}
