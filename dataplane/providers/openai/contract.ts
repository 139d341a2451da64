import type { ProviderContract } from '../../config/provider-contract.js';

/** OpenAI's part of the snapshot contract (config/provider-contract.ts). */
export const openAiContract = {
  type: 'openai',
  settings: {},
  requires: null,
  defaultBaseUrl: () => 'https://api.openai.com/v1',
  passThrough: ['images', 'audio', 'files', 'batches', 'moderations', 'realtime', 'responses', 'vector_stores', 'uploads', 'conversations', 'videos', 'containers', 'fine_tuning', 'evals'],
} as const satisfies ProviderContract;
