import { Counter, type Registry } from 'prom-client';

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
  new Counter({
    name: 'tollgate_rate_limit_backend_errors_total',
    help: 'Requests the rate limiter decided without its backend: mode="open" admitted unchecked, mode="closed" refused with 503.',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      this.inc({ mode: 'open' }, s.failedOpen);
      this.inc({ mode: 'closed' }, s.failedClosed);
    },
  });
}
