import type { JsonObject, Usage } from '../types.js';

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function obj(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/** OpenAI usage (chat, completions or embeddings) to canonical usage; undefined when absent. */
export function usageFromOpenAi(value: unknown): Usage | undefined {
  const u = obj(value);
  if (u === undefined) return undefined;
  const details = obj(u.prompt_tokens_details);
  return {
    inputTokens: num(u.prompt_tokens),
    outputTokens: num(u.completion_tokens),
    cachedInputTokens: num(details?.cached_tokens),
  };
}
