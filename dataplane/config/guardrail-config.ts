import { z } from 'zod';
import { BUILTIN_DETECTORS } from './content-detectors.js';
import { SubjectsConfigSchema } from './subjects-config.js';

/**
 * A GuardrailPolicy as the data plane enforces it (the snapshot's `guardrails`). Its own file so
 * the snapshot stays readable; the engine is dataplane/guardrail.
 */

export const GUARDRAIL_PHASES = ['Request', 'Response'] as const;
export const GUARDRAIL_ACTIONS = ['Block', 'Mask', 'Monitor'] as const;
export type GuardrailPhase = (typeof GUARDRAIL_PHASES)[number];
export type GuardrailAction = (typeof GUARDRAIL_ACTIONS)[number];

const FailureModeSchema = z.enum(['Open', 'Closed']);

export const GuardrailDetectorConfigSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('builtin'), names: z.array(z.enum(BUILTIN_DETECTORS)).min(1) }),
  z.object({ kind: z.literal('patterns'), patterns: z.array(z.object({ name: z.string().min(1), pattern: z.string().min(1) })).min(1) }),
  z.object({ kind: z.literal('denyList'), phrases: z.array(z.string().min(1)).min(1) }),
  z.object({ kind: z.literal('maxPromptTokens'), max: z.number().int().min(1) }),
  z.object({ kind: z.literal('webhook'), url: z.url(), timeoutMs: z.number().int().min(1), failureMode: FailureModeSchema }),
  z.object({
    kind: z.literal('moderation'),
    /** A provider of the snapshot that serves POST {endpoint}/moderations. */
    providerId: z.string().min(1),
    /**
     * The operator found the Provider unusable by this policy (missing, of a type without
     * moderations, or not admitting the policy's namespace): never called, failureMode decides.
     * It may still be in the snapshot for its own namespace's routes, key included.
     */
    unusable: z.literal(true).optional(),
    model: z.string().min(1),
    /** Absent: the upstream's `flagged` verdict counts. */
    categories: z.array(z.string()).optional(),
    timeoutMs: z.number().int().min(1),
    failureMode: FailureModeSchema,
  }),
]);
export type GuardrailDetectorConfig = z.infer<typeof GuardrailDetectorConfigSchema>;

export const GuardrailRuleConfigSchema = z.object({
  name: z.string().min(1),
  phase: z.enum(GUARDRAIL_PHASES),
  action: z.enum(GUARDRAIL_ACTIONS),
  detector: GuardrailDetectorConfigSchema,
});
export type GuardrailRuleConfig = z.infer<typeof GuardrailRuleConfigSchema>;

export const GuardrailConfigSchema = z.object({
  /** namespace/name */
  id: z.string().min(1),
  subjects: SubjectsConfigSchema,
  rules: z.array(GuardrailRuleConfigSchema).min(1),
  /** Characters of a streamed answer held back and checked before release. */
  holdBackChars: z.number().int().min(0),
  /**
   * Pass-through and Realtime calls it covers (its rules cannot read them) go through, recorded.
   * Absent = refused when a rule blocks or masks: a snapshot from an operator that predates the
   * field gets the safe behaviour, and snapshots of policies that keep the default keep their hash.
   */
  uninspectedEndpoints: z.literal('Allow').optional(),
});
export type GuardrailConfig = z.infer<typeof GuardrailConfigSchema>;

/**
 * The rule name a policy's decision about a pass-through endpoint carries (no rule of the policy
 * reads the endpoint): not a DNS label, so it never names one of the policy's own rules.
 */
export function uninspectedRuleName(endpoint: string): string {
  return `endpoint:${endpoint}`;
}
