import type { Usage } from '../../core/canonical.js';
import { count } from './json-guards.js';

/**
 * Usage from an API that counts uncached input apart from prompt-cache reads and writes (Anthropic,
 * Bedrock): the canonical form follows OpenAI, which counts both inside the prompt. Each count is a
 * raw value from the body (not a number = 0).
 */
export function usageWithCacheInPrompt(counts: { uncachedInput: unknown; output: unknown; cacheRead: unknown; cacheWrite: unknown }): Usage {
  const cacheRead = count(counts.cacheRead);
  const cacheWrite = count(counts.cacheWrite);
  const usage: Usage = { inputTokens: count(counts.uncachedInput) + cacheRead + cacheWrite, outputTokens: count(counts.output), cachedInputTokens: cacheRead };
  if (cacheWrite > 0) usage.cacheWriteTokens = cacheWrite;
  return usage;
}
