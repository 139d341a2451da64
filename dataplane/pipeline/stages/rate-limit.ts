import { GatewayError } from '../../core/gateway-error.js';
import type { Admitter } from '../../governance/types.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';
import { runAdmitted } from './settle.js';

function reportRefusal(ctx: RequestContext, err: unknown): void {
  if (err instanceof GatewayError && err.code === 'rate_limit_exceeded') {
    ctx.events.emit('admission', { result: 'rate_limited', limit: /token/i.test(err.message) ? 'tokens' : 'requests' });
  }
}

/** Rate limits (requests, tokens, concurrency): checked before the cache, so a cache hit still counts. */
export function rateLimit(limiter: Admitter): Stage {
  /** Limits in Redis: the decision is a promise. */
  const admitLater = async (ctx: RequestContext, next: () => Promise<void>): Promise<void> => {
    let limits;
    try {
      limits = await limiter.admit(ctx.admissionRequest());
    } catch (err) {
      reportRefusal(ctx, err);
      throw err;
    }
    return runAdmitted(ctx, next, limits);
  };
  return {
    name: 'rate-limit',
    run(ctx, next) {
      const admitNow = limiter.admitNow;
      if (admitNow === undefined) return admitLater(ctx, next);
      // In memory (per-pod buckets) the decision needs no promise, and the stage no async frame.
      let limits;
      try {
        limits = admitNow(ctx.admissionRequest());
      } catch (err) {
        reportRefusal(ctx, err);
        return Promise.reject(err);
      }
      return runAdmitted(ctx, next, limits);
    },
    // The limits are the routes' own (a budget's downgrade stays on the pinned snapshot too): on a
    // snapshot whose routes have none, every request would be admitted with nothing to check or settle.
    appliesTo: (runtime) => runtime.snapshot.routes.some((r) => (r.rateLimits?.length ?? 0) > 0),
  };
}
