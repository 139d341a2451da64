import type { HeaderMap, Usage } from '../../core/canonical.js';
import { withTier } from '../shared/service-tier.js';

/** The Gemini API's tiers, as its REST request names them (`service_tier`; standard when absent). */
export type GeminiServiceTier = 'FLEX' | 'PRIORITY';

/**
 * OpenAI's `service_tier` as the Gemini API's: `flex` (half price, answered within minutes, best
 * effort) and `priority` (a premium, ahead of standard traffic) are sold under the same names;
 * `auto`, `default` and `scale` are the standard tier, the API's default, and are left out.
 * Before, the field was dropped.
 */
export function geminiServiceTier(value: unknown): GeminiServiceTier | undefined {
  return value === 'flex' ? 'FLEX' : value === 'priority' ? 'PRIORITY' : undefined;
}

/**
 * Usage at the price of the tier the answer ran at: the `x-gemini-service-tier` header (a priority
 * request over its limit is served at `standard`), else, where the answer does not say (a stream's
 * usage is read without its headers), the tier asked for, never less. `flex` is metered at the
 * Provider's prices, as on OpenAI.
 */
export function geminiTieredUsage(usage: Usage, asked: GeminiServiceTier | undefined, headers?: HeaderMap): Usage {
  if (asked === undefined) return usage;
  const served = headers?.['x-gemini-service-tier'];
  return withTier(usage, typeof served === 'string' && served !== '' ? served.toLowerCase() : asked.toLowerCase());
}
