import type { ProviderContract } from '../../config/provider-contract.js';

/** The part of the snapshot contract of any server that speaks the OpenAI API: it has no public endpoint of its own. */
export const openAiCompatibleContract = {
  type: 'openai-compatible',
  settings: {},
  requires: null,
} as const satisfies ProviderContract;
