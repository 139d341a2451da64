import type { DetectorSet } from '../detectors/index.js';

/** Inline binary (images, audio as data: URLs or long base64) is never recorded, in any mode. */
const DATA_URL = /^data:[^;,]{1,100};base64,/;

export interface RedactedValue {
  value: unknown;
  counts: Record<string, number>;
  unscanned: boolean;
}

/**
 * Copies a JSON value with every string passed through the detectors (keys are kept: they are the
 * API's field names). Binary payloads become a size marker. Without detectors (mode Full) strings
 * are kept as they are.
 */
export function redactJson(value: unknown, detectors: DetectorSet | undefined): RedactedValue {
  const counts: Record<string, number> = {};
  let unscanned = false;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (DATA_URL.test(v)) return `[BINARY ${v.length} chars omitted]`;
      if (detectors === undefined) return v;
      const r = detectors.redact(v);
      for (const [type, n] of Object.entries(r.counts)) counts[type] = (counts[type] ?? 0) + n;
      if (!r.complete) unscanned = true;
      return r.text;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { value: walk(value), counts, unscanned };
}
