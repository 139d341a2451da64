import type { AdapterTarget, PathForwarding } from '../../providers/types.js';
import type { RuntimeProvider, RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import type { HeaderLookup } from '../../runtime/rule-matcher.js';
import type { RouteConfig, TargetConfig } from '../../config/snapshot.js';
import { accessDenied, mayCall } from '../../governance/access.js';
import { unauthenticated } from '../../governance/identity/authenticator.js';
import { admitAll } from '../../governance/admission.js';
import { Downgrade } from '../../governance/budget/budget-admitter.js';
import type { Admission, Admitter } from '../../governance/types.js';
import { selectRoute } from '../../governance/route-selection.js';
import type { Caller } from '../../core/caller.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import type { PassThroughEndpoint } from '../../config/pass-through-endpoints.js';
import { adapterTarget, OPENAI_PATH_TYPES, typesForwarding } from '../../providers/registry.js';
import type { BilledUnits } from '../../metering/cost.js';
import type { PromptMedia } from '../../metering/token-estimate.js';
import { callerResidency, violatedPolicy } from '../../routing/rules/residency.js';
import type { GuardrailDecision } from '../../policy/guardrail/guardrail-decision.js';
import { uninspectedVerdict } from '../../policy/guardrail/uninspected.js';
import type { AdmissionDecision } from '../../telemetry/gateway-observer.js';

/** Told the guardrail decisions about a pass-through call on its route (none of their rules read it), before a refusal is thrown. */
export type GuardrailReport = (route: RouteConfig, decisions: readonly GuardrailDecision[], refused: boolean) => void;

/** The header that names the route (its public model) when the request itself cannot: multipart uploads, files, batches. */
export const MODEL_HEADER = 'x-tollgate-model';

/** One target a pass-through request may be forwarded to. */
export interface ForwardTarget {
  target: TargetConfig;
  provider: RuntimeProvider;
  forwarding: PathForwarding;
  /** Where (the Provider's first endpoint) and as whom. */
  at: AdapterTarget;
}

export interface PassThroughDecision {
  route: RouteConfig;
  /** The route's targets by priority whose Provider serves the path (never empty): the first is tried first, the rest are its fallbacks. */
  targets: ForwardTarget[];
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
  unserved: (endpoint: PassThroughEndpoint, routes: readonly RouteConfig[], path: string): GatewayError =>
    new GatewayError(
      400,
      'endpoint_not_supported',
      'invalid_request_error',
      `the routes you may call that enable endpoint ${endpoint} (${routes.map((r) => r.model).join(', ')}) have no target that can serve ${path} (Provider types ${typesForwarding(path).join(', ')})`,
    ),
  residencyDenied: (endpoint: PassThroughEndpoint, route: RouteConfig, policies: readonly string[]): GatewayError =>
    new GatewayError(
      403,
      'residency_denied',
      'permission_error',
      `endpoint ${endpoint} on route ${route.id} (model ${route.model}): no target that serves it is allowed for this caller; policy: ${policies.join('; ')}`,
    ),
  /** `path`: the types named are those that serve it (Azure OpenAI serves images but not their variations); without it, every forwarding type. */
  noTarget: (endpoint: PassThroughEndpoint, route: RouteConfig, path?: string): GatewayError =>
    new GatewayError(
      400,
      'endpoint_not_supported',
      'invalid_request_error',
      `route ${route.id} has no target that can serve ${path === undefined ? `endpoint ${endpoint}` : `${path} (endpoint ${endpoint})`}: pass-through needs a Provider that serves it (of type ${(path === undefined ? OPENAI_PATH_TYPES : typesForwarding(path)).join(', ')}) with an endpoint`,
    ),
};

function enables(route: RouteConfig, endpoint: PassThroughEndpoint): boolean {
  return route.passThrough?.endpoints.includes(endpoint) === true;
}

const NO_QUERY = new URLSearchParams();

/** The route's targets (by priority) whose Provider serves `path` untranslated and has an endpoint. */
function forwardTargets(runtime: RuntimeSnapshot, route: RouteConfig, path: string): ForwardTarget[] {
  const ordered = [...route.targets].sort((a, b) => a.priority - b.priority);
  const out: ForwardTarget[] = [];
  const now = Date.now();
  for (const target of ordered) {
    const provider = runtime.providers.get(target.providerId);
    const baseUrl = provider?.config.endpoints[0];
    const forwarding = provider?.forwarding;
    if (provider === undefined || baseUrl === undefined || forwarding === undefined) continue;
    const at = adapterTarget(provider, baseUrl, target.model, now);
    if (forwarding.url(path, NO_QUERY, at) !== undefined) out.push({ target, provider, forwarding, at });
  }
  return out;
}

/**
 * The targets the caller's residency policies allow, as for chat: a pass-through body (an upload, a
 * Realtime session) is content too. Before, every target of the route was tried, whatever the
 * caller's namespace required. When none is left, the policies that excluded them.
 */
function allowedTargets(targets: ForwardTarget[], policies: ReturnType<typeof callerResidency>): ForwardTarget[] | { denied: string[] } {
  if (policies.length === 0) return targets;
  const denied: string[] = [];
  const allowed = targets.filter((t) => {
    const violated = violatedPolicy(policies, t.provider.config);
    if (violated !== undefined && !denied.includes(violated.name)) denied.push(violated.name);
    return violated === undefined;
  });
  return allowed.length > 0 ? allowed : { denied };
}

/**
 * Picks the route of a pass-through request: by the public model when the request names one (body,
 * query or header), else the one route the caller may call that enables the endpoint. Access is
 * checked as for chat; the route must enable the endpoint (404 naming the route otherwise). Its
 * targets are those the caller's residency allows (403 residency_denied when none is). Last, the
 * GuardrailPolicies covering the caller on the route, whose rules cannot read the call: 403
 * guardrail_uninspected unless they all allow it (uninspected.ts); `report` is told their decisions.
 */
export function passThroughRoute(
  runtime: RuntimeSnapshot,
  caller: Caller,
  header: HeaderLookup,
  endpoint: PassThroughEndpoint,
  model: string | undefined,
  checkAccess: boolean,
  path: string,
  report?: GuardrailReport,
): PassThroughDecision {
  let route: RouteConfig;
  if (model !== undefined) {
    const selected = selectRoute(runtime.routesByModel.get(model), caller, header, runtime.snapshot.namespaces, checkAccess);
    if (selected === undefined) throw errors.modelNotFound(model);
    if ('denied' in selected) throw accessDenied(caller, selected.denied.config);
    route = selected.route.config;
    if (!enables(route, endpoint)) throw passThroughErrors.notEnabled(endpoint, route);
  } else {
    const callable = runtime.snapshot.routes.filter((r) => enables(r, endpoint) && (!checkAccess || mayCall(caller, r, runtime.snapshot.namespaces)));
    // A route that lists the endpoint but has no target that can forward it (an Anthropic route
    // listing files) cannot be the one meant: before, it made every header-less call ambiguous.
    const candidates = callable.length > 1 ? callable.filter((r) => forwardTargets(runtime, r, path).length > 0) : callable;
    if (candidates.length === 0 && callable.length > 1) throw passThroughErrors.unserved(endpoint, callable, path);
    const only = candidates[0] ?? callable[0];
    if (only === undefined) {
      // A refusal names a route of the caller's own namespace only: before, the first route of any
      // namespace that enables the endpoint, which told a tenant another's route and model.
      const own = checkAccess ? runtime.snapshot.routes.find((r) => enables(r, endpoint) && r.namespace === caller.namespace) : undefined;
      if (own !== undefined) throw accessDenied(caller, own);
      if (checkAccess && caller.kind === 'anonymous' && runtime.snapshot.routes.some((r) => enables(r, endpoint))) {
        throw unauthenticated(caller.invalidCredential ?? `endpoint ${endpoint} requires a ServiceAccount token or an API key`);
      }
      throw passThroughErrors.noRoute(endpoint);
    }
    if (candidates.length > 1) throw passThroughErrors.ambiguous(endpoint, candidates);
    route = only;
  }
  const serving = forwardTargets(runtime, route, path);
  if (serving.length === 0) throw passThroughErrors.noTarget(endpoint, route, path);
  const targets = allowedTargets(serving, callerResidency(caller, route.id, runtime.snapshot.namespaces));
  if ('denied' in targets) throw passThroughErrors.residencyDenied(endpoint, route, targets.denied);
  const guarded = uninspectedVerdict(runtime.snapshot.guardrails ?? [], caller, route.id, endpoint);
  if (guarded !== undefined) {
    report?.(route, guarded.decisions, guarded.refused !== undefined);
    if (guarded.refused !== undefined) throw guarded.refused;
  }
  return { route, targets };
}

/** The tokens a pass-through request that runs the model (a compaction) may be billed, held at admission. */
export interface HeldTokens {
  promptTokens: number;
  maxOutputTokens: number;
  /** The prompt's files, images and inline PDFs (AdmissionRequest.media). */
  media?: PromptMedia;
}

/**
 * Admits a pass-through request or a Realtime connection: the route's rate limits count it as one
 * request (token limits are charged what the answer reports), and budgets admit it while none that
 * applies is exhausted, holding its unit prices and, for one that runs the model, its prompt
 * estimate and output cap as a chat request's (what is metered is charged when it settles). A
 * budget that would downgrade a chat request refuses: these endpoints have no cheaper model.
 */
export async function admitPassThrough(
  deps: { rateLimiter?: Admitter; admitters?: readonly Admitter[] },
  runtime: RuntimeSnapshot,
  caller: Caller,
  route: RouteConfig,
  stream: boolean,
  units?: BilledUnits,
  tokens: HeldTokens = { promptTokens: 0, maxOutputTokens: 0 },
): Promise<Admission> {
  const admitters = [...(deps.rateLimiter === undefined ? [] : [deps.rateLimiter]), ...(deps.admitters ?? [])];
  try {
    return await admitAll(admitters, { caller, route, req: { op: 'chat', body: {}, stream, clientWantsUsage: false }, ...tokens, budgets: runtime.snapshot.budgets, ...(units === undefined ? {} : { units }) });
  } catch (err) {
    if (!(err instanceof Downgrade)) throw err;
    throw downgradeRefused(err);
  }
}

/** A budget that would downgrade a chat request refuses a pass-through one (or a Realtime response): there is no cheaper model. */
export function downgradeRefused(err: Downgrade): GatewayError {
  return new GatewayError(429, 'budget_exceeded', 'insufficient_quota', `budget ${err.budget} cannot cover this request: it is exhausted, or what is left is less than the request's price (its downgrade to ${err.model} does not apply to pass-through endpoints)`, {
    headers: { ...err.headers },
  });
}

/**
 * The admission decision a refusal of a pass-through request or a Realtime upgrade stands for,
 * reported as the pipeline's stages report a chat request's (tollgate_rate_limit_rejections_total,
 * tollgate_budget_rejections_total, with the same labels); undefined for other refusals. A Realtime
 * connection limit is a `concurrency` limit.
 */
export function refusalDecision(err: GatewayError): AdmissionDecision | undefined {
  if (err.code === 'rate_limit_exceeded') return { result: 'rate_limited', limit: /token/i.test(err.message) ? 'tokens' : 'requests' };
  if (err.code === 'too_many_connections') return { result: 'rate_limited', limit: 'concurrency' };
  if (err.code === 'budget_exceeded') return { result: 'budget_exceeded', budget: err.headers['x-tollgate-budget'] ?? '', action: 'reject' };
  return undefined;
}
