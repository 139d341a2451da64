import { z } from 'zod';
import { ConditionsSchema, InstallationSchema, ObservedGenerationSchema, withRules, objectSchema, PositiveTimerDurationSchema } from './common.js';
import { subjectsSchema } from './subjects.js';
import { durationToMs } from './duration.js';
import { BUILTIN_DETECTORS, compileContentPattern, MAX_CUSTOM_PATTERNS } from '../../dataplane/config/content-detectors.js';


const FailureModeSchema = z
  .enum(['Open', 'Closed'])
  .default('Closed')
  .describe('When the check cannot answer (down, timed out, bad answer): Open lets the content through (the decision is recorded as an error), Closed blocks it.');

export const PatternSchema = z
  .strictObject({
  name: z.string().min(1).max(63).regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must start with a letter and hold only letters, digits, - and _').describe('Pattern name: a masked match becomes [NAME] (upper-cased, - as _).'),
  pattern: z.string().min(1).max(1024).describe('RE2 regular expression (linear time: no backreferences or look-around), matched anywhere in the text.'),
  })
  // The whole reason in the message (bad syntax, too complex, matches the empty string); the data plane runs the same check.
  .superRefine((p, ctx) => {
    const compiled = compileContentPattern(p.name, p.pattern);
    if (!compiled.ok && !compiled.error.startsWith('name')) ctx.addIssue({ code: 'custom', path: ['pattern'], message: `pattern must be a valid RE2 regular expression: ${compiled.error}` });
  })
  .meta({
    'x-kubernetes-validations': [
      {
        // The API server's CEL regex engine is RE2 too: matches() fails on a pattern RE2 cannot compile,
        // and a rule whose evaluation fails refuses the object. x || !x holds for every valid pattern.
        rule: "''.matches(self.pattern) || !''.matches(self.pattern)",
        message: 'pattern must be a valid RE2 regular expression',
      },
    ],
  });

export const WebhookSchema = withRules(
  z.strictObject({
    url: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL').max(2048).optional().describe('URL to POST to (e.g. http://guard.team-a.svc:8080/check). Set url or serviceRef.'),
    serviceRef: z
      .strictObject({
        name: z.string().min(1).max(63).describe('Name of a Service in the namespace of this policy.'),
        port: z.number().int().min(1).max(65535).describe('Service port.'),
        path: z.string().regex(/^\/.*/, 'must start with /').max(1024).default('/').describe('Path the check is POSTed to.'),
      })
      .optional()
      .describe('An in-cluster Service in the namespace of this policy, reached by its cluster DNS name.'),
    timeout: PositiveTimerDurationSchema.describe('How long to wait for the answer (required); past it failureMode decides.'),
    failureMode: FailureModeSchema,
  }),
  [
    {
      rule: 'has(self.url) != has(self.serviceRef)',
      message: 'webhook needs exactly one of url and serviceRef',
      holds: (w) => (w.url !== undefined) !== (w.serviceRef !== undefined),
    },
    { rule: "duration(self.timeout) <= duration('30s')", message: 'webhook timeout must be at most 30s', holds: (w) => durationToMs(w.timeout) <= 30_000 },
  ],
).describe('POST the text to a service of yours (JSON contract in docs/guardrails.md) that says whether it is flagged.');

export const ModerationSchema = withRules(
  z.strictObject({
    providerRef: z
      .strictObject({
        name: z.string().min(1).describe('Provider name.'),
        namespace: z.string().min(1).optional().describe('Provider namespace; defaults to the namespace of this policy.'),
      })
      .describe('A Provider of type openai or openai-compatible that serves POST /moderations.'),
    model: z.string().min(1).max(256).default('omni-moderation-latest').describe('Moderation model.'),
    categories: z
      .array(z.string().min(1).max(128))
      .max(32)
      .optional()
      .describe('Only these categories count (e.g. violence, self-harm/intent); absent: the flagged verdict counts.'),
    timeout: PositiveTimerDurationSchema.default('5s').describe('How long to wait for the answer; past it failureMode decides.'),
    failureMode: FailureModeSchema,
  }),
  [{ rule: "duration(self.timeout) <= duration('30s')", message: 'moderation timeout must be at most 30s', holds: (m) => durationToMs(m.timeout) <= 30_000 }],
).describe('Ask a Provider that speaks the OpenAI moderation API.');

const DETECTOR_FIELDS = ['builtin', 'patterns', 'denyList', 'maxPromptTokens', 'webhook', 'moderation'] as const;

export const DetectorSchema = withRules(
  z.strictObject({
    builtin: z
      .array(z.enum(BUILTIN_DETECTORS))
      .min(1)
      .max(BUILTIN_DETECTORS.length)
      .optional()
      .describe('Built-in detectors (shared with DataPolicy): Email, Phone, PaymentCard (Luhn-checked), IBAN, NationalID, IPAddress, Credential (API keys, bearer tokens, JWTs, private keys, cloud keys).'),
    patterns: z.array(PatternSchema).min(1).max(MAX_CUSTOM_PATTERNS).optional().describe('Custom patterns, RE2 syntax.'),
    denyList: z
      .strictObject({
        phrases: z.array(z.string().min(1).max(256)).min(1).max(1024).describe('Words or phrases, matched case-insensitively as whole words.'),
      })
      .optional()
      .describe('Words or phrases that must not appear.'),
    maxPromptTokens: z.number().int().min(1).optional().describe('Largest prompt, in estimated tokens (request phase, action Block or Monitor).'),
    webhook: WebhookSchema.optional(),
    moderation: ModerationSchema.optional(),
  }),
  [
    {
      rule: `[${DETECTOR_FIELDS.map((f) => `has(self.${f})`).join(', ')}].filter(x, x).size() == 1`,
      message: `detector needs exactly one of ${DETECTOR_FIELDS.join(', ')}`,
      holds: (d) => DETECTOR_FIELDS.filter((f) => d[f] !== undefined).length === 1,
    },
  ],
).describe('What the rule looks for: exactly one detector.');

export const GuardrailRuleSchema = withRules(
  z.strictObject({
    name: z.string().min(1).max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label (lower case letters, digits and -)').describe('Rule name: it appears in refusals, metrics, traces and the access log.'),
    phase: z.enum(['Request', 'Response']).describe('Request: checked before anything goes upstream. Response: checked before the answer reaches the client (streams: see spec.streaming).'),
    detector: DetectorSchema,
    action: z
      .enum(['Block', 'Mask', 'Monitor'])
      .describe('Block: refuse (request) or end the answer with an error. Mask: replace what was found with a typed marker such as [EMAIL]. Monitor: decide and record only.'),
  }),
  [
    {
      rule: "self.action != 'Mask' || !(has(self.detector.maxPromptTokens) || has(self.detector.moderation))",
      message: 'action Mask needs a detector that finds spans (builtin, patterns, denyList or webhook)',
      holds: (r) => r.action !== 'Mask' || (r.detector.maxPromptTokens === undefined && r.detector.moderation === undefined),
    },
    {
      rule: "self.phase == 'Request' || !has(self.detector.maxPromptTokens)",
      message: 'maxPromptTokens is only allowed in phase Request',
      holds: (r) => r.phase === 'Request' || r.detector.maxPromptTokens === undefined,
    },
  ],
);

export const GuardrailPolicySpecSchema = z
  .strictObject({
    subjects: subjectsSchema('GuardrailPolicy').describe('Whose traffic this policy checks.'),
    rules: z
      .array(GuardrailRuleSchema)
      .min(1)
      .max(32)
      // The API server refuses duplicate names through the list-map key; tollgate dev through the refinement.
      .superRefine((rules, ctx) => {
        const seen = new Set<string>();
        for (const r of rules) {
          if (seen.has(r.name)) ctx.addIssue({ code: 'custom', message: `rule name ${r.name} is used more than once` });
          seen.add(r.name);
        }
      })
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .describe('Rules in order: each sees the text as the rules before it left it (masked); the first Block ends the check.'),
    streaming: z
      .strictObject({
        holdBackChars: z
          .number()
          .int()
          .min(0)
          .max(4096)
          .default(128)
          .describe('Characters of a streamed answer held back and checked before they are released; a match longer than this may be partly released before it is recognised. 0 checks only the end.'),
      })
      .default({ holdBackChars: 128 })
      .describe('How Response rules apply to streamed answers.'),
    uninspectedEndpoints: z
      .enum(['Refuse', 'Allow'])
      .default('Refuse')
      .describe(
        'What happens to the calls this policy covers on endpoints its rules cannot read: the pass-through endpoints a ModelRoute enables (images, audio, files, batches, moderations, rerank, score, tokenize, stored responses, vector stores, uploads, conversations, videos, containers, fine-tuning jobs, evals) and Realtime sessions, which are forwarded untranslated. Refuse (the default): when the policy has a Block or Mask rule, they are refused with 403 guardrail_uninspected naming the policy and the endpoint. Allow: they go through unchecked, each recorded as a decision (action Allow, detector uninspected). Refuse in any policy that applies wins over Allow in another.',
      ),
  })
  .describe('Content controls: rules that block, mask or monitor requests and responses of a set of callers or routes.');

export const GuardrailPolicyStatusSchema = z
  .strictObject({
    observedGeneration: ObservedGenerationSchema,
    installation: InstallationSchema,
    conditions: ConditionsSchema.optional(),
  })
  .describe('Whether the policy is accepted and in force.');

export const GuardrailPolicySchema = objectSchema('GuardrailPolicy', GuardrailPolicySpecSchema, GuardrailPolicyStatusSchema);
export type GuardrailPolicy = z.infer<typeof GuardrailPolicySchema>;
export type GuardrailPolicySpec = z.infer<typeof GuardrailPolicySpecSchema>;
export type GuardrailRule = z.infer<typeof GuardrailRuleSchema>;
