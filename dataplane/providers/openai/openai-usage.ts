import { count, isObject } from '../shared/json-guards.js';
import { withMediaInput, withMediaOutput } from '../shared/media-usage.js';
import { withTier } from '../shared/service-tier.js';
import type { Usage } from '../../core/canonical.js';


/**
 * OpenAI usage (chat, completions or embeddings) to canonical usage, audio tokens apart; undefined when absent.
 * `serviceTier`: the answer's `service_tier`, which a client may raise to `priority` (billed higher).
 * Without `completion_tokens` the output is `total_tokens` less `prompt_tokens` (embeddings: none);
 * without either the usage says nothing of the output and is missing (the gateway estimates it):
 * read as 0, an OpenAI-compatible server that left it out was charged no output at all.
 */
export function usageFromOpenAi(value: unknown, serviceTier?: unknown): Usage | undefined {
  if (!isObject(value)) return undefined;
  const { completion_tokens: completion, total_tokens: total } = value;
  const output = typeof completion === 'number' ? count(completion) : typeof total === 'number' ? Math.max(0, count(total) - count(value.prompt_tokens)) : undefined;
  if (output === undefined) return undefined;
  const details = isObject(value.prompt_tokens_details) ? value.prompt_tokens_details : undefined;
  const usage: Usage = { inputTokens: count(value.prompt_tokens), outputTokens: output, cachedInputTokens: count(details?.cached_tokens) };
  // gpt-audio and gpt-4o-audio-preview: audio tokens in and out, priced apart (Provider audioInput/audioOutput).
  return withTier(withMediaOutput(withMediaInput(usage, details), value.completion_tokens_details), serviceTier);
}
