import type { JsonObject, Usage } from '../../core/canonical.js';

/** Canonical usage → the OpenAI `usage` object (cached tokens inside the prompt, reasoning inside the completion). */
export function toOpenAiUsage(usage: Usage, reasoningTokens = 0): JsonObject {
  const out: JsonObject = {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
  };
  if (reasoningTokens > 0) out.completion_tokens_details = { reasoning_tokens: reasoningTokens };
  return out;
}

/** The final chunk of a stream whose client asked for usage (stream_options.include_usage): no choices, only usage. */
export function usageChunk(id: string, created: number, model: string, usage: Usage, reasoningTokens = 0): JsonObject {
  return { id, object: 'chat.completion.chunk', created, model, choices: [], usage: toOpenAiUsage(usage, reasoningTokens) };
}
