import { z } from 'zod';

/**
 * How a public request ended, as usage history counts it. `rejected` is any other refusal before an
 * upstream was tried (authentication, access, an unknown model, a bad body); `cancelled` is a client
 * that left before the response was complete.
 */
export const OUTCOME_CLASSES = [
  'ok',
  'rate_limited',
  'budget_rejected',
  'guardrail_blocked',
  'rejected',
  'upstream_4xx',
  'upstream_5xx',
  'timeout',
  'cancelled',
] as const;
export type OutcomeClass = (typeof OUTCOME_CLASSES)[number];

/** Guardrail decisions carried per record (the first ones): keeps a 2,000-record batch well under the channel's body limit. */
export const MAX_GUARDRAIL_DECISIONS = 8;

/** One finished request as the data plane reports it to the operator for usage history (wire format). */
export const RequestUsageSchema = z.object({
  /** The namespace the request is counted in: the route's, else the caller's. */
  namespace: z.string().min(1).max(63),
  /** Route id (namespace/name); absent when no route matched. */
  route: z.string().max(253).optional(),
  /** The public model name the client asked for. */
  model: z.string().max(253).optional(),
  /** The Provider (namespace/name) that served, if any did. */
  provider: z.string().max(253).optional(),
  /** Stable caller id (sa:<ns>/<name>, key:<ns>/<name>, anonymous). */
  caller: z.string().max(300).optional(),
  outcome: z.enum(OUTCOME_CLASSES),
  failovers: z.number().int().min(0),
  cacheHit: z.boolean(),
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  cachedInputTokens: z.number().int().min(0),
  latencyMs: z.number().min(0),
  /** Time to the first streamed chunk; absent for non-streaming responses. */
  ttftMs: z.number().min(0).optional(),
  /**
   * What guardrail rules did to the request (names only, never content), for the operator's
   * aggregated GuardrailPolicy Events; absent when none decided anything.
   */
  guardrails: z
    .array(z.object({ policy: z.string().min(1).max(253), rule: z.string().min(1).max(63), action: z.enum(['Block', 'Mask', 'Monitor', 'Allow']) }))
    .max(MAX_GUARDRAIL_DECISIONS)
    .optional(),
});
export type RequestUsage = z.infer<typeof RequestUsageSchema>;

/** What the request recorder knows when a request ends, for the outcome class. */
export interface RequestEnd {
  status: number;
  clientLeft: boolean;
  admission: 'allowed' | 'rate_limited' | 'budget_rejected' | 'budget_downgraded' | 'guardrail_blocked' | undefined;
  /** Upstream attempts made (0: refused before any upstream was tried). */
  attempts: number;
  /** The last failed attempt's kind (Timeout, ServerError, ...) or a stream failure. */
  lastFailure: string | undefined;
}

export function outcomeClass(end: RequestEnd): OutcomeClass {
  if (end.admission === 'rate_limited') return 'rate_limited';
  if (end.admission === 'budget_rejected') return 'budget_rejected';
  if (end.admission === 'guardrail_blocked') return 'guardrail_blocked';
  if (end.clientLeft) return 'cancelled';
  if (end.status < 400) return 'ok';
  if (end.status === 504 || end.lastFailure === 'Timeout') return 'timeout';
  if (end.attempts === 0) return end.status >= 500 ? 'upstream_5xx' : 'rejected';
  return end.status >= 500 ? 'upstream_5xx' : 'upstream_4xx';
}
