import type { HeaderMap } from '../core/canonical.js';

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** retry-after-ms, then retry-after (seconds or HTTP date). `now` is injected to keep callers testable. */
export function parseRetryAfterMs(headers: HeaderMap, now: number = Date.now()): number | undefined {
  const ms = first(headers['retry-after-ms']);
  if (ms !== undefined) {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return Math.round(n);
  }
  const value = first(headers['retry-after']);
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000_001 };

/** A Go duration as OpenAI's x-ratelimit-reset-* headers carry it ("20s", "6m0s", "1h2m3.5s", "120ms"); undefined when it is not one. */
export function parseDurationMs(value: string): number | undefined {
  const parts = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/.test(value) ? value.match(/\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns)/g) : null;
  if (parts === null) return undefined;
  let ms = 0;
  for (const part of parts) {
    const unit = /[a-zµ]+$/.exec(part)?.[0] ?? '';
    ms += Number(part.slice(0, -unit.length)) * (DURATION_UNITS_MS[unit] ?? Number.NaN);
  }
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/**
 * When OpenAI's rate limits reset, from x-ratelimit-reset-requests and -tokens (a 429 often has
 * them and no retry-after). The limits that say they are spent (x-ratelimit-remaining-* of 0) must
 * all reset: the longest of theirs. When none says so, the sooner of the two.
 */
export function rateLimitResetMs(headers: HeaderMap): number | undefined {
  const spent: number[] = [];
  const all: number[] = [];
  for (const limit of ['requests', 'tokens']) {
    const reset = first(headers[`x-ratelimit-reset-${limit}`]);
    const ms = reset === undefined ? undefined : parseDurationMs(reset.trim());
    if (ms === undefined) continue;
    all.push(ms);
    if (first(headers[`x-ratelimit-remaining-${limit}`])?.trim() === '0') spent.push(ms);
  }
  if (spent.length > 0) return Math.max(...spent);
  return all.length > 0 ? Math.min(...all) : undefined;
}
