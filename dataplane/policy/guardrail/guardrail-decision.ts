import type { GuardrailAction, GuardrailPhase } from '../../config/guardrail-config.js';

/**
 * One rule's decision on one request, as telemetry records it (metric, span event, access log).
 * It names what was found, never the content.
 */
export interface GuardrailDecision {
  /** namespace/name of the GuardrailPolicy. */
  policy: string;
  rule: string;
  phase: GuardrailPhase;
  /** What was done: the rule's action, or Allow when a check failed open. */
  action: GuardrailAction | 'Allow';
  /** builtin, patterns, denyList, maxPromptTokens, webhook or moderation. */
  detector: string;
  /** What was found, by type (e.g. `{ Email: 2 }`). */
  findings?: Record<string, number>;
  /** Moderation categories that counted. */
  categories?: string[];
  /** The webhook's own short reason. */
  reason?: string;
  /** Why the check could not be made; the rule's failureMode decided. */
  error?: string;
}
