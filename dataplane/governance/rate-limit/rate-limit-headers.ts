import type { BucketReport, LimitCheck, LimitDimension } from './backend.js';

/** "0ms" … "999ms", made once each (a bucket far from its limit resets within a few ms on every response). */
const SUB_SECOND = new Array<string | undefined>(1000);

/** OpenAI's reset format: "20ms", "1s", "1.5s", "6m0s", "1h2m3s". */
export function formatResetDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1000) return (SUB_SECOND[total] ??= `${total}ms`);
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = (total % 60_000) / 1000;
  const s = `${Number(seconds.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${s}`;
  if (minutes > 0) return `${minutes}m${s}`;
  return s;
}

/** Whole seconds for retry-after: never 0, since a client would retry at once. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The bucket a dimension's headers describe: the one that refused (longest wait), else the one
 * with the fewest tokens left relative to its limit.
 */
function headline(checks: readonly LimitCheck[], reports: readonly BucketReport[], dimension: LimitDimension): number | undefined {
  let best: number | undefined;
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i] as LimitCheck;
    if (c.dimension !== dimension) continue;
    if (best === undefined) {
      best = i;
      continue;
    }
    const a = reports[i];
    const b = reports[best];
    const cb = checks[best];
    if (a === undefined || b === undefined || cb === undefined) continue;
    if (a.waitMs !== b.waitMs) {
      if (a.waitMs > b.waitMs) best = i;
      continue;
    }
    if (a.remaining / c.limit < b.remaining / cb.limit) best = i;
  }
  return best;
}

/** The header names per dimension, made once rather than per response. */
const HEADER_NAMES = {
  requests: { limit: 'x-ratelimit-limit-requests', remaining: 'x-ratelimit-remaining-requests', reset: 'x-ratelimit-reset-requests' },
  tokens: { limit: 'x-ratelimit-limit-tokens', remaining: 'x-ratelimit-remaining-tokens', reset: 'x-ratelimit-reset-tokens' },
} as const;
const DIMENSIONS = ['requests', 'tokens'] as const;

/** x-ratelimit-{limit,remaining,reset}-{requests,tokens} for the dimensions the route limits. */
export function rateLimitHeaders(checks: readonly LimitCheck[], reports: readonly BucketReport[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const dimension of DIMENSIONS) {
    const i = headline(checks, reports, dimension);
    if (i === undefined) continue;
    const check = checks[i];
    const report = reports[i];
    if (check === undefined || report === undefined) continue;
    const names = HEADER_NAMES[dimension];
    headers[names.limit] = String(check.limit);
    headers[names.remaining] = String(report.remaining);
    headers[names.reset] = formatResetDuration(report.resetMs);
  }
  return headers;
}
