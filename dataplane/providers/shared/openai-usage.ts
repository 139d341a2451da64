import type { JsonObject, Usage } from '../../core/canonical.js';

/** Canonical usage → the OpenAI `usage` object (cached and audio tokens inside the prompt, reasoning and audio inside the completion). */
export function toOpenAiUsage(usage: Usage, reasoningTokens = 0): JsonObject {
  const out: JsonObject = {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: usage.audioInputTokens === undefined ? { cached_tokens: usage.cachedInputTokens } : { cached_tokens: usage.cachedInputTokens, audio_tokens: usage.audioInputTokens },
  };
  const completion: JsonObject = {};
  if (reasoningTokens > 0) completion.reasoning_tokens = reasoningTokens;
  if (usage.audioOutputTokens !== undefined) completion.audio_tokens = usage.audioOutputTokens;
  if (reasoningTokens > 0 || usage.audioOutputTokens !== undefined) out.completion_tokens_details = completion;
  return out;
}

/** The final chunk of a stream whose client asked for usage (stream_options.include_usage): no choices, only usage. */
export function usageChunk(id: string, created: number, model: string, usage: Usage, reasoningTokens = 0): JsonObject {
  return { id, object: 'chat.completion.chunk', created, model, choices: [], usage: toOpenAiUsage(usage, reasoningTokens) };
}
