import { PASS_THROUGH_ENDPOINTS } from '../../config/pass-through-endpoints.js';
import type { ProviderContract } from '../../config/provider-contract.js';

/** The part of the snapshot contract of any server that speaks the OpenAI API: it has no public endpoint of its own. */
export const openAiCompatibleContract = {
  type: 'openai-compatible',
  settings: {},
  requires: null,
  // Whatever the server behind it serves (vLLM's rerank, score and tokenize too).
  passThrough: PASS_THROUGH_ENDPOINTS,
} as const satisfies ProviderContract;
