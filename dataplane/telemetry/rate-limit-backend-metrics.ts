import type { Registry } from 'prom-client';
import { registerCountsByLabel } from './counts-counter.js';

/** What the rate limiter counts of its backend's failures (RateLimitAdmitter.stats). */
export interface RateLimitBackendStats {
  failedOpen: number;
  failedClosed: number;
}

/**
 * Requests decided without the rate-limit backend (Redis unreachable or slow): admitted unchecked
 * (failMode open) or refused with 503 (closed). Either way an operator must see it, and the
 * warning per request in the log is not an alert.
 */
export function registerRateLimitBackendErrors(registry: Registry, stats: () => RateLimitBackendStats): void {
  registerCountsByLabel(
    registry,
    {
      name: 'tollgate_rate_limit_backend_errors_total',
      help: 'Requests the rate limiter decided without its backend: mode="open" admitted unchecked, mode="closed" refused with 503.',
      label: 'mode',
    },
    () => {
      const s = stats();
      return { open: s.failedOpen, closed: s.failedClosed };
    },
  );
}
