import type { Pricing } from '../config/snapshot.js';
import type { Usage } from '../providers/types.js';

/** USD for one request: uncached input, cached input and output, each at its price per million tokens. */
export function costUsd(usage: Usage, pricing: Pricing): number {
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  const uncached = usage.inputTokens - cached;
  const micro = uncached * pricing.inputPerMTok + cached * pricing.cachedInputPerMTok + usage.outputTokens * pricing.outputPerMTok;
  // Rounded to a millionth of a cent so that sums of many requests do not drift in binary floating point.
  return Math.round(micro / 1e6 * 1e8) / 1e8;
}
