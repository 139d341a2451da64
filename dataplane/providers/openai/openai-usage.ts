import { billedOutputTokens } from '../shared/billed-output.js';
import { count, isObject } from '../shared/json-guards.js';
import { withMediaInput, withMediaOutput } from '../shared/media-usage.js';
import { withTier } from '../shared/service-tier.js';
import type { Usage } from '../../core/canonical.js';


/**
 * OpenAI usage (chat, completions or embeddings) to canonical usage, audio tokens apart; undefined when absent.
 * `serviceTier`: the answer's `service_tier`, which a client may raise to `priority` (billed higher).
 * The output is never less than `total_tokens` less `prompt_tokens` (embeddings: none), nor than the
 * reasoning tokens where `completion_tokens` is too small to hold them (shared/billed-output.ts); without either the usage says nothing of the output and is missing (the gateway estimates it):
 * read as 0, an OpenAI-compatible server that left it out was charged no output at all.
 */
export function usageFromOpenAi(value: unknown, serviceTier?: unknown): Usage | undefined {
  if (!isObject(value)) return undefined;
  const input = count(value.prompt_tokens);
  const completionDetails = isObject(value.completion_tokens_details) ? value.completion_tokens_details : undefined;
  const output = billedOutputTokens(input, value.completion_tokens, value.total_tokens, completionDetails?.reasoning_tokens);
  if (output === undefined) return undefined;
  const details = isObject(value.prompt_tokens_details) ? value.prompt_tokens_details : undefined;
  const usage: Usage = { inputTokens: input, outputTokens: output, cachedInputTokens: count(details?.cached_tokens) };
  // gpt-audio and gpt-4o-audio-preview: audio tokens in and out, priced apart (Provider audioInput/audioOutput).
  return withTier(withMediaOutput(withMediaInput(usage, details), completionDetails), serviceTier);
}
