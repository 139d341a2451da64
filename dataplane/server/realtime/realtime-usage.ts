import type { RawData } from 'ws';
import type { Usage } from '../../core/canonical.js';
import { count, isObject } from '../../providers/shared/json-guards.js';
import { withMediaInput, withMediaOutput } from '../../providers/shared/media-usage.js';
import { realtimeEvent } from './realtime-event.js';

/** A text message's content (ws hands it over as bytes). */
export function messageText(data: RawData): string {
  return Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
}

/** OpenAI tokenizes input audio at about 10 tokens a second: a transcription billed by duration is priced so where no per-second price is known. */
const AUDIO_TOKENS_PER_SECOND = 10;

/**
 * The usage of a `conversation.item.input_audio_transcription.completed` server event (the session's
 * input transcription, billed by the upstream apart from its responses): `usage` of type `tokens`
 * (input_tokens with their audio ones, output_tokens) or `duration` (`seconds`, whisper-1), else
 * undefined. Only messages that name the event are parsed.
 */
export function transcriptionUsage(text: string): ({ tokens: Usage } | { seconds: number }) & { itemId: string | undefined } | undefined {
  const event = realtimeEvent(text, 'conversation.item.input_audio_transcription.completed');
  if (event === undefined || !isObject(event.usage)) return undefined;
  const itemId = typeof event.item_id === 'string' ? event.item_id : undefined;
  const u = event.usage;
  if (u.type === 'duration') return { itemId, seconds: typeof u.seconds === 'number' && Number.isFinite(u.seconds) && u.seconds > 0 ? u.seconds : 0 };
  const details = isObject(u.input_token_details) ? u.input_token_details : {};
  const input = count(u.input_tokens);
  return { itemId, tokens: withMediaInput({ inputTokens: input, outputTokens: count(u.output_tokens), cachedInputTokens: 0 }, details, undefined) };
}

/** A duration-billed transcription as input audio tokens, for pricing without a per-second price. */
export function transcriptionSecondsAsTokens(seconds: number): Usage {
  const tokens = Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND);
  return { inputTokens: tokens, outputTokens: 0, cachedInputTokens: 0, audioInputTokens: tokens };
}

/**
 * The usage of one Realtime `response.done` server event (`response.usage`: input_tokens with
 * input_token_details' cached, audio and image tokens, output_tokens with their audio ones), or undefined for every other message. Cheap
 * for the common case: only messages that mention response.done are parsed.
 */
export function realtimeUsage(data: RawData | string): Usage | undefined {
  const text = typeof data === 'string' ? data : messageText(data);
  const event = realtimeEvent(text, 'response.done');
  if (event === undefined || !isObject(event.response) || !isObject(event.response.usage)) return undefined;
  const u = event.response.usage;
  const details = isObject(u.input_token_details) ? u.input_token_details : {};
  const input = count(u.input_tokens);
  const usage: Usage = { inputTokens: input, outputTokens: count(u.output_tokens), cachedInputTokens: Math.min(input, count(details.cached_tokens)) };
  // A voice session's audio is most of its tokens and billed at 8× text: priced apart (Provider audioInput/audioOutput).
  return withMediaOutput(withMediaInput(usage, details, details.cached_tokens_details), u.output_token_details);
}
