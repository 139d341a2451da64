import { ProviderConfigSchema, SUPPORTED_PROVIDER_TYPES } from '../../dataplane/config/snapshot.js';
import { z } from 'zod';
import {
  ConditionsSchema,
  PositiveDurationSchema,
  NamespacesFromSchema,
  InstallationSchema,
  ObservedGenerationSchema,
  withRules,
  objectSchema,
  SecretKeySelectorSchema,
  SpecHistorySchema,
  TimerDurationSchema,
  PositiveTimerDurationSchema,
  CallIntervalSchema,
} from './common.js';
import { durationToMs } from './duration.js';

/**
 * Every type the API accepts has an adapter in this build (the data plane's list is the source):
 * a Provider of an unknown type is refused by kubectl rather than accepted and left unserved.
 */
export const PROVIDER_TYPES = SUPPORTED_PROVIDER_TYPES;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

/**
 * A price in USD (per million tokens, per call, per second, ...). Bounded: the highest list price of
 * any model is a few hundred USD per million tokens, and a price past this is a typo or an attack. A
 * tenant's Provider priced at 1.7e308 made one request's cost Infinity, which JSON carries as null;
 * every usage answer of the installation then failed (the operator now also caps a record's cost).
 */
export const MAX_PRICE_USD = 100_000;
const usd = (): z.ZodNumber => z.number().min(0).max(MAX_PRICE_USD);

export const LongContextPricingSchema = z
  .strictObject({
    above: z.number().int().min(1).describe('Prompt tokens (cache reads and writes included) above which the whole request is billed at these prices (200000 for Gemini 2.5 Pro and Claude 1M context).'),
    input: usd().describe('USD per million input tokens not served from cache, past the threshold.'),
    output: usd().describe('USD per million output tokens, past the threshold.'),
    cachedInput: usd().optional().describe('USD per million cached input tokens past the threshold. Defaults to this block input price.'),
    cacheWrite: usd()
      .optional()
      .describe('USD per million cache-write tokens past the threshold. Defaults as the model cacheWrite does, from this block input price.'),
    cacheWrite1h: usd()
      .optional()
      .describe('USD per million hour-long cache-write tokens past the threshold. Defaults as the model cacheWrite1h does, from this block input price.'),
  })
  .describe('Text token prices for a request whose prompt is past a threshold (long-context tiers); audio and image prices stay the model ones.');

export const ModelPricingSchema = z
  .strictObject({
    input: usd().default(0).describe('USD per million input (prompt) tokens that were not served from cache.'),
    output: usd().default(0).describe('USD per million output (completion) tokens, reasoning tokens included.'),
    cachedInput: usd()
      .optional()
      .describe('USD per million input tokens served from the provider prompt cache. Defaults to the input price.'),
    cacheWrite: usd()
      .optional()
      .describe(
        'USD per million input tokens written to the provider prompt cache for five minutes (Anthropic, Bedrock). Defaults to 1.25 × the input price on anthropic and bedrock Providers (what Claude bills), to the input price elsewhere.',
      ),
    cacheWrite1h: usd()
      .optional()
      .describe('USD per million input tokens written to the provider prompt cache for an hour (Anthropic, Bedrock). Defaults to 2 × the input price on anthropic and bedrock Providers, to the cacheWrite price elsewhere.'),
    audioInput: usd()
      .optional()
      .describe('USD per million audio input tokens not served from cache (gpt-audio, gpt-realtime, gpt-4o-transcribe, Gemini audio prompts). Defaults to the input price.'),
    audioOutput: usd().optional().describe('USD per million audio output tokens (spoken answers of gpt-audio and gpt-realtime). Defaults to the output price.'),
    imageInput: usd()
      .optional()
      .describe('USD per million image input tokens where the upstream reports them apart (gpt-image input images, Realtime images, Gemini). Defaults to the input price.'),
    imageOutput: usd().optional().describe('USD per million image output tokens where the upstream reports them apart (gpt-image, Gemini image models). Defaults to the output price.'),
    longContext: LongContextPricingSchema.optional(),
    perWebSearch: usd()
      .optional()
      .describe(
        'USD per web search: a Response ran one (its web_search_call output items), a chat-completions request to a search model (gpt-4o-search-preview) asked for one (web_search_options) or cites the web, or a Gemini answer was grounded with Google Search (per grounded prompt on Gemini 2.5 and older, per distinct search query after). OpenAI bills 0.01 to 0.035 a call by model; Gemini 0.035 a grounded prompt (2.5) or 0.014 a query (3).',
      ),
    perFileSearch: usd()
      .optional()
      .describe('USD per file search: a Response ran one (its file_search_call output items), or a client searched a vector store (POST /v1/vector_stores/{id}/search). OpenAI bills 0.0025 a call.'),
    perContainer: usd()
      .optional()
      .describe(
        'USD per code interpreter container session of 1 GB: a Response that ran code_interpreter (each container its code_interpreter_call items name, at least one when a tool asks for an auto container), or POST /v1/containers. A larger container is charged this price per GB of its memory_limit (OpenAI bills 0.03 a 1g session, 4g, 16g and 64g at 4, 16 and 64 times it).',
      ),
    perRequest: usd().optional().describe('USD per pass-through request the upstream answered successfully (moderations, files, batches, ...), on top of any token price.'),
    perImage: usd().optional().describe('USD per image in a successful images answer (generations, edits, variations: its data entries).'),
    perAudioSecond: usd()
      .optional()
      .describe('USD per second of audio in a transcription or translation answer that reports its duration (usage.seconds, or duration in verbose_json).'),
    perMillionCharacters: usd().optional().describe('USD per million characters of the input text of a speech request (/v1/audio/speech).'),
    perVideoSecond: usd()
      .optional()
      .describe('USD per second of video a generation answer reports (POST /v1/videos, remixes, edits, extensions: its seconds; OpenAI bills sora-2 0.10 a second).'),
    batch: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe(
        'Fraction of the token prices a Batch API request is billed at: a batch (POST /v1/batches) is charged its worst case at these prices times it. Defaults to 0.5, what OpenAI and Azure OpenAI (global batch) bill; set 1 for an upstream whose batches are not discounted.',
      ),
    training: usd()
      .optional()
      .describe(
        'USD per million trained tokens of a fine-tuning job (POST /v1/fine_tuning/jobs) on this base model: a job is charged its worst case (its files\' tokens times its epochs) at it. Unset: routes to this model refuse fine-tuning jobs (set 0 to run them free of charge).',
      ),
    reasoningTokensPerSecond: z
      .number()
      .positive()
      .max(1_000_000)
      .optional()
      .describe(
        'The most output tokens a second the model can generate. A stream cut short before its usage (client left or stopped, upstream broke) is charged, for the reasoning it never showed, at most this times the seconds from sending the request to its first answer token (or to the cut), within the output cap. Setting it also marks the model as one that reasons unseen. Defaults to 4000 for the models the gateway knows reason unseen (OpenAI o-series, gpt-5, gpt-oss; Claude and Gemini with thinking on, Nova 2 with reasoning on): above the fastest published output speed of any hosted model; set it lower (e.g. 500) for a first-party API whose speed you know, for a tighter charge.',
      ),
  })
  .describe('Prices in USD per million tokens, used to meter cost and enforce budgets; per-request and per-unit prices apply to pass-through endpoints.');

export const ProviderModelSchema = z.strictObject({
  name: z.string().min(1).max(256).describe('Model name as the upstream API knows it (e.g. gpt-4o-mini).'),
  contextWindow: z.number().int().min(1).optional().describe('Maximum prompt + completion tokens the model accepts.'),
  capabilities: z
    .strictObject({
      tools: z.boolean().optional().describe('The model can call tools (function calling).'),
      vision: z.boolean().optional().describe('The model accepts images.'),
      jsonSchema: z.boolean().optional().describe('The model supports response_format json_schema.'),
    })
    .optional()
    .describe('What the model can do; a request that needs a capability set to false skips this model. Unset means supported.'),
  pricing: ModelPricingSchema.optional(),
});

export const ServiceRefSchema = z
  .strictObject({
    name: z.string().min(1).max(63).describe('Name of a Service in the Provider namespace.'),
    port: z.number().int().min(1).max(65535).describe('Service port to call.'),
    scheme: z.enum(['http', 'https']).default('http').describe('Scheme used to reach the pods.'),
    path: z.string().regex(/^\/.*/, 'must start with /').default('/v1').describe('Base path of the API on the pods.'),
  })
  .describe('An in-cluster Service; the gateway calls its ready pod addresses directly.');

export const MockBehaviourSchema = z
  .strictObject({
    latency: TimerDurationSchema.default('0ms').describe('Delay before the first byte of every response.'),
    chunkInterval: TimerDurationSchema.default('0ms').describe('Delay between streamed chunks.'),
    completionTokens: z.number().int().min(1).max(100000).default(16).describe('Tokens (words) in every completion.'),
    failureRate: z.number().min(0).max(1).default(0).describe('Fraction of requests answered with a 500 error, for failover demos.'),
  })
  .describe('Behaviour of a mock provider: deterministic answers generated in process, no network.');

export const HealthCheckSchema = z.strictObject({
  enabled: z.boolean().default(false).describe('Actively probe the provider.'),
  path: z.string().default('/models').describe('Path probed with GET, relative to the base URL.'),
  interval: CallIntervalSchema.default('30s').describe('Time between probes (50ms to 24h).'),
  timeout: PositiveTimerDurationSchema.default('5s').describe('Probe timeout.'),
  unhealthyThreshold: z.number().int().min(1).default(3).describe('Consecutive failures before the provider is marked unhealthy.'),
  healthyThreshold: z.number().int().min(1).default(1).describe('Consecutive successes before it is healthy again.'),
});

export const OutlierDetectionSchema = withRules(
  z.strictObject({
    consecutiveFailures: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe('Consecutive failed attempts (5xx, timeouts, connection errors) on one model of this provider that eject it.'),
    errorRate: z
      .strictObject({
        threshold: z.number().min(0.01).max(1).describe('Share of failed attempts in the window (0..1) that ejects the target.'),
        minRequests: z.number().int().min(1).max(100000).default(20).describe('Attempts the window must hold before the rate counts.'),
        window: PositiveDurationSchema.default('30s').describe('Length of the window.'),
      })
      .optional()
      .describe('Also eject when the error rate in a sliding window crosses a threshold.'),
    baseEjectionTime: TimerDurationSchema.default('30s').describe('Cooldown of the first ejection; each repeated ejection doubles it.'),
    maxEjectionTime: TimerDurationSchema.default('5m').describe('Longest cooldown.'),
  }),
  [
    {
      rule: 'duration(self.baseEjectionTime) <= duration(self.maxEjectionTime)',
      message: 'baseEjectionTime must not exceed maxEjectionTime',
      holds: (o) => durationToMs(o.baseEjectionTime) <= durationToMs(o.maxEjectionTime),
    },
  ],
).describe(
  'Passive health: a target (this provider + one model) that keeps failing is ejected for a cooldown, shared by every route using it; after the cooldown one request probes it (half-open) and success returns it.',
);

export const ProviderTimeoutsSchema = z.strictObject({
  connect: PositiveTimerDurationSchema.default('5s').describe('TCP/TLS connect timeout.'),
});

export const AnthropicOptionsSchema = z
  .strictObject({
    version: z.string().min(1).max(64).default('2023-06-01').describe('anthropic-version header sent with every request.'),
    beta: z.array(z.string().min(1).max(128)).max(16).optional().describe('anthropic-beta feature flags, sent comma-separated.'),
    defaultMaxTokens: z
      .number()
      .int()
      .min(1)
      .max(1000000)
      .default(4096)
      .describe('max_tokens sent when a client gives no max_tokens or max_completion_tokens (Anthropic requires one).'),
  })
  .describe('Settings of an anthropic provider (Messages API).');

export const AzureOptionsSchema = z
  .strictObject({
    deployment: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe('Deployment name in the URL (/openai/deployments/{deployment}/...). Defaults to the route target model.'),
    apiVersion: z.string().min(1).max(64).default('2024-10-21').describe('api-version query parameter, e.g. 2024-10-21.'),
    auth: z
      .enum(['ApiKey', 'BearerToken'])
      .default('ApiKey')
      .describe('How the credential is sent: ApiKey as the api-key header, BearerToken (a Microsoft Entra token) as Authorization: Bearer.'),
  })
  .describe('Settings of an azure-openai provider. url is the resource endpoint, e.g. https://my-resource.openai.azure.com.');

/** The families the data plane's settings take (its contract is the source of the list). */
const BEDROCK_MODEL_FAMILIES = ProviderConfigSchema.shape.bedrock.unwrap().shape.modelFamilies.unwrap().valueType.options;

export const BedrockOptionsSchema = z
  .strictObject({
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-[0-9]+$/, 'must be an AWS region such as us-east-1')
      .max(32)
      .default('us-east-1')
      .describe('AWS region; used for SigV4 signing and the default url https://bedrock-runtime.{region}.amazonaws.com. Defaults to us-east-1.'),
    modelFamilies: z
      .record(z.string().min(1).max(2048), z.enum(BEDROCK_MODEL_FAMILIES))
      .optional()
      .describe(
        'The model family of each model id that names none, by the id as a route target gives it: a provisioned throughput or application inference profile ARN (arn:aws:bedrock:…:provisioned-model/…, …:application-inference-profile/…) or an imported model. Each family takes its own request fields (top_k, penalties, reasoning); a model id that names no family and is not listed here gets none of them.',
      ),
  })
  .describe('Settings of a bedrock provider (Converse API).');

export const VertexOptionsSchema = z
  .strictObject({
    project: z.string().min(1).max(128).describe('Google Cloud project id.'),
    location: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'must be a location such as us-central1 or global')
      .max(64)
      .default('us-central1')
      .describe('Vertex AI location, e.g. us-central1 or global; picks the default url ({location}-aiplatform.googleapis.com).'),
  })
  .describe('Settings of a vertex provider (Gemini models on Vertex AI).');

export const VllmScrapeSchema = z
  .strictObject({
    interval: CallIntervalSchema.default('1s').describe("How often each pod's /metrics and /health are read; short, because queues change within seconds."),
    timeout: PositiveTimerDurationSchema.default('500ms').describe('Limit for one /metrics or /health request.'),
    staleAfter: TimerDurationSchema.default('5s').describe(
      "Metrics older than this are ignored: the pod is then judged by the gateway's own requests in flight alone.",
    ),
    metricsPath: z.string().regex(/^\/.*/, 'must start with /').max(256).default('/metrics').describe('Path of the Prometheus metrics on each pod.'),
    healthPath: z.string().regex(/^\/.*/, 'must start with /').max(256).default('/health').describe('Path of the health endpoint on each pod (200 = healthy).'),
  })
  .describe('How the gateway reads load from each pod.');

export const VllmSaturationSchema = z
  .strictObject({
    maxQueueDepth: z
      .number()
      .int()
      .min(0)
      .max(100000)
      .default(8)
      .describe(
        'A pod with more queued requests (vllm:num_requests_waiting) takes no new ones. When every pod is above it, routes spill over to their next target, or answer 503 with retry-after.',
      ),
    maxKvCacheUsage: z
      .number()
      .min(0)
      .max(1)
      .default(0.95)
      .describe('A pod whose KV-cache usage (vllm:kv_cache_usage_perc, 0..1) is at or above this takes no new requests (it would preempt).'),
  })
  .describe(
    'When a pod counts as full. Set on the Provider, not the route: it depends on the pool (GPU, model, max batch), which every route sharing the pool must agree on.',
  );

export const GpuPricingSchema = z
  .strictObject({
    perGpuSecond: usd().describe('USD per GPU-second (an hourly GPU price divided by 3600).'),
    gpusPerPod: z.number().int().min(1).max(64).default(1).describe('GPUs each pod holds.'),
  })
  .describe(
    "Cost of self-hosted serving by GPU time: each request is charged its share of the pod's GPUs while it runs (time / requests sharing the batch), in addition to any per-token model prices.",
  );

export const VllmOptionsSchema = z
  .strictObject({
    scrape: VllmScrapeSchema.optional(),
    unhealthyThreshold: z.number().int().min(1).max(100).default(2).describe('Consecutive failed /health probes before a pod gets no traffic.'),
    saturation: VllmSaturationSchema.optional(),
    gpuPricing: GpuPricingSchema.optional(),
  })
  .describe(
    'Settings of a vllm provider. With serviceRef the gateway balances over the ready pods by their load; how a pod is chosen is set per ModelRoute (spec.podSelection).',
  );

export const AwsCredentialsRefSchema = z
  .strictObject({
    secretName: z.string().min(1).max(253).describe('Secret in the Provider namespace holding the AWS credentials.'),
    accessKeyIdKey: z.string().min(1).max(253).default('AWS_ACCESS_KEY_ID').describe('Key of the access key id in the Secret.'),
    secretAccessKeyKey: z.string().min(1).max(253).default('AWS_SECRET_ACCESS_KEY').describe('Key of the secret access key in the Secret.'),
    sessionTokenKey: z
      .string()
      .min(1)
      .max(253)
      .default('AWS_SESSION_TOKEN')
      .describe('Key of the session token of temporary credentials; used when the Secret has it.'),
  })
  .describe('AWS access key pair (and optional session token) used to SigV4-sign bedrock requests.');

export const CredentialsSchema = withRules(
  z.strictObject({
    secretRef: SecretKeySelectorSchema.optional().describe(
      'Secret key holding the API key: OpenAI/Anthropic/Gemini API key, Azure api-key or Entra token, Bedrock API key, or a static Vertex access token.',
    ),
    aws: AwsCredentialsRefSchema.optional(),
    serviceAccountKeyRef: SecretKeySelectorSchema.optional().describe(
      'Secret key holding a Google service-account JSON key (vertex); access tokens are minted from it and cached until expiry.',
    ),
  }),
  [
    {
      rule: '(has(self.secretRef) ? 1 : 0) + (has(self.aws) ? 1 : 0) + (has(self.serviceAccountKeyRef) ? 1 : 0) == 1',
      message: 'set exactly one of secretRef, aws and serviceAccountKeyRef',
      holds: (c) => [c.secretRef, c.aws, c.serviceAccountKeyRef].filter((x) => x !== undefined).length === 1,
    },
  ],
);

export const ProviderSpecSchema = withRules(
  z.strictObject({
    type: z.enum(PROVIDER_TYPES).describe('Wire protocol of the upstream.'),
    url: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
      .max(2048)
      .optional()
      .describe(
        'Base URL of the API. openai and openai-compatible: up to /v1 (https://api.openai.com/v1); anthropic, gemini, vertex, bedrock and azure-openai: the origin (https://api.anthropic.com). Hosted types default to their public endpoint; azure-openai needs its resource URL.',
      ),
    serviceRef: ServiceRefSchema.optional(),
    credentials: CredentialsSchema.optional().describe(
      'Credential for the upstream, read from a Secret: an API key (secretRef), an AWS key pair (aws, bedrock) or a service-account key (serviceAccountKeyRef, vertex). Rotation is picked up without restart.',
    ),
    headers: z
      .record(z.string(), z.string())
      .optional()
      .describe('Extra headers sent upstream with every request (never secrets: use credentials).'),
    timeouts: ProviderTimeoutsSchema.optional().describe('Connection timeouts; request timeouts are set per ModelRoute.'),
    maxConcurrency: z.number().int().min(1).max(100000).optional().describe('Most requests in flight to this provider per gateway pod; excess fails over.'),
    models: z
      .array(ProviderModelSchema)
      .max(256)
      // A second entry of one model would lose silently to the first (its price, its context window).
      // The API server refuses it through the list-map key, at no CEL cost (an exists_one over 256
      // names would spend a fifth of an expression's budget); tollgate dev through the refinement.
      .superRefine((models, ctx) => {
        const counts = new Map<string, number>();
        for (const m of models) counts.set(m.name, (counts.get(m.name) ?? 0) + 1);
        const repeated = [...counts].filter(([, n]) => n > 1).map(([name, n]) => `${name} appears ${n === 2 ? 'twice' : `${n} times`}`);
        if (repeated.length > 0) ctx.addIssue({ code: 'custom', message: `model names must be unique (${repeated.join(', ')})` });
      })
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .optional()
      .describe('Models served, with prices, each name once (a second entry is refused). When empty, any model name is passed through unpriced.'),
    healthCheck: HealthCheckSchema.optional().describe('Active health probing of the provider.'),
    outlierDetection: OutlierDetectionSchema.optional(),
    allowedRoutes: z
      .strictObject({ namespaces: NamespacesFromSchema.describe('Namespaces whose ModelRoutes may reference this Provider.') })
      .optional()
      .describe('Which namespaces may route to this Provider. Defaults to the Provider namespace only.'),
    mock: MockBehaviourSchema.optional(),
    anthropic: AnthropicOptionsSchema.optional(),
    azure: AzureOptionsSchema.optional(),
    bedrock: BedrockOptionsSchema.optional(),
    vertex: VertexOptionsSchema.optional(),
    vllm: VllmOptionsSchema.optional(),
  }),
  [
    {
      rule: '!(has(self.url) && has(self.serviceRef))',
      message: 'set at most one of url and serviceRef',
      holds: (s) => !(s.url !== undefined && s.serviceRef !== undefined),
    },
    {
      rule: "!(self.type in ['openai-compatible', 'vllm']) || has(self.url) || has(self.serviceRef)",
      message: 'openai-compatible and vllm providers need url or serviceRef',
      holds: (s) => !['openai-compatible', 'vllm'].includes(s.type) || s.url !== undefined || s.serviceRef !== undefined,
    },
    {
      rule: "self.type != 'mock' || (!has(self.url) && !has(self.serviceRef) && !has(self.credentials))",
      message: 'a mock provider takes no url, serviceRef or credentials',
      holds: (s) => s.type !== 'mock' || (s.url === undefined && s.serviceRef === undefined && s.credentials === undefined),
    },
    { rule: "self.type == 'mock' || !has(self.mock)", message: 'mock is only allowed with type mock', holds: (s) => s.type === 'mock' || s.mock === undefined },
    { rule: "self.type == 'anthropic' || !has(self.anthropic)", message: 'anthropic is only allowed with type anthropic', holds: (s) => s.type === 'anthropic' || s.anthropic === undefined },
    { rule: "self.type == 'azure-openai' || !has(self.azure)", message: 'azure is only allowed with type azure-openai', holds: (s) => s.type === 'azure-openai' || s.azure === undefined },
    { rule: "self.type == 'bedrock' || !has(self.bedrock)", message: 'bedrock is only allowed with type bedrock', holds: (s) => s.type === 'bedrock' || s.bedrock === undefined },
    { rule: "self.type == 'vllm' || !has(self.vllm)", message: 'vllm is only allowed with type vllm', holds: (s) => s.type === 'vllm' || s.vllm === undefined },
    { rule: "(self.type == 'vertex') == has(self.vertex)", message: 'vertex (with project) is required with type vertex and only allowed there', holds: (s) => (s.type === 'vertex') === (s.vertex !== undefined) },
    { rule: "self.type != 'azure-openai' || has(self.url)", message: 'azure-openai providers need url (the resource endpoint)', holds: (s) => s.type !== 'azure-openai' || s.url !== undefined },
    {
      rule: "!has(self.credentials) || !has(self.credentials.aws) || self.type == 'bedrock'",
      message: 'credentials.aws is only allowed with type bedrock',
      holds: (s) => s.credentials?.aws === undefined || s.type === 'bedrock',
    },
    {
      rule: "!has(self.credentials) || !has(self.credentials.serviceAccountKeyRef) || self.type == 'vertex'",
      message: 'credentials.serviceAccountKeyRef is only allowed with type vertex',
      holds: (s) => s.credentials?.serviceAccountKeyRef === undefined || s.type === 'vertex',
    },
  ],
).describe('One upstream API and the models it serves.');

export const ProviderStatusSchema = z
  .strictObject({
  observedGeneration: ObservedGenerationSchema,
  installation: InstallationSchema,
  conditions: ConditionsSchema.optional(),
  endpoints: z.number().int().optional().describe('Ready endpoints resolved for a serviceRef provider.'),
  specHistory: SpecHistorySchema.optional(),
  })
  .describe('State of the Provider as the operator last saw it.');

export const ProviderSchema = objectSchema('Provider', ProviderSpecSchema, ProviderStatusSchema);
export type Provider = z.infer<typeof ProviderSchema>;
export type ProviderSpec = z.infer<typeof ProviderSpecSchema>;
