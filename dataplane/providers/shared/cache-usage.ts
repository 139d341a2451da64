import type { Usage } from '../../core/canonical.js';
import { count } from './json-guards.js';

/**
 * Usage from an API that counts uncached input apart from prompt-cache reads and writes (Anthropic,
 * Bedrock): the canonical form follows OpenAI, which counts both inside the prompt. Each count is a
 * raw value from the body (not a number = 0); `cacheWrite1h` is the part of the writes kept for an hour.
 */
export function usageWithCacheInPrompt(counts: { uncachedInput: unknown; output: unknown; cacheRead: unknown; cacheWrite: unknown; cacheWrite1h?: number }): Usage {
  const cacheRead = count(counts.cacheRead);
  const cacheWrite = count(counts.cacheWrite);
  const usage: Usage = { inputTokens: count(counts.uncachedInput) + cacheRead + cacheWrite, outputTokens: count(counts.output), cachedInputTokens: cacheRead };
  if (cacheWrite > 0) usage.cacheWriteTokens = cacheWrite;
  const hour = count(counts.cacheWrite1h);
  if (hour > 0) usage.cacheWrite1hTokens = hour;
  return usage;
}
