import type { Usage } from '../../core/canonical.js';
import { PRIORITY_TIER_MULTIPLIER } from '../../metering/cost.js';

/**
 * The price multiple of the service tier an OpenAI answer (chat, completions, or a Response) says
 * it ran at: a client may ask for `service_tier: "priority"`, billed above the Provider's prices.
 */
export function withTier(usage: Usage, serviceTier: unknown): Usage {
  // Set only when priced above standard: the usual usage object keeps its one shape.
  if (serviceTier === 'priority') usage.priceMultiplier = PRIORITY_TIER_MULTIPLIER;
  return usage;
}
