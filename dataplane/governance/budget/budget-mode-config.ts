import { z } from 'zod';
import { parseRedisSettings, type RedisSettings } from '../rate-limit/rate-limiter-config.js';

/**
 * How budgets are kept: `reported` (default: per-pod shares, usage reported to the operator every
 * 200 ms) or `exact` (holds and spend in the Redis of TOLLGATE_REDIS_URL, written before the
 * upstream call; see docs/governance.md).
 */
export type BudgetModeConfig = { mode: 'reported' } | { mode: 'exact'; redis: RedisSettings; holdTimeoutMs: number };

const EnvSchema = z.object({
  TOLLGATE_BUDGET_MODE: z.enum(['reported', 'exact']).default('reported'),
  TOLLGATE_BUDGET_HOLD_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(30_000),
});

/** Reads the budget mode once at start-up; exact without Redis is a configuration error. */
export function parseBudgetModeEnv(env: Record<string, string | undefined>): BudgetModeConfig {
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid budget configuration: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  if (parsed.data.TOLLGATE_BUDGET_MODE === 'reported') return { mode: 'reported' };
  const redis = parseRedisSettings(env);
  if (redis === undefined) throw new Error('invalid budget configuration: TOLLGATE_BUDGET_MODE=exact needs TOLLGATE_REDIS_URL');
  return { mode: 'exact', redis, holdTimeoutMs: parsed.data.TOLLGATE_BUDGET_HOLD_TIMEOUT_MS };
}
