import { z } from 'zod';
import type { ProviderContract } from '../../config/provider-contract.js';

export const AzureSettingsSchema = z.object({
  /** Deployment in the URL; the target's model name when absent. */
  deployment: z.string().min(1).optional(),
  apiVersion: z.string().min(1),
  /** How apiKey is sent: `api-key` header, or `Authorization: Bearer` (Microsoft Entra token). */
  auth: z.enum(['api-key', 'bearer']),
});

/** Azure OpenAI's part of the snapshot contract: no default endpoint (each resource has its own URL). */
export const azureOpenAiContract = {
  type: 'azure-openai',
  settings: { azure: AzureSettingsSchema.optional() },
  requires: null,
  // No moderations, nor vLLM's rerank, score and tokenize. The account's objects in Azure's v1 API
  // (azure-paths.ts): videos there are Sora 2's generations and remixes, not its edits, extensions or characters.
  passThrough: ['images', 'audio', 'files', 'batches', 'realtime', 'responses', 'vector_stores', 'uploads', 'conversations', 'videos', 'containers', 'fine_tuning', 'evals'],
} as const satisfies ProviderContract;
