import type { Usage } from '../../core/canonical.js';
import { count, isObject } from './json-guards.js';

/**
 * The audio and image input tokens of an OpenAI-style details object (chat `prompt_tokens_details`,
 * Realtime `input_token_details`, gpt-image `input_tokens_details`, transcription
 * `input_token_details`) onto `usage`, less the cached ones where `cachedDetails` says how many
 * (Realtime's `cached_tokens_details`). Only counts above zero are set: text-only usage keeps its shape.
 */
export function withMediaInput(usage: Usage, details: unknown, cachedDetails?: unknown): Usage {
  if (!isObject(details)) return usage;
  const cached = isObject(cachedDetails) ? cachedDetails : undefined;
  const audio = count(details.audio_tokens) - count(cached?.audio_tokens);
  const image = count(details.image_tokens) - count(cached?.image_tokens);
  if (audio > 0) usage.audioInputTokens = audio;
  if (image > 0) usage.imageInputTokens = image;
  return usage;
}

/** The audio and image output tokens of an OpenAI-style details object (`completion_tokens_details`, `output_token_details`, `output_tokens_details`) onto `usage`. */
export function withMediaOutput(usage: Usage, details: unknown): Usage {
  if (!isObject(details)) return usage;
  const audio = count(details.audio_tokens);
  const image = count(details.image_tokens);
  if (audio > 0) usage.audioOutputTokens = audio;
  if (image > 0) usage.imageOutputTokens = image;
  return usage;
}
