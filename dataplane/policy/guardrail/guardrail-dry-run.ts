import type { JsonObject } from '../../core/canonical.js';
import type { CompiledRule } from './compiled-rule.js';
import type { ActiveGuardrails, RequestInfo } from './guardrail-engine.js';
import type { GuardrailDecision } from './guardrail-decision.js';

/**
 * What one rule did (or would do) to a sample request: the decision's action when it found
 * something (Monitor rules report Monitor with their findings: what they would have acted on),
 * `Pass` when it found nothing, `NotReached` after a Block, `NotRun` for response rules (they need
 * an answer). Findings are named by type, never by content.
 */
export interface DryRunRule {
  policy: string;
  rule: string;
  phase: 'Request' | 'Response';
  /** The rule's configured action. */
  action: string;
  detector: string;
  result: GuardrailDecision['action'] | 'Pass' | 'NotReached' | 'NotRun';
  findings?: Record<string, number>;
  categories?: string[];
  reason?: string;
  error?: string;
}

export interface DryRun {
  /** Policies that apply to this caller and route, in the order they run. */
  policies: string[];
  /** allowed (unchanged), masked (the upstream would get the masked text), blocked (400) or unavailable (503). */
  outcome: 'allowed' | 'masked' | 'blocked' | 'unavailable';
  /** The refusal the client would get, as it would get it (it names policy and rule, never content). */
  refusal?: { status: number; code: string; message: string };
  rules: DryRunRule[];
}

const keyOf = (policy: string, rule: string): string => `${policy}\u0000${rule}`;

function row(rule: CompiledRule, result: DryRunRule['result'], d?: GuardrailDecision): DryRunRule {
  const out: DryRunRule = { policy: rule.policy, rule: rule.config.name, phase: rule.config.phase, action: rule.config.action, detector: rule.config.detector.kind, result };
  if (d?.findings !== undefined) out.findings = d.findings;
  if (d?.categories !== undefined) out.categories = d.categories;
  if (d?.reason !== undefined) out.reason = d.reason;
  if (d?.error !== undefined) out.error = d.error;
  return out;
}

/**
 * Runs the request rules on a sample request exactly as the guardrail stage would (webhooks and
 * moderation are asked), and reports every rule. Nothing of the (masked) body is returned.
 */
export async function dryRunRequest(active: ActiveGuardrails, body: JsonObject, promptTokens: number, info: RequestInfo): Promise<DryRun> {
  const result = await active.checkRequest(body, promptTokens, info);
  const byRule = new Map(result.decisions.map((d) => [keyOf(d.policy, d.rule), d]));
  let stopped = false;
  const rules: DryRunRule[] = active.requestRules.map((rule) => {
    if (stopped) return row(rule, 'NotReached');
    const d = byRule.get(keyOf(rule.policy, rule.config.name));
    if (d === undefined) return row(rule, 'Pass');
    if (d.action === 'Block') stopped = true;
    return row(rule, d.action, d);
  });
  for (const rule of active.responseRules) rules.push(row(rule, 'NotRun'));
  const out: DryRun = {
    policies: active.policies.map((p) => p.config.id),
    outcome: result.blocked !== undefined ? (result.blocked.status === 400 ? 'blocked' : 'unavailable') : result.masked.length > 0 ? 'masked' : 'allowed',
    rules,
  };
  if (result.blocked !== undefined) out.refusal = { status: result.blocked.status, code: result.blocked.code, message: result.blocked.message };
  return out;
}
