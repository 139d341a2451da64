import { count } from './json-guards.js';

/**
 * The output tokens an OpenAI-shaped usage bills (chat `completion_tokens`, a Response's or a
 * pass-through answer's `output_tokens`), given its input count and its raw `total_tokens` and
 * reasoning count; undefined when it says nothing of the output (neither an output nor a total).
 *
 * OpenAI counts reasoning inside the output, and its total is input + output. Not every server does:
 * xAI (and Google's OpenAI-compatible endpoint) report the answer's text alone as `completion_tokens`,
 * the reasoning beside it in `completion_tokens_details.reasoning_tokens`, and a `total_tokens` that
 * includes it. Read as OpenAI's, their reasoning (most of a reasoning model's bill) was charged
 * nothing. So the output is never less than the total less the input, nor than the reasoning added
 * to an output too small to hold it. For OpenAI's own usage both equal the output.
 */
export function billedOutputTokens(input: number, output: unknown, total: unknown, reasoning: unknown): number | undefined {
  const declared = typeof output === 'number' ? count(output) : undefined;
  const rest = typeof total === 'number' ? Math.max(0, count(total) - input) : undefined;
  if (declared === undefined) return rest;
  const thought = count(reasoning);
  const withReasoning = thought > declared ? declared + thought : declared;
  return rest === undefined ? withReasoning : Math.max(withReasoning, rest);
}
