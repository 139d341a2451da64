import { GatewayError } from '../../core/gateway-error.js';
import type { Admitter } from '../../governance/types.js';
import type { Stage } from '../stage.js';
import { NOTHING_USED } from './settle.js';

/** Rate limits (requests, tokens, concurrency): checked before the cache, so a cache hit still counts. */
export function rateLimit(limiter: Admitter): Stage {
  return {
    name: 'rate-limit',
    async run(ctx, next) {
      let limits;
      try {
        // In memory (per-pod buckets) the decision needs no promise.
        const request = ctx.admissionRequest();
        limits = limiter.admitNow?.(request) ?? (await limiter.admit(request));
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'rate_limit_exceeded') {
          ctx.events.emit('admission', { result: 'rate_limited', limit: /token/i.test(err.message) ? 'tokens' : 'requests' });
        }
        throw err;
      }
      Object.assign(ctx.headers, limits.headers);
      try {
        await next();
      } finally {
        limits.settle(ctx.settlement ?? NOTHING_USED);
      }
    },
    // The limits are the routes' own (a budget's downgrade stays on the pinned snapshot too): on a
    // snapshot whose routes have none, every request would be admitted with nothing to check or settle.
    appliesTo: (runtime) => runtime.snapshot.routes.some((r) => (r.rateLimits?.length ?? 0) > 0),
  };
}
