import { z } from 'zod';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_MAX_RESPONSE_JSON_ELEMENTS,
  DEFAULT_MAX_STREAM_EVENT_BYTES,
  MAX_RESPONSE_JSON_DEPTH,
  MAX_ROUTE_JSON_ELEMENTS,
  MAX_ROUTE_LIMIT_BYTES,
} from '../../dataplane/config/route-limits.js';
import {
  ConditionsSchema,
  DurationSchema,
  LabelSelectorSchema,
  NamespacesFromSchema,
  objectSchema,
  InstallationSchema,
  ObservedGenerationSchema,
  ServiceAccountRefSchema,
  SpecHistorySchema,
  withRules,
  TimerDurationSchema,
  PositiveTimerDurationSchema,
} from './common.js';
import { durationToMs } from './duration.js';
import { headerPatternError } from '../../dataplane/config/header-pattern.js';
import { DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_REALTIME_IDLE_MS, DEFAULT_REALTIME_MAX_CONNECTIONS, DEFAULT_REALTIME_MAX_DURATION_MS, MAX_UPLOAD_BYTES_LIMIT, PASS_THROUGH_ENDPOINTS } from '../../dataplane/config/pass-through-endpoints.js';

export const STRATEGIES = ['failover', 'weighted', 'least-latency', 'least-cost', 'least-loaded'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Failure classes that retry and fallback policies name. */
export const FAILURE_CLASSES = ['RateLimited', 'ServerError', 'Timeout', 'ConnectionError', 'ContextLengthExceeded'] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];
const FailureClassSchema = z.enum(FAILURE_CLASSES);

export const TargetSchema = z.strictObject({
  providerRef: z
    .strictObject({
      name: z.string().min(1).max(253).describe('Provider name.'),
      namespace: z.string().min(1).max(63).optional().describe('Provider namespace; defaults to the route namespace.'),
    })
    .describe('The Provider serving this target. Cross-namespace use must be allowed by its allowedRoutes.'),
  model: z
    .string()
    .min(1)
    .max(256)
    // It goes into URL paths and the x-tollgate-model answer header: a character node cannot write
    // in a header failed every served answer after the upstream had billed it.
    .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII (no spaces or control characters)')
    .describe('Upstream model name sent to the provider (e.g. gpt-4o-mini-2024-07-18); visible ASCII.'),
  priority: z.number().int().min(0).max(1000).default(0).describe('failover: lower priorities are tried first.'),
  weight: z.number().int().min(0).max(10000).optional().describe('weighted: share of traffic relative to the other targets.'),
});

export const POD_SELECTION = ['QueueAware', 'LeastOutstanding', 'PrefixAffinity', 'LoRAAffinity'] as const;

export const PodSelectionSchema = z
  .strictObject({
    strategy: z
      .enum(POD_SELECTION)
      .default('QueueAware')
      .describe(
        'QueueAware: fewest queued + in-flight requests, KV-cache usage as tie-breaker. LeastOutstanding: fewest requests in flight from the gateway. PrefixAffinity: the same prompt prefix goes to the same pod (warm prefix cache) unless that pod is loaded beyond loadBound. LoRAAffinity: pods already running the target adapter first, then pods with a free adapter slot. Every strategy skips unhealthy and saturated pods.',
      ),
    prefixChars: z
      .number()
      .int()
      .min(16)
      .max(100000)
      .default(1024)
      .describe('PrefixAffinity: characters hashed from the leading system/developer messages (or the start of the prompt).'),
    loadBound: z
      .number()
      .min(1)
      .max(10)
      .default(1.25)
      .describe("PrefixAffinity: a pod takes at most loadBound × the average of the gateway's in-flight requests per pod; above it the prefix moves on to the next pod on the hash ring."),
  })
  .describe(
    'How a pod is chosen inside a vllm Provider with several ready pods (other providers round-robin their endpoints). Per route, because the right choice depends on the traffic: PrefixAffinity for long shared system prompts, LoRAAffinity when the targets are adapters. Default QueueAware.',
  );

export const HeaderMatchSchema = z
  .strictObject({
    name: z.string().min(1).max(256).describe('Header name (case-insensitive).'),
    value: z
      .string()
      .max(4096)
      .describe(
        'Value to compare with. For RegularExpression: RE2 syntax (no backreferences or lookaround), matched against the whole header value in linear time; a value longer than 1024 characters never matches. RE2 program size at most 256 per pattern and 1024 for all patterns of a route.',
      ),
    type: z.enum(['Exact', 'RegularExpression']).default('Exact').describe('How value is compared.'),
  })
  // The whole reason in the message (bad syntax, or an RE2 program too large for the data plane).
  .superRefine((h, ctx) => {
    const error = h.type === 'RegularExpression' ? headerPatternError(h.value) : undefined;
    if (error !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: `value must be a valid RE2 regular expression: ${error}` });
  })
  .meta({
    'x-kubernetes-validations': [
      {
        // The API server's CEL regex engine is RE2 too: matches() fails on a pattern RE2 cannot compile,
        // and a rule whose evaluation fails refuses the object. x || !x holds for every valid pattern.
        // (The program-size limit is checked by the operator, which refuses such a route alone.)
        rule: "self.type != 'RegularExpression' || ''.matches(self.value) || !''.matches(self.value)",
        message: 'value must be a valid RE2 regular expression',
      },
    ],
  });

export const BackoffSchema = z.strictObject({
  initial: TimerDurationSchema.default('100ms').describe('Delay before the first retry; doubles each time, with full jitter.'),
  max: TimerDurationSchema.default('2s').describe('Upper bound of the delay.'),
});

export const RetrySchema = withRules(
  z
    .strictObject({
      attempts: z.number().int().min(1).max(10).default(2).describe('Attempts per target, the first included, before falling back.'),
      retryOn: z
        .array(FailureClassSchema)
        .max(5)
        .default(['RateLimited', 'ServerError', 'ConnectionError'])
        .describe('Failure classes retried on the same target (not ContextLengthExceeded: the same request is refused the same way again; list it in fallbackOn).'),
      backoff: BackoffSchema.optional().describe('Exponential backoff between retries.'),
      maxRetryAfter: TimerDurationSchema.default('10s').describe(
        'Longest upstream retry-after (or OpenAI x-ratelimit-reset) honoured; a longer one moves on to the next target at once.',
      ),
    })
    .describe('Retries on the same target, with jittered exponential backoff that honours retry-after.'),
  [
    {
      // A prompt too long for the target is too long on every retry: each would be one more billed call.
      rule: "!has(self.retryOn) || !self.retryOn.exists(c, c == 'ContextLengthExceeded')",
      message: 'retryOn must not list ContextLengthExceeded: the same request is refused the same way on every retry; list it in fallbackOn to try a target with a larger context window',
      holds: (r) => !r.retryOn.includes('ContextLengthExceeded'),
    },
  ],
);

export const TimeoutsSchema = withRules(
  z.strictObject({
    attempt: PositiveTimerDurationSchema.optional().describe('Limit per upstream attempt: to the full response, or to the first content of a stream (an opening chunk with only the role does not count). Unset: an attempt may use all of `total` (default 300s), so a hung upstream holds the request that long before any fallback; set it on routes with fallback targets.'),
    total: PositiveTimerDurationSchema.default('300s').describe('Limit for all attempts together, backoff included.'),
    streamIdle: PositiveTimerDurationSchema.default('120s').describe('Longest silence between two chunks of a started stream; keep-alive events, comments and bytes that complete no event do not count.'),
  }),
  [
    {
      rule: '!has(self.attempt) || duration(self.attempt) <= duration(self.total)',
      message: 'attempt must not exceed total',
      holds: (t) => t.attempt === undefined || durationToMs(t.attempt) <= durationToMs(t.total),
    },
  ],
);

export const RateLimitSchema = withRules(
  z.strictObject({
    per: z
      .enum(['Route', 'Caller', 'RouteAndCaller'])
      .default('Caller')
      .describe(
        'What one bucket counts. Route: all callers of this route together. RouteAndCaller: each caller on this route. Caller: each caller across every route that declares the same Caller limit (same numbers).',
      ),
    requestsPerMinute: z.number().int().min(1).max(100_000_000).optional().describe('Requests admitted per minute; an idle bucket allows a burst of this many.'),
    tokensPerMinute: z
      .number()
      .int()
      .min(1)
      .max(10_000_000_000)
      .optional()
      .describe('Prompt + completion tokens per minute: charged the prompt estimate at admission, corrected with the real usage when the response ends.'),
  }),
  [
    {
      rule: 'has(self.requestsPerMinute) || has(self.tokensPerMinute)',
      message: 'set requestsPerMinute or tokensPerMinute',
      holds: (r) => r.requestsPerMinute !== undefined || r.tokensPerMinute !== undefined,
    },
  ],
).describe('A requests and/or tokens per minute limit, enforced cluster-wide (exactly with Redis, as a per-pod share otherwise).');

export const RateLimitsSchema = withRules(z.array(RateLimitSchema).max(3), [
  {
    rule: 'self.all(l, self.exists_one(m, m.per == l.per))',
    message: 'each per value may appear once: put requestsPerMinute and tokensPerMinute in the same entry',
    holds: (limits) => limits.every((l) => limits.filter((m) => m.per === l.per).length === 1),
  },
]);

export const CacheSchema = withRules(
  z.strictObject({
    enabled: z.boolean().default(false).describe('Serve identical requests (streaming and non-streaming alike) from cache.'),
    ttl: DurationSchema.default('5m').describe('How long a cached response is served; at most 24h.'),
    maxEntries: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(1000)
      .describe('Responses kept for this route (per pod with the in-memory cache); the least recently used are dropped first. All routes together are also bounded in bytes (TOLLGATE_CACHE_MAX_BYTES on the data plane; with Redis, one namespace holds at most half).'),
    shareAcrossCallers: z
      .boolean()
      .default(false)
      .describe('One cached response serves every caller of the route. Off: each caller only ever sees answers to its own requests.'),
  }),
  [
    { rule: "duration(self.ttl) > duration('0s')", message: 'ttl must be greater than 0', holds: (c) => durationToMs(c.ttl) > 0 },
    { rule: "duration(self.ttl) <= duration('24h')", message: 'ttl must be at most 24h', holds: (c) => durationToMs(c.ttl) <= 86_400_000 },
  ],
);

const MiB = 1024 * 1024;

/** A size limit in bytes, optional, between 1 KiB and MAX_ROUTE_LIMIT_BYTES. */
const byteLimit = (description: string) => z.number().int().min(1024).max(MAX_ROUTE_LIMIT_BYTES).optional().describe(description);

export const RouteLimitsSchema = z
  .strictObject({
    maxResponseBytes: byteLimit(
      `Largest non-streaming upstream response body, in bytes (default ${DEFAULT_MAX_RESPONSE_BYTES / MiB} MiB: a 2,048-input embeddings batch in base64 fits). A larger one is cut off as it arrives and the client gets 502 upstream_response_too_large; it is not retried and does not count against the target's health.`,
    ),
    maxStreamEventBytes: byteLimit(
      `Largest single event of an upstream stream, in bytes (default ${DEFAULT_MAX_STREAM_EVENT_BYTES / MiB} MiB). A larger one ends the stream with an error event (502 upstream_response_too_large before the first chunk); such a stream is never cached.`,
    ),
    maxResponseJsonElements: z
      .number()
      .int()
      .min(1000)
      .max(MAX_ROUTE_JSON_ELEMENTS)
      .optional()
      .describe(
        `Most JSON objects, arrays and object members one upstream response or stream event may hold, counted before it is parsed (default ${DEFAULT_MAX_RESPONSE_JSON_ELEMENTS / 1_000_000} million: a chat answer holds hundreds, logprobs with top_logprobs 20 about 107 per token). Parsing runs on the event loop every route shares; past this, or nested deeper than ${MAX_RESPONSE_JSON_DEPTH} levels, the client gets 502 upstream_response_too_large (an error event once a stream has started), not retried and not counted against the target's health.`,
      ),
  })
  .describe('Size limits on what upstreams send back for this route; they bound the memory one request can take.');

export const PassThroughSchema = z
  .strictObject({
    endpoints: z
      .array(z.enum(PASS_THROUGH_ENDPOINTS))
      .min(1)
      .max(PASS_THROUGH_ENDPOINTS.length)
      .describe(
        'OpenAI endpoints forwarded as they are to the route\'s targets that serve them, by priority (openai, azure-openai, openai-compatible or vllm Providers; failover for JSON and bodyless requests): images (/v1/images/*), audio (/v1/audio/*), files (/v1/files*), batches (/v1/batches*), moderations (/v1/moderations), rerank (/v1/rerank), score (/v1/score), tokenize (/tokenize, /detokenize), realtime (GET /v1/realtime over WebSocket), responses (stored responses: GET/DELETE /v1/responses/{id}, input_items, cancel), and the objects the Provider\'s account keeps: vector_stores (/v1/vector_stores*, search included), uploads (/v1/uploads*), conversations (/v1/conversations*), videos (/v1/videos*), containers (/v1/containers*), fine_tuning (/v1/fine_tuning/jobs*), evals (/v1/evals*). Identity, access, request rate limits, budgets and the access log apply; the Provider\'s credentials replace the caller\'s. Objects belong to the Provider\'s account: every caller the route admits can reach them by id (and list most of them).',
      ),
    maxUploadBytes: z
      .number()
      .int()
      .min(1024)
      .max(MAX_UPLOAD_BYTES_LIMIT)
      .default(DEFAULT_MAX_UPLOAD_BYTES)
      .describe('Largest request body of a pass-through request, in bytes (uploads are streamed, never held whole); a larger one is refused with 413.'),
    realtime: z
      .strictObject({
        maxConnections: z.number().int().min(1).max(100_000).default(DEFAULT_REALTIME_MAX_CONNECTIONS).describe('Open Realtime WebSockets per data-plane pod on this route; one more is refused with 429 at the upgrade.'),
        idleTimeout: PositiveTimerDurationSchema.default(`${DEFAULT_REALTIME_IDLE_MS / 1000}s`).describe('A Realtime WebSocket with no message either way for this long is closed (1001).'),
        maxConnectionsPerCaller: z
          .number()
          .int()
          .min(1)
          .max(100_000)
          .optional()
          .describe(
            'Open Realtime WebSockets one caller (an API key, a ServiceAccount; anonymous callers count as one) may hold per data-plane pod on this route; one more is refused with 429 too_many_connections at the upgrade. Default: a quarter of maxConnections (at least 1); more than maxConnections is maxConnections.',
          ),
        maxDuration: PositiveTimerDurationSchema.default(`${DEFAULT_REALTIME_MAX_DURATION_MS / 60_000}m`).describe(
          'Longest a Realtime WebSocket lives, however busy: the client gets an error event (code session_expired), then both sides are closed with 1000 (OpenAI ends its own sessions at 60 minutes, the default).',
        ),
      })
      .optional()
      .describe('Limits of Realtime WebSockets (endpoint realtime).'),
  })
  .describe('Endpoints the gateway does not translate, forwarded to the route\'s first target.');

export const AccessSchema = z
  .strictObject({
    namespaces: NamespacesFromSchema.optional().describe('Namespaces whose workloads may call this route (default: Same).'),
    serviceAccounts: z
      .array(ServiceAccountRefSchema)
      .max(256)
      .optional()
      .describe('Individual ServiceAccounts allowed in addition to the namespaces above.'),
    apiKeys: z
      .strictObject({
        selector: LabelSelectorSchema,
        namespaces: z
          .array(z.string().min(1).max(63))
          .max(64)
          .optional()
          .describe("Namespaces whose API key Secrets the selector may admit (default: the route's own). A Secret's labels are set by its own namespace, so any namespace could label a key to match: name the ones you trust."),
      })
      .optional()
      .describe(
        "API key Secrets (labelled tollgate.dev/api-key) whose labels match may call this route, if their Secret is in the route's namespace or one listed in namespaces.",
      ),
    anonymous: z.boolean().default(false).describe('Allow callers without any credential.'),
  })
  .describe('Who may call this route.');

const RangeSchema = withRules(
  z.strictObject({
    min: z.number().int().min(0).max(100_000_000).optional().describe('Lowest value that matches (inclusive).'),
    max: z.number().int().min(0).max(100_000_000).optional().describe('Highest value that matches (inclusive).'),
  }),
  [
    { rule: 'has(self.min) || has(self.max)', message: 'set min or max', holds: (r) => r.min !== undefined || r.max !== undefined },
    {
      rule: '!has(self.min) || !has(self.max) || self.min <= self.max',
      message: 'min must not exceed max',
      holds: (r) => r.min === undefined || r.max === undefined || r.min <= r.max,
    },
  ],
);

/** Condition fields of a rule; the CEL rule below must name every one of them. */
const RULE_CONDITIONS = ['headers', 'namespaces', 'serviceAccounts', 'namespaceSelector', 'apiKeySelector', 'promptTokens', 'maxTokens', 'tools', 'images', 'jsonSchema', 'stream'] as const;

export const RuleConditionsSchema = withRules(
  z.strictObject({
    headers: z.array(HeaderMatchSchema).min(1).max(16).optional().describe('Request headers that must all match (e.g. x-task-type: classification).'),
    namespaces: z.array(z.string().min(1).max(63)).min(1).max(64).optional().describe("The caller's namespace (ServiceAccount or API key Secret) is one of these."),
    serviceAccounts: z.array(ServiceAccountRefSchema).min(1).max(64).optional().describe('The caller is one of these ServiceAccounts.'),
    namespaceSelector: LabelSelectorSchema.optional().describe("The caller's namespace labels match this selector."),
    apiKeySelector: LabelSelectorSchema.optional().describe("The caller uses an API key whose Secret labels match this selector, from the route's namespace or one its access.apiKeys.namespaces lists."),
    promptTokens: RangeSchema.optional().describe('Estimated prompt tokens (about four characters per token) are in this range.'),
    maxTokens: RangeSchema.optional().describe('The output cap the request asks for (max_completion_tokens or max_tokens) is in this range; a request without a cap counts as unbounded.'),
    tools: z.boolean().optional().describe('true: the request offers tools (or functions); false: it offers none.'),
    images: z.boolean().optional().describe('true: a message contains an image; false: none does.'),
    jsonSchema: z.boolean().optional().describe('true: the request asks for JSON-schema output (response_format json_schema); false: it does not.'),
    stream: z.boolean().optional().describe('true: the request streams; false: it does not.'),
  }),
  [
    {
      rule: RULE_CONDITIONS.map((c) => `has(self.${c})`).join(' || '),
      message: 'when needs at least one condition; leave when out for a catch-all rule',
      holds: (w) => RULE_CONDITIONS.some((c) => w[c] !== undefined),
    },
  ],
).describe('Conditions that must all hold for the rule to apply.');

export const RouteRuleSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label (lower-case letters, digits and -)')
      .describe('Rule name, reported in the x-tollgate-rule response header, the access log and /debug/route.'),
    when: RuleConditionsSchema.optional().describe('Conditions; a rule without them is the catch-all and must be the last rule.'),
    strategy: z.enum(STRATEGIES).optional().describe("How this rule's targets are chosen; defaults to the route strategy."),
    targets: z.array(TargetSchema).min(1).max(32).describe('Upstream models that serve requests matching this rule.'),
    providerSelector: LabelSelectorSchema.optional().describe(
      'Residency: only targets whose Provider labels match may serve this rule. A request that no such target can serve is refused with 403 naming the rule, never sent elsewhere.',
    ),
  })
  .describe('One routing rule: when its conditions hold, its targets serve the request.');

const effectiveStrategy = (route: { strategy: Strategy }, rule: { strategy?: Strategy | undefined }): Strategy => rule.strategy ?? route.strategy;

export const ModelRouteSpecSchema = withRules(
  z.strictObject({
    model: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[^\s]+$/, 'must not contain whitespace')
      .describe('Public model name clients send, e.g. gpt-4o or an alias such as chat-default.'),
    matches: z
      .array(z.strictObject({ headers: z.array(HeaderMatchSchema).max(16).optional().describe('Headers that must all match.') }))
      .max(16)
      .optional()
      .describe('Extra conditions: the route serves a request when any match holds (all headers of that match).'),
    strategy: z.enum(STRATEGIES).default('failover').describe('How a target is chosen for each request (rules may choose their own).'),
    targets: z
      .array(TargetSchema)
      .min(1)
      .max(32)
      .optional()
      .describe('Upstream models that can serve the route. Set either targets (one implicit catch-all rule named default) or rules.'),
    rules: z
      .array(RouteRuleSchema)
      .min(1)
      .max(16)
      .optional()
      .describe('Rules evaluated in order; the first whose conditions hold serves the request. The last rule must be the only catch-all (no when).'),
    podSelection: PodSelectionSchema.optional(),
    retry: RetrySchema.optional(),
    fallbackOn: z
      .array(FailureClassSchema)
      .max(5)
      .default(['RateLimited', 'ServerError', 'Timeout', 'ConnectionError'])
      .describe('Failure classes after which the next target is tried.'),
    timeouts: TimeoutsSchema.optional().describe('Per-attempt, total and stream-idle timeouts.'),
    rateLimits: RateLimitsSchema.optional().describe('Per-route and per-caller request and token limits; a request must be admitted by all of them.'),
    cache: CacheSchema.optional().describe('Exact-match response caching: the same request on this route is answered from cache (no upstream call, no budget spend).'),
    access: AccessSchema.optional(),
    limits: RouteLimitsSchema.optional(),
    passThrough: PassThroughSchema.optional(),
  }),
  [
    {
      rule: 'has(self.targets) != has(self.rules)',
      message: 'set exactly one of targets and rules',
      holds: (s) => (s.targets !== undefined) !== (s.rules !== undefined),
    },
    {
      rule: "!has(self.targets) || self.strategy == 'weighted' || self.targets.all(t, !has(t.weight))",
      message: 'target weights are only allowed with strategy weighted',
      holds: (s) => s.targets === undefined || s.strategy === 'weighted' || s.targets.every((t) => t.weight === undefined),
    },
    {
      rule: "!has(self.targets) || self.strategy != 'weighted' || self.targets.exists(t, has(t.weight) && t.weight > 0)",
      message: 'strategy weighted needs at least one target with a weight above 0',
      holds: (s) => s.targets === undefined || s.strategy !== 'weighted' || s.targets.some((t) => (t.weight ?? 0) > 0),
    },
    {
      rule: '!has(self.rules) || !has(self.rules[size(self.rules) - 1].when)',
      message: 'the last rule must be a catch-all (no when)',
      holds: (s) => s.rules === undefined || s.rules[s.rules.length - 1]?.when === undefined,
    },
    {
      rule: '!has(self.rules) || self.rules.filter(r, !has(r.when)).size() <= 1',
      message: 'only the last rule may be a catch-all (no when)',
      holds: (s) => s.rules === undefined || s.rules.filter((r) => r.when === undefined).length <= 1,
    },
    {
      rule: '!has(self.rules) || self.rules.all(r, self.rules.exists_one(o, o.name == r.name))',
      message: 'rule names must be unique',
      holds: (s) => s.rules === undefined || new Set(s.rules.map((r) => r.name)).size === s.rules.length,
    },
    {
      rule:
        "!has(self.rules) || self.rules.all(r, (has(r.strategy) ? r.strategy : self.strategy) == 'weighted' || r.targets.all(t, !has(t.weight)))",
      message: 'target weights are only allowed in rules whose strategy is weighted',
      holds: (s) => (s.rules ?? []).every((r) => effectiveStrategy(s, r) === 'weighted' || r.targets.every((t) => t.weight === undefined)),
    },
    {
      rule:
        "!has(self.rules) || self.rules.all(r, (has(r.strategy) ? r.strategy : self.strategy) != 'weighted' || r.targets.exists(t, has(t.weight) && t.weight > 0))",
      message: 'a rule with strategy weighted needs at least one target with a weight above 0',
      holds: (s) => (s.rules ?? []).every((r) => effectiveStrategy(s, r) !== 'weighted' || r.targets.some((t) => (t.weight ?? 0) > 0)),
    },
  ],
).describe('A public model name and how requests for it reach upstream models.');

export const ModelRouteStatusSchema = z
  .strictObject({
    observedGeneration: ObservedGenerationSchema,
    installation: InstallationSchema,
    conditions: ConditionsSchema.optional(),
    specHistory: SpecHistorySchema.optional(),
  })
  .describe('State of the ModelRoute as the operator last saw it.');

export const ModelRouteSchema = objectSchema('ModelRoute', ModelRouteSpecSchema, ModelRouteStatusSchema);
export type ModelRoute = z.infer<typeof ModelRouteSchema>;
export type ModelRouteSpec = z.infer<typeof ModelRouteSpecSchema>;
