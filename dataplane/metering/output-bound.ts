import type { CanonicalRequest, JsonObject } from '../core/canonical.js';

/** A positive integer request field, else undefined. */
export function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * How many completions one request makes the upstream generate, each up to the output cap: chat
 * `n`; completions `max(n, best_of)` (best_of candidates are all generated and billed, n returned);
 * embeddings produce no output tokens. Anthropic requests have no equivalent (one message each).
 */
export function outputMultiplier(req: Pick<CanonicalRequest, 'op' | 'body'>): number {
  if (req.op === 'embeddings') return 0;
  const n = positiveInt(req.body.n) ?? 1;
  return req.op === 'completions' ? Math.max(n, positiveInt(req.body.best_of) ?? 1) : n;
}

/**
 * The client's cap per completion. When it sends both fields the larger counts: upstreams differ in
 * which one they honour (OpenAI and the translated providers read max_completion_tokens first,
 * some OpenAI-compatible servers only max_tokens).
 */
export function askedOutputCap(body: JsonObject): number | undefined {
  const a = positiveInt(body.max_completion_tokens);
  const b = positiveInt(body.max_tokens);
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}
