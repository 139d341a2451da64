import type { JsonObject } from '../../core/canonical.js';
import { RequestTranslationError } from '../types.js';

/**
 * Refuses what a provider's API has no equivalent of, rather than drop it: `n` above 1, and token
 * logprobs (`logprobs: true`, or `top_logprobs` asked for), which Anthropic and Bedrock never return,
 * and a non-zero `presence_penalty` or `frequency_penalty`.
 * Before, logprobs were dropped silently and the answer said `logprobs: null`. The 400 is
 * `unsupported_by_provider` naming the parameter; a route fails over to a target that has it.
 * `penalties: false` leaves the penalties to the caller (Bedrock, where some model families take them).
 */
export function refuseUnsupported(body: JsonObject, { penalties = true }: { penalties?: boolean } = {}): void {
  refuseWithoutEquivalent(body);
  if (typeof body.n === 'number' && body.n > 1) throw new RequestTranslationError('n > 1 is not supported by this provider', 'n');
  if (body.logprobs === true) throw new RequestTranslationError('logprobs is not supported by this provider', 'logprobs');
  if (typeof body.top_logprobs === 'number' && body.top_logprobs > 0) throw new RequestTranslationError('top_logprobs is not supported by this provider', 'top_logprobs');
  if (!penalties) return;
  refuseNonZero(body, 'presence_penalty');
  refuseNonZero(body, 'frequency_penalty');
}

/**
 * A penalty Anthropic and Bedrock have no setting for: 0 (OpenAI's default, which some client
 * libraries always send) changes nothing and is dropped; any other value would change the answer
 * and is refused. Before, every value was dropped silently.
 */
function refuseNonZero(body: JsonObject, param: 'presence_penalty' | 'frequency_penalty'): void {
  const value = body[param];
  if (typeof value === 'number' && value !== 0) throw new RequestTranslationError(`${param} (other than 0) is not supported by this provider`, param);
}

/**
 * Refuses what no translated provider (Anthropic, Gemini, Bedrock) has an equivalent of and whose
 * loss changes the answer: a non-empty `logit_bias` (tokens the client banned or forced: their ids
 * are OpenAI's tokenizer's), audio output (`modalities` with audio, or `audio`: the answer would be
 * text only), and `web_search_options` (the answer would come without a search). Before, they were
 * dropped silently. Each is a 400 `unsupported_by_provider` naming the parameter; a route fails
 * over to a target that has it.
 */
export function refuseWithoutEquivalent(body: JsonObject): void {
  const bias = body.logit_bias;
  if (typeof bias === 'object' && bias !== null && Object.keys(bias).length > 0) throw new RequestTranslationError('logit_bias is not supported by this provider', 'logit_bias');
  if (Array.isArray(body.modalities) && body.modalities.includes('audio')) throw new RequestTranslationError('audio output is not supported by this provider', 'modalities');
  if (body.audio !== undefined && body.audio !== null) throw new RequestTranslationError('audio output is not supported by this provider', 'audio');
  if (body.web_search_options !== undefined && body.web_search_options !== null) throw new RequestTranslationError('web_search_options is not supported by this provider', 'web_search_options');
}
