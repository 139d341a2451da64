import { cacheKey } from '../../governance/cache/cache-key.js';
import { CACHE_STATUS_HEADER } from '../../governance/cache/cache-stats.js';
import type { CacheConfig, RouteConfig } from '../../config/snapshot.js';
import type { ResponseCache } from '../../governance/types.js';
import type { RouteDecision } from '../../routing/rules/route-decision.js';
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
  const lookup = async (ctx: RequestContext, next: () => Promise<void>, route: RouteConfig, config: CacheConfig, decision: RouteDecision): Promise<void> => {
    const providers = ctx.runtime.providers;
    const key = cacheKey(route, ctx.caller, ctx.request, decision, (id) => providers.get(id)?.config.answerIdentity);
    const hit = await cache.get(key);
    ctx.events.emit('cache', { hit: hit !== undefined });
    if (hit !== undefined) {
      Object.assign(ctx.headers, { 'x-request-id': ctx.requestId, 'x-tollgate-route': route.id, 'x-tollgate-rule': decision.rule, [CACHE_STATUS_HEADER]: 'hit' });
      ctx.reply = { kind: 'cached', cached: hit };
      return ctx.respond();
    }
    ctx.headers[CACHE_STATUS_HEADER] = 'miss';
    ctx.store = (value) => void cache.set(key, value, config.ttlMs, config.maxEntries);
    return next();
  };
  return {
    name: 'cache',
    // A snapshot without a cached route never looks anything up.
    appliesTo: (runtime) => runtime.snapshot.routes.some((r) => r.cache !== undefined),
    run(ctx, next) {
      const route = ctx.routeConfig;
      const config = route.cache;
      const decision = ctx.decision;
      // A caller whose credential did not verify (served only on routes open to anonymous callers) is
      // never answered from, nor stored in, the cache: it must not share the anonymous callers' entries.
      if (!ctx.cacheable || config === undefined || ctx.caller.invalidCredential !== undefined || decision === undefined) return next();
      return lookup(ctx, next, route, config, decision);
    },
  };
}
