import type { RouteConfig } from '../config/snapshot.js';
import type { Random } from './strategies.js';

/**
 * Delay before retry number `retry` (1 = first retry) on the same target, or undefined when the
 * upstream asked to wait longer than the route honours. Full jitter (AWS style) without a hint.
 */
export function retryDelayMs(retry: number, policy: RouteConfig['retry'], retryAfterMs: number | undefined, random: Random = Math.random): number | undefined {
  if (retryAfterMs !== undefined) return retryAfterMs <= policy.maxRetryAfterMs ? retryAfterMs : undefined;
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (retry - 1));
  return Math.round(random() * ceiling);
}
