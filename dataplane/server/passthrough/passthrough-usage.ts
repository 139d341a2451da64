import { count, isObject } from '../../providers/shared/json-guards.js';
import type { Usage } from '../../core/canonical.js';

/**
 * Token usage from a pass-through JSON answer, when it reports some: images and audio with token
 * models (`input_tokens`/`output_tokens`), embeddings-like and vLLM score/rerank (`prompt_tokens`
 * or `total_tokens`). Undefined when the answer reports none (moderations, files, batches,
 * duration-priced audio): such requests are logged, not metered.
 */
export function passThroughUsage(body: unknown): Usage | undefined {
  if (!isObject(body) || !isObject(body.usage)) return undefined;
  const u = body.usage;
  const output = count(u.output_tokens ?? u.completion_tokens);
  const declaredInput = u.input_tokens ?? u.prompt_tokens;
  const input = declaredInput !== undefined ? count(declaredInput) : Math.max(0, count(u.total_tokens) - output);
  if (input === 0 && output === 0) return undefined;
  const details = isObject(u.input_tokens_details) ? u.input_tokens_details : isObject(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  return { inputTokens: input, outputTokens: output, cachedInputTokens: Math.min(input, count(details.cached_tokens)) };
}
