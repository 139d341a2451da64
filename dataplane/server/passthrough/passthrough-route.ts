import type { RuntimeProvider, RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import type { HeaderLookup } from '../../runtime/rule-matcher.js';
import type { RouteConfig, TargetConfig } from '../../config/snapshot.js';
import { accessDenied, mayCall } from '../../governance/access.js';
import { selectRoute } from '../../governance/route-selection.js';
import type { Caller } from '../../core/caller.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import type { PassThroughEndpoint } from '../../config/pass-through-endpoints.js';
import { OPENAI_PATH_TYPES } from '../../providers/registry.js';

/** The header that names the route (its public model) when the request itself cannot: multipart uploads, files, batches. */
export const MODEL_HEADER = 'x-tollgate-model';

export interface PassThroughDecision {
  route: RouteConfig;
  target: TargetConfig;
  provider: RuntimeProvider;
  /** The upstream base URL (up to /v1). */
  baseUrl: string;
}

export const passThroughErrors = {
  notEnabled: (endpoint: PassThroughEndpoint, route: RouteConfig): GatewayError =>
    new GatewayError(404, 'endpoint_not_enabled', 'not_found_error', `endpoint ${endpoint} is not enabled on route ${route.id} (model ${route.model}): add it to spec.passThrough.endpoints`),
  noRoute: (endpoint: PassThroughEndpoint): GatewayError =>
    new GatewayError(404, 'endpoint_not_enabled', 'not_found_error', `no route you may call enables endpoint ${endpoint} (spec.passThrough.endpoints)`),
  ambiguous: (endpoint: PassThroughEndpoint, routes: readonly RouteConfig[]): GatewayError =>
    errors.badRequest(
      `several routes enable endpoint ${endpoint} (${routes.map((r) => r.model).join(', ')}): name one with the ${MODEL_HEADER} header or the model parameter`,
      'model',
    ),
  noTarget: (endpoint: PassThroughEndpoint, route: RouteConfig): GatewayError =>
    new GatewayError(
      400,
      'endpoint_not_supported',
      'invalid_request_error',
      `route ${route.id} has no target that can serve endpoint ${endpoint}: pass-through needs a Provider of type ${OPENAI_PATH_TYPES.join(', ')} with an endpoint`,
    ),
};

function enables(route: RouteConfig, endpoint: PassThroughEndpoint): boolean {
  return route.passThrough?.endpoints.includes(endpoint) === true;
}

/** The route's first target (by priority) whose Provider forwards OpenAI paths as they are. */
function firstTarget(runtime: RuntimeSnapshot, route: RouteConfig): Omit<PassThroughDecision, 'route'> | undefined {
  const ordered = [...route.targets].sort((a, b) => a.priority - b.priority);
  for (const target of ordered) {
    const provider = runtime.providers.get(target.providerId);
    const baseUrl = provider?.config.endpoints[0];
    if (provider !== undefined && baseUrl !== undefined && provider.forwardsOpenAiPaths) return { target, provider, baseUrl };
  }
  return undefined;
}

/**
 * Picks the route of a pass-through request: by the public model when the request names one (body,
 * query or header), else the one route the caller may call that enables the endpoint. Access is
 * checked as for chat; the route must enable the endpoint (404 naming the route otherwise).
 */
export function passThroughRoute(
  runtime: RuntimeSnapshot,
  caller: Caller,
  header: HeaderLookup,
  endpoint: PassThroughEndpoint,
  model: string | undefined,
  checkAccess: boolean,
): PassThroughDecision {
  let route: RouteConfig;
  if (model !== undefined) {
    const selected = selectRoute(runtime.routesByModel.get(model), caller, header, runtime.snapshot.namespaces, checkAccess);
    if (selected === undefined) throw errors.modelNotFound(model);
    if ('denied' in selected) throw accessDenied(caller, selected.denied.config);
    route = selected.route.config;
    if (!enables(route, endpoint)) throw passThroughErrors.notEnabled(endpoint, route);
  } else {
    const candidates = runtime.snapshot.routes.filter((r) => enables(r, endpoint) && (!checkAccess || mayCall(caller, r, runtime.snapshot.namespaces)));
    const only = candidates[0];
    if (only === undefined) {
      const closed = checkAccess ? runtime.snapshot.routes.find((r) => enables(r, endpoint)) : undefined;
      if (closed !== undefined) throw accessDenied(caller, closed);
      throw passThroughErrors.noRoute(endpoint);
    }
    if (candidates.length > 1) throw passThroughErrors.ambiguous(endpoint, candidates);
    route = only;
  }
  const served = firstTarget(runtime, route);
  if (served === undefined) throw passThroughErrors.noTarget(endpoint, route);
  return { route, ...served };
}
