import type { RuntimeRoute } from '../../runtime/runtime-snapshot.js';
import { selectRoute } from '../../governance/route-selection.js';
import { errors } from '../../core/gateway-error.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * The route of public model `model` for this caller and these headers: one that admits the caller,
 * else (denied) the one to name in the refusal; undefined when no route of that name matches.
 */
export function matchRoute(ctx: RequestContext, model: string, checkAccess: boolean): { route: RuntimeRoute; denied: boolean } | undefined {
  const selected = selectRoute(ctx.runtime.routesByModel.get(model), ctx.caller, ctx.header, ctx.runtime.snapshot.namespaces, checkAccess);
  if (selected === undefined) return undefined;
  return 'route' in selected ? { route: selected.route, denied: false } : { route: selected.denied, denied: true };
}

/** Finds the route of the requested model (404 when there is none). */
export function matchRouteStage(checkAccess: boolean): Stage {
  return {
    name: 'match-route',
    run(ctx, next) {
      ctx.selection = matchRoute(ctx, ctx.model, checkAccess);
      if (ctx.selection === undefined) throw errors.modelNotFound(ctx.model);
      return next();
    },
  };
}
