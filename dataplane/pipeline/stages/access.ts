import type { RuntimeRoute } from '../../runtime/runtime-snapshot.js';
import { accessDenied } from '../../governance/access.js';
import type { Router } from '../../routing/router.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * Makes `route` the one that serves and decides its rule and targets (403/400 from the rules).
 * From here on every answer, refusals included, names the route.
 */
export function enterRoute(ctx: RequestContext, router: Router, route: RuntimeRoute): void {
  ctx.route = route;
  ctx.decision = undefined;
  ctx.events.emit('routed', { route: route.config, request: ctx.request, requestId: ctx.requestId });
  const { runtime, request } = ctx;
  ctx.decision = router.decide(runtime, route, {
    caller: ctx.caller,
    header: ctx.header,
    namespaces: runtime.snapshot.namespaces,
    body: request.body,
    stream: request.stream,
    promptTokens: ctx.windowPromptTokens,
  });
  ctx.events.emit('decided', { rule: ctx.decision.rule });
}

/** Refuses a caller the matched route does not admit (401/403); else enters the route. */
export function access(router: Router): Stage {
  return {
    name: 'access',
    run(ctx, next) {
      const selection = ctx.selection;
      if (selection === undefined) throw new Error('access runs after match-route');
      if (selection.denied) throw accessDenied(ctx.caller, selection.route.config);
      enterRoute(ctx, router, selection.route);
      return next();
    },
  };
}
