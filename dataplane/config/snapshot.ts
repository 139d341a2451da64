import { z } from 'zod';
import { secretSchema } from './secret-value.js';
import { PASS_THROUGH_ENDPOINTS } from './pass-through-endpoints.js';
import { DataPolicyConfigSchema } from './data-policy-config.js';
import { GuardrailConfigSchema } from './guardrail-config.js';
import { SubjectsConfigSchema } from './subjects-config.js';
import { PROVIDER_SETTINGS } from '../providers/contracts.js';

export { SubjectsConfigSchema, type SubjectsConfig } from './subjects-config.js';

/**
 * The Snapshot: the only contract between the operator (or `tollgate dev`) and the data plane.
 * It carries no Kubernetes types. Durations are milliseconds, prices USD per million tokens.
 * Both sides validate with this schema; bump SNAPSHOT_SCHEMA_VERSION on incompatible changes.
 * Every credential is a SecretValue (secretSchema): redacted in every output, revealed only on the wire
 * to a data plane and where it is sent upstream.
 */
export const SNAPSHOT_SCHEMA_VERSION = 3;

export const FAILURE_KINDS = ['RateLimited', 'ServerError', 'Timeout', 'ConnectionError', 'ContextLengthExceeded'] as const;
export const FailureKindSchema = z.enum(FAILURE_KINDS);
export type FailureKind = z.infer<typeof FailureKindSchema>;

/**
 * The text token prices of a request whose prompt is past a model's long-context threshold
 * (Gemini 2.5 Pro, Claude's 1M-token context): the whole request is billed at them.
 */
export const LongContextPricingSchema = z.object({
  /** Prompt tokens (cached and cache writes included) above which these prices apply. */
  aboveInputTokens: z.number().int().min(1),
  inputPerMTok: z.number().min(0),
  outputPerMTok: z.number().min(0),
  cachedInputPerMTok: z.number().min(0),
  cacheWriteInputPerMTok: z.number().min(0).optional(),
  cacheWrite1hInputPerMTok: z.number().min(0).optional(),
});
export type LongContextPricing = z.infer<typeof LongContextPricingSchema>;

export const PricingSchema = z.object({
  inputPerMTok: z.number().min(0),
  outputPerMTok: z.number().min(0),
  cachedInputPerMTok: z.number().min(0),
  /** Price of input tokens written to the prompt cache; the input price when absent. */
  cacheWriteInputPerMTok: z.number().min(0).optional(),
  /** Price of input tokens written to the prompt cache for an hour; the cache-write price when absent. */
  cacheWrite1hInputPerMTok: z.number().min(0).optional(),
  /** Prices of audio and image tokens (Usage.audioInputTokens, ...); the text input or output price when absent. */
  audioInputPerMTok: z.number().min(0).optional(),
  audioOutputPerMTok: z.number().min(0).optional(),
  imageInputPerMTok: z.number().min(0).optional(),
  imageOutputPerMTok: z.number().min(0).optional(),
  longContext: LongContextPricingSchema.optional(),
  /** USD per second of one self-hosted pod (GPU-second price × GPUs per pod), charged for each request's share of the pod. */
  podSecondUsd: z.number().min(0).optional(),
  /** Pass-through prices: USD per successful request, per image, per second of transcribed audio, per million characters of speech input. */
  perRequestUsd: z.number().min(0).optional(),
  /** USD per built-in tool call a Response reports (web_search_call, file_search_call output items). */
  perWebSearchUsd: z.number().min(0).optional(),
  perFileSearchUsd: z.number().min(0).optional(),
  /** USD per code interpreter container session of 1 GB (a larger container at that price per GB of its memory). */
  perContainerUsd: z.number().min(0).optional(),
  perImageUsd: z.number().min(0).optional(),
  perAudioSecondUsd: z.number().min(0).optional(),
  perMCharactersUsd: z.number().min(0).optional(),
  /** USD per second of generated video (Sora: POST /v1/videos, remixes, edits, extensions). */
  perVideoSecondUsd: z.number().min(0).optional(),
  /** The fraction of the token prices a Batch API request is billed at (POST /v1/batches); absent: DEFAULT_BATCH_PRICE_MULTIPLIER (0.5). */
  batchMultiplier: z.number().min(0).max(1).optional(),
  /** USD per million tokens a fine-tuning job trains (its files' examples × epochs); absent: the route refuses fine-tuning jobs. */
  trainingPerMTok: z.number().min(0).optional(),
  /**
   * The most output tokens a second the model can make: a stream cut before its usage is charged at
   * most this × the time before its first answer token for the reasoning it never showed. Set, the
   * model reasons whatever its adapter knows; absent, DEFAULT_REASONING_TOKENS_PER_SECOND for the
   * models and requests an adapter says reason unseen (ProviderAdapter.reasonsUnseen).
   */
  reasoningTokensPerSecond: z.number().positive().optional(),
});
export type Pricing = z.infer<typeof PricingSchema>;

/** Passive health of each target of a provider (see routing/health). */
export const OutlierDetectionConfigSchema = z.object({
  consecutiveFailures: z.number().int().min(1),
  /** Eject when failures / attempts in the window reach this (0..1); absent = only consecutive failures count. */
  errorRateThreshold: z.number().min(0).max(1).optional(),
  errorRateMinRequests: z.number().int().min(1),
  windowMs: z.number().int().min(1),
  baseEjectionMs: z.number().int().min(1),
  maxEjectionMs: z.number().int().min(1),
});
export type OutlierDetectionConfig = z.infer<typeof OutlierDetectionConfigSchema>;

export const ProviderConfigSchema = z.object({
  /** namespace/name */
  id: z.string().min(1),
  type: z.string().min(1),
  /** Base URLs (one for hosted APIs, one per ready pod for serviceRef providers). Empty for mock. */
  endpoints: z.array(z.string()),
  /** The Service port a serviceRef provider's endpoints come from (`namespace/name port N`), named when it has none. */
  service: z.string().optional(),
  /** The upstream credential itself. The channel carrying a snapshot must be authenticated. */
  apiKey: secretSchema(z.string()).optional(),
  headers: z.record(z.string(), z.string()),
  connectTimeoutMs: z.number().int().min(1),
  maxConcurrency: z.number().int().min(1).optional(),
  /** The settings blocks of the provider types (providers/<name>/contract.ts), each optional. */
  ...PROVIDER_SETTINGS,
  /** The Provider's labels (region, data class, approved...), for residency selectors; absent = none. */
  labels: z.record(z.string(), z.string()).optional(),
  /**
   * The labels may satisfy a caller's residency requirement (`require.tollgate.dev/*` on its
   * namespace or API key): the Provider is in a platform namespace, or no namespace is singled out
   * as the platform's (tollgate dev). Absent = they may not; a route's own providerSelector still sees them.
   */
  labelsTrusted: z.literal(true).optional(),
  /** Passive health; absent = off. */
  outlierDetection: OutlierDetectionConfigSchema.optional(),
  /**
   * What the Provider's answers depend on besides its credential, hashed: its type, where it is (url
   * or Service, not the pods of the moment) and its settings. Cached answers are keyed by it, so a
   * Provider re-pointed at another upstream does not serve the old one's answers.
   */
  answerIdentity: z.string().optional(),
  /** Active health checks; absent when the Provider does not enable them. */
  healthCheck: z
    .object({
      path: z.string(),
      intervalMs: z.number().int().min(1),
      timeoutMs: z.number().int().min(1),
      unhealthyThreshold: z.number().int().min(1),
      healthyThreshold: z.number().int().min(1),
    })
    .optional(),
});
export type ProviderConfig = z.infer<typeof ProviderConfigSchema>;

export const TargetConfigSchema = z.object({
  providerId: z.string().min(1),
  model: z.string().min(1),
  priority: z.number().int(),
  weight: z.number().int().min(0),
  pricing: PricingSchema,
  contextWindow: z.number().int().optional(),
  /** Capabilities declared false on the Provider's model (absent = supported). */
  lacks: z.array(z.enum(['tools', 'vision', 'jsonSchema'])).optional(),
});
export type TargetConfig = z.infer<typeof TargetConfigSchema>;

export const HeaderMatchConfigSchema = z.object({
  /** lower-cased */
  name: z.string(),
  value: z.string(),
  type: z.enum(['Exact', 'RegularExpression']),
});

/** One rate limit of a route; a caller is admitted only when every limit of the route admits. */
export const RateLimitConfigSchema = z.object({
  /** Route: one bucket for all callers. Caller: one per caller, across routes with the same Caller limit. RouteAndCaller: one per caller on this route. */
  per: z.enum(['Route', 'Caller', 'RouteAndCaller']),
  requestsPerMinute: z.number().int().min(1).optional(),
  /** Prompt + completion tokens. */
  tokensPerMinute: z.number().int().min(1).optional(),
});
export type RateLimitConfig = z.infer<typeof RateLimitConfigSchema>;

/** Response caching of a route; absent = off. */
/** Pass-through endpoints of a route (dataplane/passthrough). */
export const PassThroughConfigSchema = z.object({
  endpoints: z.array(z.enum(PASS_THROUGH_ENDPOINTS)),
  maxUploadBytes: z.number().int().min(1),
  realtime: z.object({
    maxConnections: z.number().int().min(1),
    idleTimeoutMs: z.number().int().min(1),
    /** Open connections per caller on the route (absent from an older operator's snapshot: the data plane's default then). */
    maxConnectionsPerCaller: z.number().int().min(1).optional(),
    /** Longest a session lives, whatever it sends (absent from an older operator's snapshot: the default). */
    maxDurationMs: z.number().int().min(1).optional(),
  }),
});
export type PassThroughConfig = z.infer<typeof PassThroughConfigSchema>;

export const CacheConfigSchema = z.object({
  ttlMs: z.number().int().min(1),
  /** Entries kept per route (per pod with the in-memory cache); least recently used go first. */
  maxEntries: z.number().int().min(1),
  /** One entry serves every caller of the route; otherwise entries are per caller. */
  shareAcrossCallers: z.boolean(),
});
export type CacheConfig = z.infer<typeof CacheConfigSchema>;

/** Size limits on what an upstream sends back; a field left out takes its default (config/route-limits.ts). */
export const RouteLimitsConfigSchema = z.object({
  maxResponseBytes: z.number().int().min(1).optional(),
  maxStreamEventBytes: z.number().int().min(1).optional(),
  maxResponseJsonElements: z.number().int().min(1).optional(),
});
export type RouteLimitsConfig = z.infer<typeof RouteLimitsConfigSchema>;

export const LabelSelectorConfigSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(z.object({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() }))
    .optional(),
});

/** Who may call a route. */
export const AccessConfigSchema = z.object({
  anonymous: z.boolean(),
  /** Namespaces whose ServiceAccounts and API keys may call. */
  namespaces: z.object({ from: z.enum(['Same', 'All', 'Selector']), selector: LabelSelectorConfigSchema.optional() }),
  /** "namespace/name" of ServiceAccounts allowed in addition. */
  serviceAccounts: z.array(z.string()),
  /** API keys whose Secret labels match may call, when their Secret is in one of apiKeyNamespaces. */
  apiKeySelector: LabelSelectorConfigSchema.optional(),
  /** Namespaces whose API keys apiKeySelector (and rules' apiKeySelector) may admit; absent: the route's own. */
  apiKeyNamespaces: z.array(z.string()).optional(),
});
export type AccessConfig = z.infer<typeof AccessConfigSchema>;

/** An API key, by keyed hash only: the key itself never leaves its Secret. */
export const ApiKeyConfigSchema = z.object({
  /** hex HMAC-SHA256 of the key under the snapshot's apiKeyHashKey (see api-key-digest.ts) */
  hmacSha256: secretSchema(z.string().regex(/^[0-9a-f]{64}$/)),
  namespace: z.string(),
  name: z.string(),
  labels: z.record(z.string(), z.string()),
});
export type ApiKeyConfig = z.infer<typeof ApiKeyConfigSchema>;

export const POD_SELECTION_STRATEGIES = ['QueueAware', 'LeastOutstanding', 'PrefixAffinity', 'LoRAAffinity'] as const;

/** How a pod is chosen inside a vllm provider; absent = QueueAware. */
export const PodSelectionConfigSchema = z.object({
  strategy: z.enum(POD_SELECTION_STRATEGIES),
  /** PrefixAffinity: characters of the prompt prefix hashed. */
  prefixChars: z.number().int().min(1),
  /** PrefixAffinity: a pod takes at most loadBound × the average load. */
  loadBound: z.number().min(1),
});
export type PodSelectionConfig = z.infer<typeof PodSelectionConfigSchema>;

/** A Budget as the data plane enforces it. Spend itself travels separately (usage reports). */
export const BudgetConfigSchema = z.object({
  /** namespace/name */
  id: z.string(),
  unit: z.enum(['USD', 'Tokens']),
  amount: z.number().positive(),
  period: z.enum(['Day', 'Week', 'Month', 'Rolling']),
  windowMs: z.number().int().positive().optional(),
  timeZone: z.string(),
  subjects: SubjectsConfigSchema,
  action: z.object({ type: z.enum(['Reject', 'Downgrade']), downgradeTo: z.string().optional(), cutStreams: z.boolean() }),
  thresholds: z.array(z.number()),
});
export type BudgetConfig = z.infer<typeof BudgetConfigSchema>;

/** An inclusive range; a missing bound is open. */
export const RangeConfigSchema = z.object({ min: z.number().int().min(0).optional(), max: z.number().int().min(0).optional() });

/** Conditions of a rule, all of which must hold; absent fields are not checked. */
export const RuleConditionsConfigSchema = z.object({
  headers: z.array(HeaderMatchConfigSchema).optional(),
  namespaces: z.array(z.string()).optional(),
  /** "namespace/name" */
  serviceAccounts: z.array(z.string()).optional(),
  namespaceSelector: LabelSelectorConfigSchema.optional(),
  apiKeySelector: LabelSelectorConfigSchema.optional(),
  promptTokens: RangeConfigSchema.optional(),
  /** A request without an output cap counts as unbounded. */
  maxTokens: RangeConfigSchema.optional(),
  tools: z.boolean().optional(),
  images: z.boolean().optional(),
  jsonSchema: z.boolean().optional(),
  stream: z.boolean().optional(),
});
export type RuleConditionsConfig = z.infer<typeof RuleConditionsConfigSchema>;

export const STRATEGY_NAMES = ['failover', 'weighted', 'least-latency', 'least-cost', 'least-loaded'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** One rule of a route; the first whose conditions hold serves. */
export const RuleConfigSchema = z.object({
  name: z.string().min(1),
  /** Absent = catch-all. */
  when: RuleConditionsConfigSchema.optional(),
  strategy: z.enum(STRATEGY_NAMES),
  /** Indexes into the route's `targets`. */
  targets: z.array(z.number().int().min(0)),
  /** Residency: only targets whose provider labels match may serve the rule. */
  providerSelector: LabelSelectorConfigSchema.optional(),
});
export type RuleConfig = z.infer<typeof RuleConfigSchema>;

export const RouteConfigSchema = z.object({
  /** namespace/name */
  id: z.string().min(1),
  namespace: z.string(),
  model: z.string().min(1),
  /** Unix seconds of the object's creation, shown by /v1/models. */
  created: z.number().int(),
  /** Any one match must hold; empty = every request. */
  matches: z.array(z.object({ headers: z.array(HeaderMatchConfigSchema) })),
  strategy: z.enum(STRATEGY_NAMES),
  /** Every target of the route (of all its rules). */
  targets: z.array(TargetConfigSchema),
  /** Rules in order; absent = one catch-all rule named default over all `targets` with `strategy`. */
  rules: z.array(RuleConfigSchema).optional(),
  /** Why configured targets are missing from `targets`; served as the error when none is left. */
  unresolved: z.array(z.string()),
  /** Absent or empty = no rate limits. */
  rateLimits: z.array(RateLimitConfigSchema).optional(),
  cache: CacheConfigSchema.optional(),
  limits: RouteLimitsConfigSchema.optional(),
  /** Absent = no pass-through endpoint is enabled. */
  passThrough: PassThroughConfigSchema.optional(),
  retry: z.object({
    attempts: z.number().int().min(1),
    on: z.array(FailureKindSchema),
    initialBackoffMs: z.number().int().min(0),
    maxBackoffMs: z.number().int().min(0),
    maxRetryAfterMs: z.number().int().min(0),
  }),
  fallbackOn: z.array(FailureKindSchema),
  timeouts: z.object({
    attemptMs: z.number().int().min(1).optional(),
    totalMs: z.number().int().min(1),
    streamIdleMs: z.number().int().min(1),
  }),
  access: AccessConfigSchema,
  podSelection: PodSelectionConfigSchema.optional(),
});
export type RouteConfig = z.infer<typeof RouteConfigSchema>;

export const SnapshotSchema = z.object({
  schemaVersion: z.literal(SNAPSHOT_SCHEMA_VERSION),
  /** Content hash of everything below; equal content, equal version. */
  version: z.string().min(1),
  providers: z.array(ProviderConfigSchema),
  /** Ordered by precedence: for one public model, the first matching route serves. */
  routes: z.array(RouteConfigSchema),
  apiKeys: z.array(ApiKeyConfigSchema),
  /** The installation's key for apiKeys' HMACs; present whenever apiKeys is not empty. */
  apiKeyHashKey: secretSchema().optional(),
  budgets: z.array(BudgetConfigSchema),
  /** GuardrailPolicies (dataplane/guardrail); absent = none. */
  guardrails: z.array(GuardrailConfigSchema).optional(),
  /** Labels of namespaces, for Selector access rules. */
  namespaces: z.record(z.string(), z.record(z.string(), z.string())),
  /** Content capture policies, in precedence order; absent = nothing is captured anywhere. */
  dataPolicies: z.array(DataPolicyConfigSchema).optional(),
});
export type Snapshot = z.infer<typeof SnapshotSchema>;
export type SnapshotContent = Omit<Snapshot, 'version'>;

/**
 * The provider types this data plane serves, each with its settings blocks (above), the block it
 * cannot work without and its public endpoint: declared by each type in its own folder
 * (providers/<name>/contract.ts, zod and config/ only) and composed in providers/contracts.ts, the
 * one import of this folder from above it. The operator builds each type's settings and may import
 * nothing of the data plane but config/, so they reach it from here (the Provider CRD's type enum is
 * this list). Everything else the data plane knows of a type (adapter, transport, auth, telemetry
 * name, pod load) is in dataplane/providers/registry.ts, keyed on this list: a type added without a
 * registry entry fails to compile.
 */
export {
  defaultBaseUrl,
  isSupportedProviderType,
  passThroughEndpointsOf,
  requiredSettings,
  SUPPORTED_PROVIDER_TYPES,
  type ProviderSettingsKey,
  type SupportedProviderType,
} from '../providers/contracts.js';
