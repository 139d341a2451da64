import { boundedNames } from '../../core/bounded-names.js';
import { GatewayError } from '../../core/gateway-error.js';
import type { GuardrailDecision } from './guardrail-decision.js';

export const GUARDRAIL_HEADER = 'x-tollgate-guardrail';
export const GUARDRAIL_RULE_HEADER = 'x-tollgate-guardrail-rule';

/** What the decision found, in words that never repeat the content. */
export function foundWhat(d: GuardrailDecision): string {
  if (d.findings !== undefined) return `it contains ${boundedNames(Object.keys(d.findings).sort()).join(', ')}`;
  if (d.categories !== undefined) return d.categories.length > 0 ? `moderation flagged it (${boundedNames(d.categories).join(', ')})` : 'moderation flagged it';
  if (d.detector === 'webhook') return 'the check service flagged it';
  return 'it was flagged';
}

/**
 * The refusal of a blocked request or answer: 400 invalid_request_error, code guardrail_blocked,
 * naming the policy and the rule (headers too), never the matched content. A check that could not
 * be made and fails closed is a 503 (guardrail_unavailable): the content was not judged, and a
 * retry may succeed.
 */
export function guardrailRefusal(d: GuardrailDecision, why?: string): GatewayError {
  const headers = { [GUARDRAIL_HEADER]: d.policy, [GUARDRAIL_RULE_HEADER]: d.rule };
  const what = d.phase === 'Request' ? 'the request was' : 'the response was';
  if (d.error !== undefined) {
    return new GatewayError(
      503,
      'guardrail_unavailable',
      'service_unavailable_error',
      `${what} not checked: guardrail policy ${d.policy}, rule ${d.rule} could not be evaluated (${d.error}) and fails closed`,
      { headers },
    );
  }
  return new GatewayError(400, 'guardrail_blocked', 'invalid_request_error', `${what} blocked by guardrail policy ${d.policy}, rule ${d.rule}: ${why ?? foundWhat(d)}`, {
    headers: { ...headers, 'x-should-retry': 'false' },
  });
}

/**
 * The refusal of a request that asks for something the guardrail cannot check: the policy would
 * otherwise be bypassed silently, so the client is told which field and why (400, code
 * guardrail_unsupported, the field in `param`), and can send the request without it.
 */
export function guardrailUnsupported(policy: string, param: string, why: string): GatewayError {
  return new GatewayError(400, 'guardrail_unsupported', 'invalid_request_error', `the request was refused by guardrail policy ${policy}: ${param} ${why}`, {
    param,
    headers: { [GUARDRAIL_HEADER]: policy, 'x-should-retry': 'false' },
  });
}

/**
 * The refusal of a pass-through or Realtime call under a policy whose rules cannot read it (403
 * permission_error, code guardrail_uninspected): what the endpoint sends and returns is forwarded
 * untranslated, so letting it through would skip the policy without anyone knowing. Names the
 * policy, the endpoint and the route, never the content; retrying cannot help.
 */
export function guardrailUninspected(policy: string, endpoint: string, route: string): GatewayError {
  return new GatewayError(
    403,
    'guardrail_uninspected',
    'permission_error',
    `endpoint ${endpoint} on route ${route} was refused by guardrail policy ${policy}: its rules cannot inspect this endpoint's content, and it refuses such endpoints (spec.uninspectedEndpoints: Refuse)`,
    { headers: { [GUARDRAIL_HEADER]: policy, 'x-should-retry': 'false' } },
  );
}
