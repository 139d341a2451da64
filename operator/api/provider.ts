import { z } from 'zod';
import {
  ConditionsSchema,
  DurationSchema,
  NamespacesFromSchema,
  ObservedGenerationSchema,
  withRules,
  ObjectMetaSchema,
  SecretKeySelectorSchema,
} from './common.js';

export const PROVIDER_TYPES = [
  'openai',
  'azure-openai',
  'anthropic',
  'gemini',
  'vertex',
  'bedrock',
  'openai-compatible',
  'vllm',
  'mock',
] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export const ModelPricingSchema = z
  .strictObject({
    input: z.number().min(0).default(0).describe('USD per million input (prompt) tokens that were not served from cache.'),
    output: z.number().min(0).default(0).describe('USD per million output (completion) tokens, reasoning tokens included.'),
    cachedInput: z
      .number()
      .min(0)
      .optional()
      .describe('USD per million input tokens served from the provider prompt cache. Defaults to the input price.'),
  })
  .describe('Prices in USD per million tokens, used to meter cost and enforce budgets.');

export const ProviderModelSchema = z.strictObject({
  name: z.string().min(1).max(256).describe('Model name as the upstream API knows it (e.g. gpt-4o-mini).'),
  contextWindow: z.number().int().min(1).optional().describe('Maximum prompt + completion tokens the model accepts.'),
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
    latency: DurationSchema.default('0ms').describe('Delay before the first byte of every response.'),
    chunkInterval: DurationSchema.default('0ms').describe('Delay between streamed chunks.'),
    completionTokens: z.number().int().min(1).max(100000).default(16).describe('Tokens (words) in every completion.'),
    failureRate: z.number().min(0).max(1).default(0).describe('Fraction of requests answered with a 500 error, for failover demos.'),
  })
  .describe('Behaviour of a mock provider: deterministic answers generated in process, no network.');

export const HealthCheckSchema = z.strictObject({
  enabled: z.boolean().default(false).describe('Actively probe the provider.'),
  path: z.string().default('/models').describe('Path probed with GET, relative to the base URL.'),
  interval: DurationSchema.default('30s').describe('Time between probes.'),
  timeout: DurationSchema.default('5s').describe('Probe timeout.'),
  unhealthyThreshold: z.number().int().min(1).default(3).describe('Consecutive failures before the provider is marked unhealthy.'),
  healthyThreshold: z.number().int().min(1).default(1).describe('Consecutive successes before it is healthy again.'),
});

export const ProviderTimeoutsSchema = z.strictObject({
  connect: DurationSchema.default('5s').describe('TCP/TLS connect timeout.'),
});

export const ProviderSpecSchema = withRules(
  z.strictObject({
    type: z.enum(PROVIDER_TYPES).describe('Wire protocol of the upstream.'),
    url: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
      .max(2048)
      .optional()
      .describe('Base URL of the API, e.g. https://api.openai.com/v1. Hosted types default to their public endpoint.'),
    serviceRef: ServiceRefSchema.optional(),
    credentials: z
      .strictObject({ secretRef: SecretKeySelectorSchema })
      .optional()
      .describe('API key (or other credential) for the upstream, read from a Secret. Rotation is picked up without restart.'),
    headers: z
      .record(z.string(), z.string())
      .optional()
      .describe('Extra headers sent upstream with every request (never secrets: use credentials).'),
    timeouts: ProviderTimeoutsSchema.optional().describe('Connection timeouts; request timeouts are set per ModelRoute.'),
    maxConcurrency: z.number().int().min(1).max(100000).optional().describe('Most requests in flight to this provider per gateway pod; excess fails over.'),
    models: z
      .array(ProviderModelSchema)
      .max(256)
      .optional()
      .describe('Models served, with prices. When empty, any model name is passed through unpriced.'),
    healthCheck: HealthCheckSchema.optional().describe('Active health probing of the provider.'),
    allowedRoutes: z
      .strictObject({ namespaces: NamespacesFromSchema.describe('Namespaces whose ModelRoutes may reference this Provider.') })
      .optional()
      .describe('Which namespaces may route to this Provider. Defaults to the Provider namespace only.'),
    mock: MockBehaviourSchema.optional(),
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
  ],
).describe('One upstream API and the models it serves.');

export const ProviderStatusSchema = z
  .strictObject({
  observedGeneration: ObservedGenerationSchema,
  conditions: ConditionsSchema.optional(),
  endpoints: z.number().int().optional().describe('Ready endpoints resolved for a serviceRef provider.'),
  })
  .describe('State of the Provider as the operator last saw it.');

export const ProviderSchema = z.looseObject({
  apiVersion: z.literal('tollgate.dev/v1alpha1'),
  kind: z.literal('Provider'),
  metadata: ObjectMetaSchema,
  spec: ProviderSpecSchema,
  status: ProviderStatusSchema.optional(),
});
export type Provider = z.infer<typeof ProviderSchema>;
export type ProviderSpec = z.infer<typeof ProviderSpecSchema>;
