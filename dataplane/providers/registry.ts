import type { SupportedProviderType } from '../config/snapshot.js';
import { anthropicAdapter } from './anthropic/index.js';
import { azureOpenAiAdapter } from './azure-openai/index.js';
import { bedrockAdapter } from './bedrock/index.js';
import { geminiAdapter } from './gemini/index.js';
import { openAiAdapter } from './openai/index.js';
import { openAiCompatibleAdapter } from './openai-compatible/index.js';
import type { ProviderAdapter } from './types.js';
import { vertexAdapter } from './vertex/index.js';
import { vllmAdapter } from './vllm/index.js';

/** One adapter per supported provider type; adding a type to the snapshot contract without one fails to compile. */
export const ADAPTERS = {
  openai: openAiAdapter,
  'azure-openai': azureOpenAiAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  vertex: vertexAdapter,
  bedrock: bedrockAdapter,
  'openai-compatible': openAiCompatibleAdapter,
  vllm: vllmAdapter,
  // The mock provider speaks the OpenAI format through an in-process transport.
  mock: openAiAdapter,
} as const satisfies Record<SupportedProviderType, ProviderAdapter>;

export function adapterFor(type: SupportedProviderType): ProviderAdapter {
  return ADAPTERS[type];
}
