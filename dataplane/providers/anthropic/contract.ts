import { z } from 'zod';
import type { ProviderContract } from '../../config/provider-contract.js';

export const AnthropicSettingsSchema = z.object({
  /** anthropic-version header. */
  version: z.string().min(1),
  /** anthropic-beta header values. */
  beta: z.array(z.string()).optional(),
  /** max_tokens sent when the client gives no output cap (Anthropic requires one). */
  defaultMaxTokens: z.number().int().min(1),
});

/** Anthropic's part of the snapshot contract (config/provider-contract.ts). */
export const anthropicContract = {
  type: 'anthropic',
  settings: { anthropic: AnthropicSettingsSchema.optional() },
  requires: null,
  defaultBaseUrl: () => 'https://api.anthropic.com',
} as const satisfies ProviderContract;
