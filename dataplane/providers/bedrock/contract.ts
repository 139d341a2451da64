import { z } from 'zod';
import type { ProviderContract } from '../../config/provider-contract.js';
import { secretSchema } from '../../config/secret-value.js';

export const AwsCredentialsSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: secretSchema(),
  sessionToken: secretSchema().optional(),
});

/**
 * The model families an operator may name for a model id that names none (a provisioned
 * throughput's or application inference profile's ARN): each takes its own request fields
 * (bedrock-family.ts). `other`: a family with none of them.
 */
export const BEDROCK_MODEL_FAMILIES = ['anthropic', 'nova', 'titan', 'llama', 'mistral', 'cohere', 'ai21', 'deepseek', 'openai', 'qwen', 'other'] as const;
export type BedrockNamedFamily = (typeof BEDROCK_MODEL_FAMILIES)[number];

export const BedrockSettingsSchema = z.object({
  region: z.string().min(1),
  /** SigV4 credentials; without them apiKey is sent as a Bedrock API key (Bearer). */
  credentials: AwsCredentialsSchema.optional(),
  /** The family of each model id (an ARN) the Provider's settings name; the others are read from the id. */
  modelFamilies: z.record(z.string(), z.enum(BEDROCK_MODEL_FAMILIES)).optional(),
});

/** Amazon Bedrock's part of the snapshot contract: the runtime endpoint is regional. */
export const bedrockContract = {
  type: 'bedrock',
  settings: { bedrock: BedrockSettingsSchema.optional() },
  requires: 'bedrock',
  defaultBaseUrl: (p: { bedrock?: z.infer<typeof BedrockSettingsSchema> }) => `https://bedrock-runtime.${p.bedrock?.region ?? 'us-east-1'}.amazonaws.com`,
} as const satisfies ProviderContract;
