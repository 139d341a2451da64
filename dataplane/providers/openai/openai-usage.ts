import { billedOutputTokens } from '../shared/billed-output.js';
import { count, isObject } from '../shared/json-guards.js';
import { withMediaInput, withMediaOutput } from '../shared/media-usage.js';
import { withTier } from '../shared/service-tier.js';
import type { JsonObject, Usage } from '../../core/canonical.js';


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

/**
 * Whether a chat request asks for a web search (`web_search_options`, which only OpenAI's search
 * models take: gpt-4o-search-preview, gpt-4o-mini-search-preview, gpt-5-search-api; another model
 * refuses it). OpenAI bills such a request a search besides its tokens.
 */
export function asksWebSearch(body: JsonObject): boolean {
  return body.web_search_options !== undefined && body.web_search_options !== null;
}

/** Whether a chat message or stream delta cites the web (a `url_citation` annotation): a search model searched, asked or not. */
export function citesWeb(message: unknown): boolean {
  const annotations = isObject(message) ? message.annotations : undefined;
  if (!Array.isArray(annotations)) return false;
  // A loop, not some(): every chat answer's message carries `annotations` (most an empty list).
  for (const a of annotations as unknown[]) if (isObject(a) && a.type === 'url_citation') return true;
  return false;
}

/** `usage` with the one search a search model's request is billed, when it asked for one or its answer cites the web. */
export function withChatSearch(usage: Usage, searched: boolean): Usage {
  if (searched) usage.webSearchCalls = 1;
  return usage;
}
