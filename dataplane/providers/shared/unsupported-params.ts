import type { JsonObject } from '../../core/canonical.js';
import { RequestTranslationError } from '../types.js';

/**
 * Refuses what a provider's API has no equivalent of, rather than drop it: `n` above 1, and token
 * logprobs (`logprobs: true`, or `top_logprobs` asked for), which Anthropic and Bedrock never return.
 * Before, logprobs were dropped silently and the answer said `logprobs: null`. The 400 is
 * `unsupported_by_provider` naming the parameter; a route fails over to a target that has it.
 */
export function refuseUnsupported(body: JsonObject): void {
  if (typeof body.n === 'number' && body.n > 1) throw new RequestTranslationError('n > 1 is not supported by this provider', 'n');
  if (body.logprobs === true) throw new RequestTranslationError('logprobs is not supported by this provider', 'logprobs');
  if (typeof body.top_logprobs === 'number' && body.top_logprobs > 0) throw new RequestTranslationError('top_logprobs is not supported by this provider', 'top_logprobs');
}
