import type { GatewayError } from '../../core/gateway-error.js';
import { type GuardrailConfig, uninspectedRuleName } from '../../config/guardrail-config.js';
import type { GuardrailDecision } from './guardrail-decision.js';
import { applies, type GuardedCaller } from './guardrail-engine.js';
import { guardrailUninspected } from './guardrail-refusal.js';

/** The detector named in the decisions about endpoints no rule can read. */
export const UNINSPECTED_DETECTOR = 'uninspected';

export interface UninspectedVerdict {
  /** One per policy that applies: Block for the refusing one, else Allow for each (recorded, so the skip is visible). */
  decisions: GuardrailDecision[];
  /** Set when a policy refuses: the answer to send. */
  refused?: GatewayError;
}

/** A policy with a Block or Mask rule acts on content; one of Monitor rules only never changes a request. */
function enforces(config: GuardrailConfig): boolean {
  return config.rules.some((r) => r.action !== 'Monitor');
}

/**
 * What the GuardrailPolicies covering this caller on this route say about a call to a pass-through
 * endpoint (or a Realtime session), which none of their rules can read: refused when any policy
 * that blocks or masks keeps `uninspectedEndpoints: Refuse` (the default) — whatever another policy
 * allows, so a tenant's Allow never lifts the platform's Refuse — else let through with a decision
 * per policy. Undefined when no policy applies. Before, such calls went through unchecked and
 * unrecorded, so a tenant enabling pass-through on its route stepped around the platform's policy.
 */
export function uninspectedVerdict(configs: readonly GuardrailConfig[], caller: GuardedCaller, routeId: string, endpoint: string): UninspectedVerdict | undefined {
  const applying = configs.filter((c) => applies(c.subjects, caller, routeId));
  if (applying.length === 0) return undefined;
  const rule = uninspectedRuleName(endpoint);
  const decision = (policy: string, action: 'Block' | 'Allow'): GuardrailDecision => ({ policy, rule, phase: 'Request', action, detector: UNINSPECTED_DETECTOR });
  const refusing = applying.find((c) => enforces(c) && c.uninspectedEndpoints !== 'Allow');
  if (refusing !== undefined) return { decisions: [decision(refusing.id, 'Block')], refused: guardrailUninspected(refusing.id, endpoint, routeId) };
  return { decisions: applying.map((c) => decision(c.id, 'Allow')) };
}

/** What `/debug/route` shows of a route's pass-through endpoints under the policies that apply. */
export interface UninspectedDryRun {
  /** The endpoints the route enables (spec.passThrough.endpoints). */
  endpoints: string[];
  /** refused (403 guardrail_uninspected, each endpoint alike) or allowed (unchecked, recorded as Allow). */
  outcome: 'refused' | 'allowed';
  /** The refusal of a call to the first endpoint, as the client would get it. */
  refusal?: { status: number; code: string; message: string };
}

export function dryRunUninspected(configs: readonly GuardrailConfig[], caller: GuardedCaller, routeId: string, endpoints: readonly string[]): UninspectedDryRun | undefined {
  const first = endpoints[0];
  const verdict = first === undefined ? undefined : uninspectedVerdict(configs, caller, routeId, first);
  if (verdict === undefined) return undefined;
  const { refused } = verdict;
  if (refused === undefined) return { endpoints: [...endpoints], outcome: 'allowed' };
  return { endpoints: [...endpoints], outcome: 'refused', refusal: { status: refused.status, code: refused.code, message: refused.message } };
}
