import { z } from 'zod';
import type { ProviderContract } from '../../config/provider-contract.js';
import { secretSchema } from '../../config/secret-value.js';

export const AwsCredentialsSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: secretSchema(),
  sessionToken: secretSchema().optional(),
});

export const BedrockSettingsSchema = z.object({
  region: z.string().min(1),
  /** SigV4 credentials; without them apiKey is sent as a Bedrock API key (Bearer). */
  credentials: AwsCredentialsSchema.optional(),
});

/** Amazon Bedrock's part of the snapshot contract: the runtime endpoint is regional. */
export const bedrockContract = {
  type: 'bedrock',
  settings: { bedrock: BedrockSettingsSchema.optional() },
  requires: 'bedrock',
  defaultBaseUrl: (p: { bedrock?: z.infer<typeof BedrockSettingsSchema> }) => `https://bedrock-runtime.${p.bedrock?.region ?? 'us-east-1'}.amazonaws.com`,
} as const satisfies ProviderContract;
