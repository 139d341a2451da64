import { PASS_THROUGH_ENDPOINTS, type PassThroughEndpoint } from '../../dataplane/config/pass-through-endpoints.js';
import { passThroughEndpointsOf, SUPPORTED_PROVIDER_TYPES, type TargetConfig } from '../../dataplane/config/snapshot.js';
import { condition, joinedWithin } from './conditions.js';
import type { CompiledProvider } from './compile-providers.js';
import type { ComputedCondition, ObjectStatus } from './types.js';
import type { GuardrailConfig } from '../../dataplane/config/guardrail-config.js';
import type { RouteConfig } from '../../dataplane/config/snapshot.js';

/**
 * Whether every pass-through endpoint the route lists has a target that can forward it (its
 * Provider's type serves it untranslated). An Anthropic or Gemini route listing `files` serves none
 * of those calls: each is a 400 `endpoint_not_supported`. Before, nothing said so at load time.
 * False (a Warning Event on the flip, a `tollgate dev` warning) names the endpoints and the Provider
 * types that serve them; the route serves the rest. Undefined for a route without passThrough.
 */
export function passThroughServedCondition(
  endpoints: readonly PassThroughEndpoint[] | undefined,
  targets: readonly TargetConfig[],
  providers: ReadonlyMap<string, CompiledProvider>,
  gen: number | undefined,
): ComputedCondition | undefined {
  if (endpoints === undefined) return undefined;
  const served = new Set(targets.flatMap((t) => {
    const type = providers.get(t.providerId)?.source.spec.type;
    return type === undefined ? [] : passThroughEndpointsOf(type);
  }));
  const unserved = PASS_THROUGH_ENDPOINTS.filter((e) => endpoints.includes(e) && !served.has(e));
  const untrained = endpoints.includes('fine_tuning') ? trainingUnpriced(targets, providers) : undefined;
  if (unserved.length === 0) {
    return untrained === undefined
      ? condition('PassThroughServed', true, 'Served', 'every pass-through endpoint has a target that serves it', gen)
      : condition('PassThroughServed', false, 'TrainingUnpriced', untrained, gen);
  }
  const named = unserved.map((e) => `${e} (served by Provider types ${SUPPORTED_PROVIDER_TYPES.filter((type) => passThroughEndpointsOf(type).includes(e)).join(', ')})`);
  const message = `spec.passThrough.endpoints lists endpoints no target of this route can serve, whose calls are answered 400 endpoint_not_supported: ${named.join('; ')}`;
  return condition('PassThroughServed', false, 'EndpointNotServed', untrained === undefined ? message : `${message}; ${untrained}`, gen);
}

/**
 * Why a route listing `fine_tuning` cannot create jobs, or undefined when it can: a target that
 * forwards them (its Provider's type serves fine_tuning) whose model has no `pricing.training`
 * makes the data plane refuse every job with 400 training_unpriced (it would run uncharged). Its
 * other fine-tuning calls (list, read, cancel) are served. Before, nothing said so until a job failed.
 */
function trainingUnpriced(targets: readonly TargetConfig[], providers: ReadonlyMap<string, CompiledProvider>): string | undefined {
  const unpriced = targets.filter((t) => {
    const type = providers.get(t.providerId)?.source.spec.type;
    return type !== undefined && passThroughEndpointsOf(type).includes('fine_tuning') && t.pricing.trainingPerMTok === undefined;
  });
  if (unpriced.length === 0) return undefined;
  // A target several rules name is one target.
  const named = [...new Set(unpriced.map((t) => `${t.providerId} ${t.model}`))];
  return `fine-tuning jobs are refused with 400 training_unpriced, as targets that would run them have no training price (pricing.training, USD per million trained tokens): ${joinedWithin(named, MAX_TARGET_NAMES)}; set it on the Provider's model (spec.models[].pricing.training; 0 to fine-tune free of charge)`;
}

/** Longest list of targets a route's condition names. */
const MAX_TARGET_NAMES = 1024;

/** Longest list of policy names a route's condition carries. */
const MAX_POLICY_NAMES = 1024;

/**
 * The GuardrailPolicies that refuse this route's pass-through endpoints (their rules cannot read
 * them): those naming the route or its namespace, with a Block or Mask rule, and
 * `uninspectedEndpoints` left at Refuse. The route's owner (who enabled pass-through) sees on its
 * PassThroughServed condition that those calls are answered 403 guardrail_uninspected, instead of
 * finding out from its clients. Callers a policy covers by ServiceAccount or API key are not
 * counted here; the data plane refuses them as well.
 */
export function markGuardrailRefused(status: ObjectStatus, route: RouteConfig, guardrails: readonly GuardrailConfig[]): void {
  if (route.passThrough === undefined || route.passThrough.endpoints.length === 0) return;
  const ns = route.id.slice(0, route.id.indexOf('/'));
  const refusing = guardrails.filter(
    (g) => (g.subjects.routes.includes(route.id) || g.subjects.namespaces.includes(ns)) && g.uninspectedEndpoints !== 'Allow' && g.rules.some((r) => r.action !== 'Monitor'),
  );
  const at = status.conditions.findIndex((c) => c.type === 'PassThroughServed');
  const served = status.conditions[at];
  if (refusing.length === 0 || served === undefined) return;
  const message = `calls to its pass-through endpoints (${route.passThrough.endpoints.join(', ')}) are refused with 403 guardrail_uninspected for the callers that GuardrailPolicy ${joinedWithin(refusing.map((g) => g.id), MAX_POLICY_NAMES)} covers: no rule can inspect them (the policy's spec.uninspectedEndpoints: Allow lets them through unchecked)`;
  status.conditions[at] = served.status === 'False' ? { ...served, message: `${served.message}; ${message}` } : condition('PassThroughServed', false, 'GuardrailRefused', message, status.generation);
}
