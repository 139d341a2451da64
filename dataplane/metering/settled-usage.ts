import type { JsonObject, Usage } from '../providers/types.js';
import { estimateOutputTokens } from './token-estimate.js';

/** Why a request was metered from the gateway's estimate instead of the upstream's usage. */
export type EstimateReason = 'missing' | 'invalid' | 'client_gone' | 'truncated';

/** More tokens than any one request can use (largest context windows × the largest `n`): a report above it is a bug upstream. */
export const MAX_PLAUSIBLE_TOKENS = 100_000_000;

function plausibleCount(value: number | undefined): boolean {
  return value === undefined || (Number.isInteger(value) && value >= 0 && value <= MAX_PLAUSIBLE_TOKENS);
}

/**
 * Usage an upstream reported that can be true: whole, non-negative, bounded counts, with cached and
 * cache-write tokens part of input. Anything else is treated as missing (metered from the estimate)
 * rather than trusted: negative counts would credit budgets, absurd ones would bill a fortune, and
 * either would break the usage report that carries them.
 */
export function plausibleUsage(usage: Usage): boolean {
  if (![usage.inputTokens, usage.outputTokens, usage.cachedInputTokens, usage.cacheWriteTokens].every(plausibleCount)) return false;
  return usage.cachedInputTokens + (usage.cacheWriteTokens ?? 0) <= usage.inputTokens;
}

export interface MeteredUsage {
  usage: Usage;
  /** Set when the usage is the gateway's estimate, with why. */
  estimated?: EstimateReason;
}

/**
 * What a non-streaming response is charged: the upstream's usage when it is plausible, else the
 * prompt estimate plus the output estimated from the body (every choice), marked estimated.
 */
export function responseUsage(reported: Usage | undefined, body: JsonObject, promptTokens: number): MeteredUsage {
  if (reported !== undefined && plausibleUsage(reported)) return { usage: reported };
  return {
    usage: { inputTokens: promptTokens, outputTokens: estimateOutputTokens(body), cachedInputTokens: 0 },
    estimated: reported === undefined ? 'missing' : 'invalid',
  };
}
