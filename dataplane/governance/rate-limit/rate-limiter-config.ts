import { z } from 'zod';
import type { FailMode } from './rate-limit-admitter.js';

/** The Redis settings shared by the rate limiter and the response cache. */
export interface RedisSettings {
  url: string;
  /** Bound for connecting and for each command, ms. */
  timeoutMs: number;
  /** Prefix of every key Tollgate writes (default "tollgate:"). */
  keyPrefix: string;
}

export type RateLimiterConfig =
  | { backend: 'local'; countMaxOutputTokens: boolean; replicas: number }
  | { backend: 'redis'; countMaxOutputTokens: boolean; failMode: FailMode; redis: RedisSettings };

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const EnvSchema = z.object({
  TOLLGATE_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  TOLLGATE_REDIS_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(250),
  TOLLGATE_REDIS_KEY_PREFIX: z.string().max(64).default('tollgate:'),
  TOLLGATE_RATE_LIMIT_FAIL_MODE: z.enum(['open', 'closed']).default('open'),
  TOLLGATE_RATE_LIMIT_COUNT_MAX_OUTPUT: bool.default(false),
});

function parseEnv(env: Record<string, string | undefined>): z.infer<typeof EnvSchema> {
  const blanksRemoved = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(blanksRemoved);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid rate-limit configuration: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** The Redis settings from the environment, or undefined when TOLLGATE_REDIS_URL is unset. */
export function parseRedisSettings(env: Record<string, string | undefined>): RedisSettings | undefined {
  const e = parseEnv(env);
  if (e.TOLLGATE_REDIS_URL === undefined) return undefined;
  return { url: e.TOLLGATE_REDIS_URL, timeoutMs: e.TOLLGATE_REDIS_TIMEOUT_MS, keyPrefix: e.TOLLGATE_REDIS_KEY_PREFIX };
}

/**
 * Reads the rate-limiter settings once (call at startup, not per request):
 * TOLLGATE_REDIS_URL selects the Redis backend (absent: per-pod buckets);
 * TOLLGATE_RATE_LIMIT_FAIL_MODE=open|closed (default open); TOLLGATE_REDIS_TIMEOUT_MS (default 250);
 * TOLLGATE_REDIS_KEY_PREFIX (default "tollgate:"); TOLLGATE_RATE_LIMIT_COUNT_MAX_OUTPUT=true|false.
 */
export function parseRateLimiterEnv(env: Record<string, string | undefined>): RateLimiterConfig {
  const e = parseEnv(env);
  const redis = parseRedisSettings(env);
  if (redis === undefined) return { backend: 'local', countMaxOutputTokens: e.TOLLGATE_RATE_LIMIT_COUNT_MAX_OUTPUT, replicas: 1 };
  return { backend: 'redis', countMaxOutputTokens: e.TOLLGATE_RATE_LIMIT_COUNT_MAX_OUTPUT, failMode: e.TOLLGATE_RATE_LIMIT_FAIL_MODE, redis };
}
