import { Counter, type Registry } from 'prom-client';
import { registerCountsByLabel } from './counts-counter.js';

/** What the rate limiter counts of its backend's failures (RateLimitAdmitter.stats). */
export interface RateLimitBackendStats {
  failedOpen: number;
  failedClosed: number;
  failedAdjust: number;
}

/** What the response cache counts of its backend's failures (CacheStats). */
export interface CacheBackendStats {
  errorsByOp: { get: number; set: number };
}

/**
 * Requests decided without the rate-limit backend (Redis unreachable or slow): admitted unchecked
 * (failMode open) or refused with 503 (closed). Either way an operator must see it, and the
 * warning in the log (at most one per 10 s) is not an alert. Also the token corrections lost: a
 * bucket that keeps the admission's estimate instead of the real usage.
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
  new Counter({
    name: 'tollgate_rate_limit_corrections_failed_total',
    help: 'Token corrections at settle (real usage against the admission estimate) the rate-limit backend did not take: those buckets keep the estimate.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats().failedAdjust);
    },
  });
}

/**
 * Response-cache backend failures (Redis unreachable, slow, at maxmemory, an unreadable entry):
 * op="get" served as a miss, op="set" a store skipped. Without it they only showed as misses.
 */
export function registerCacheBackendErrors(registry: Registry, stats: () => CacheBackendStats): void {
  registerCountsByLabel(
    registry,
    {
      name: 'tollgate_cache_backend_errors_total',
      help: 'Response-cache backend failures: op="get" served as a miss, op="set" a store skipped.',
      label: 'op',
    },
    () => stats().errorsByOp,
  );
}
