import type { PipelineDeps } from './pipeline-deps.js';
import type { Stage } from './stage.js';
import { access } from './stages/access.js';
import { budget } from './stages/budget.js';
import { responseCache } from './stages/cache.js';
import { capture, governedByDataPolicy } from './stages/capture.js';
import { guardrail } from './stages/guardrail.js';
import { identify } from './stages/identify.js';
import { matchRouteStage } from './stages/match-route.js';
import { meter } from './stages/meter.js';
import { parse } from './stages/parse.js';
import { rateLimit } from './stages/rate-limit.js';
import { serve } from './stages/serve.js';

/**
 * The request path, in order. A new policy is one file in stages/ and one line here: before
 * rate-limit it sees the request (caller, route, decision) and may refuse it; after serve it sees
 * `ctx.reply` before it is written. docs/architecture.md says more.
 */
export function requestStages(deps: PipelineDeps): Stage[] {
  const checkAccess = deps.auth !== undefined;
  // Scoped to the route: run again for the route a budget downgrades a request to.
  const routeScoped = [
    deps.transport === undefined ? undefined : guardrail(deps.transport),
    deps.capture === undefined ? undefined : capture(deps.capture),
    deps.rateLimiter === undefined ? undefined : rateLimit(deps.rateLimiter),
  ].filter((s): s is Stage => s !== undefined);
  const stages: (Stage | undefined)[] = [
    identify(deps.auth),
    parse,
    matchRouteStage(checkAccess),
    access(deps.router),
    ...routeScoped,
    deps.cache === undefined ? undefined : responseCache(deps.cache),
    budget(deps.router, deps.admitters ?? [], checkAccess, { stages: routeScoped, capturedOn: governedByDataPolicy }),
    serve(deps.router, deps.usage),
    meter(deps.usage),
  ];
  return stages.filter((s): s is Stage => s !== undefined);
}
