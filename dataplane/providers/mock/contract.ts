import { z } from 'zod';
import type { ProviderContract } from '../../config/provider-contract.js';

export const MockConfigSchema = z.object({
  latencyMs: z.number().int().min(0),
  chunkIntervalMs: z.number().int().min(0),
  completionTokens: z.number().int().min(1),
  failureRate: z.number().min(0).max(1),
});
export type MockConfig = z.infer<typeof MockConfigSchema>;

/** The mock provider's part of the snapshot contract: it answers in process, so it has no endpoint. */
export const mockContract = {
  type: 'mock',
  settings: { mock: MockConfigSchema.optional() },
  requires: 'mock',
} as const satisfies ProviderContract;
