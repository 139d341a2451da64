import { z } from 'zod';
import { durationToMs } from './duration.js';

/** API group and version shared by every Tollgate CRD. */
export const GROUP = 'tollgate.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;

/** A subset of Kubernetes ObjectMeta: what compile reads. Unknown fields pass through. */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().min(1).max(253),
  namespace: z.string().min(1).max(63).optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;

/**
 * A Tollgate object as the API server holds it: its kind, metadata, spec, and the status the
 * operator writes (absent until it has). Unknown fields pass through.
 */
export function objectSchema<const K extends string, Spec extends z.ZodType, Status extends z.ZodType>(kind: K, spec: Spec, status: Status) {
  return z.looseObject({ apiVersion: z.literal(API_VERSION), kind: z.literal(kind), metadata: ObjectMetaSchema, spec, status: status.optional() });
}

/**
 * Gateway API Duration: a Go-style duration restricted to h, m, s and ms, e.g. "30s", "1m30s", "250ms".
 * Kept as a string in the API so that CEL's duration() can compare values at admission.
 */
export const DurationSchema = z
  .string()
  .max(32)
  .regex(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/, 'must be a duration such as "30s", "1m30s" or "250ms"')
  .meta({ description: 'Duration such as "30s", "1m30s" or "250ms" (units h, m, s, ms).' });

export const SecretKeySelectorSchema = z
  .strictObject({
    name: z.string().min(1).max(253).describe('Name of the Secret, in the same namespace as the referring object.'),
    key: z.string().min(1).max(253).describe('Key inside the Secret data.'),
  })
  .describe('A key of a Secret in the same namespace.');

export const LabelSelectorRequirementSchema = z.strictObject({
  key: z.string().min(1).describe('Label key the selector applies to.'),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).describe('Relationship of the key to the values.'),
  values: z.array(z.string()).max(64).optional().describe('Values for In and NotIn; empty for Exists and DoesNotExist.'),
});

export const LabelSelectorSchema = z
  .strictObject({
    matchLabels: z.record(z.string(), z.string()).optional().describe('Labels that must all be present with these values.'),
    matchExpressions: z.array(LabelSelectorRequirementSchema).max(16).optional().describe('Set-based requirements, all of which must hold.'),
  })
  .describe('A Kubernetes label selector. An empty selector matches everything.');
export type LabelSelector = z.infer<typeof LabelSelectorSchema>;

/** Gateway API style namespace admission, used by Provider.allowedRoutes and ModelRoute.access. */
export const NamespacesFromSchema = withRules(
  z.strictObject({
    from: z
      .enum(['Same', 'All', 'Selector'])
      .default('Same')
      .describe('Same: only the own namespace. All: every namespace. Selector: namespaces whose labels match selector.'),
    selector: LabelSelectorSchema.optional().describe('Namespace label selector; required when from is Selector.'),
  }),
  [
    { rule: "self.from != 'Selector' || has(self.selector)", message: 'selector is required when from is Selector', holds: (v) => v.from !== 'Selector' || v.selector !== undefined },
    { rule: "self.from == 'Selector' || !has(self.selector)", message: 'selector is only allowed when from is Selector', holds: (v) => v.from === 'Selector' || v.selector === undefined },
  ],
);
export type NamespacesFrom = z.infer<typeof NamespacesFromSchema>;

export const ConditionSchema = z.strictObject({
  type: z.string().describe('Condition type: Accepted, ResolvedRefs or Programmed; a Budget also has ThresholdReached (True from its first threshold crossed, reason ReachedNPercent or Exhausted) and, in the exact mode where another installation serves it too, SharedWithAnotherInstallation (True, reason SpendNotInStatus, written by that installation: its spend is not in status.spent); a ModelRoute also has Priced (False, reason Unpriced, naming the targets whose requests are charged $0) and, with spec.passThrough, PassThroughServed (False, reason EndpointNotServed, naming the listed endpoints no target can serve, reason TrainingUnpriced, naming the targets without pricing.training whose fine-tuning jobs are refused, or reason GuardrailRefused, naming the GuardrailPolicies that refuse its pass-through calls).'),
  status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
  reason: z.string().describe('CamelCase reason for the last transition.'),
  message: z.string().describe('Human readable details.'),
  observedGeneration: z.number().int().optional().describe('The .metadata.generation this condition was computed for.'),
  lastTransitionTime: z.string().describe('When status last changed (RFC 3339).'),
});
export type Condition = z.infer<typeof ConditionSchema>;

export const ObservedGenerationSchema = z.number().int().optional().describe('The .metadata.generation the status was computed for.');

/**
 * Which installation writes the status (`<release namespace>/<Lease name>`): when two installations
 * watch the same namespace, the first to write keeps it and the other records an Event
 * (OwnedByAnotherInstallation) instead of overwriting it. Cleared by hand to hand an object over.
 */
export const InstallationSchema = z.string().max(317).optional().describe('The installation whose operator writes this status (<namespace>/<Lease name>); another installation watching the namespace leaves the status alone and records an OwnedByAnotherInstallation Event, except that both count their data planes\' spend into a Budget in the reported mode, and that in the exact mode the other marks the Budget with the condition SharedWithAnotherInstallation. Remove it to let another installation take the object over.');

/** A reference to a ServiceAccount. */
export const ServiceAccountRefSchema = z.strictObject({
  namespace: z.string().min(1).describe('Namespace of the ServiceAccount.'),
  name: z.string().min(1).describe('Name of the ServiceAccount.'),
});

export const ConditionsSchema = z
  .array(ConditionSchema)
  .max(8)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
  .describe('Current state of the object: Accepted, ResolvedRefs, Programmed.');

/** Spec changes a Provider or ModelRoute status keeps (the oldest dropped first). */
export const MAX_SPEC_HISTORY = 20;

export const SpecHistorySchema = z
  .array(
    z.strictObject({
      generation: z.number().int().describe('The .metadata.generation the spec changed to.'),
      changedAt: z.string().describe('When (RFC 3339): the last write of .spec recorded in managedFields, else when the operator saw the new generation.'),
    }),
  )
  .max(MAX_SPEC_HISTORY)
  .describe(
    `The spec changes (generation bumps) the operator saw, oldest first, at most ${MAX_SPEC_HISTORY}: the console marks them on its charts, so a routing change can be judged by what it did. A generation that came and went while the operator was down is not listed.`,
  );
export type SpecHistory = z.infer<typeof SpecHistorySchema>;

/** A cross-field rule: CEL for the API server, the same rule in TypeScript for manifests read from disk. */
export interface CrossFieldRule<T> {
  rule: string;
  message: string;
  holds: (value: T) => boolean;
}

/** Attaches rules to a schema once, so `kubectl apply` and `tollgate dev` refuse the same objects. */
export function withRules<S extends z.ZodType>(schema: S, rules: CrossFieldRule<z.output<S>>[]): S {
  return schema
    .superRefine((value, ctx) => {
      for (const r of rules) if (!r.holds(value)) ctx.addIssue({ code: 'custom', message: r.message });
    })
    .meta({ 'x-kubernetes-validations': rules.map(({ rule, message }) => ({ rule, message })) }) as S;
}

/**
 * A Duration that must be longer than zero: a timeout, an interval, a window. The snapshot refuses
 * zero there, so the API server refuses it first.
 */
const longerThanZero: CrossFieldRule<string> = { rule: "duration(self) > duration('0s')", message: 'must be longer than 0s', holds: (d) => durationToMs(d) > 0 };

export const PositiveDurationSchema = withRules(DurationSchema, [longerThanZero]);

/**
 * A data plane waits these with a timer, and node fires a timer longer than 2^31-1 ms (24.8 days) at
 * once: a health-check interval of 600h probed 559 times a second, a route timeout of 600h timed out
 * after 1 ms. Held to a day, which no timeout, interval or backoff needs to pass.
 */
const atMostADay: CrossFieldRule<string> = { rule: "duration(self) <= duration('24h')", message: 'must be at most 24h', holds: (d) => durationToMs(d) <= 86_400_000 };

/** A Duration a timer waits (a backoff, a delay): at most 24h. */
export const TimerDurationSchema = withRules(DurationSchema, [atMostADay]);

/** A Duration a timer waits that must be longer than zero (a timeout, an interval): at most 24h. */
export const PositiveTimerDurationSchema = withRules(DurationSchema, [longerThanZero, atMostADay]);

/**
 * An interval every data-plane pod calls an address at (health probes, pod metrics scrapes): at least
 * 50ms (20 calls a second), or one object could make every pod call a URL of its choosing hundreds of
 * times a second (0ms was 580).
 */
export const CallIntervalSchema = withRules(DurationSchema, [
  { rule: "duration(self) >= duration('50ms')", message: 'must be at least 50ms', holds: (d) => durationToMs(d) >= 50 },
  atMostADay,
]);
