import { cacheKey } from '../../governance/cache/cache-key.js';
import { CACHE_STATUS_HEADER } from '../../governance/cache/cache-stats.js';
import type { ResponseCache } from '../../governance/types.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/** A downgraded answer must never be kept under the original route's key. */
export function skipCacheStore(ctx: RequestContext): void {
  ctx.store = undefined;
  delete ctx.headers[CACHE_STATUS_HEADER];
}

/**
 * The route's response cache: a hit is answered here (nothing sent upstream, nothing charged); on a
 * miss, the complete answer is kept for the next identical request.
 */
export function responseCache(cache: ResponseCache): Stage {
  return {
    name: 'cache',
    async run(ctx, next) {
      const route = ctx.routeConfig;
      const config = route.cache;
      // A caller whose credential did not verify (served only on routes open to anonymous callers) is
      // never answered from, nor stored in, the cache: it must not share the anonymous callers' entries.
      if (!ctx.cacheable || config === undefined || ctx.caller.invalidCredential !== undefined || ctx.decision === undefined) return next();
      const key = cacheKey(route, ctx.caller, ctx.request, ctx.decision);
      const hit = await cache.get(key);
      ctx.events.emit('cache', { hit: hit !== undefined });
      if (hit !== undefined) {
        Object.assign(ctx.headers, { 'x-request-id': ctx.requestId, 'x-tollgate-route': route.id, 'x-tollgate-rule': ctx.decision.rule, [CACHE_STATUS_HEADER]: 'hit' });
        ctx.reply = { kind: 'cached', cached: hit };
        return ctx.respond();
      }
      ctx.headers[CACHE_STATUS_HEADER] = 'miss';
      ctx.store = (value) => void cache.set(key, value, config.ttlMs, config.maxEntries);
      return next();
    },
  };
}
