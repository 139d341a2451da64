import type { DetectorSet } from '../detectors/index.js';

/** Inline binary (images, audio as data: URLs or long base64) is never recorded, in any mode. */
const DATA_URL = /^data:[^;,]{1,100};base64,/;
const D = 100; // 'd'

/** Matches replaced by type, and whether a detector cap left some text unscanned; summed over a record's parts. */
export interface RedactionTally {
  counts: Record<string, number>;
  unscanned: boolean;
}

/**
 * A JSON value as JSON text with every string passed through the detectors (keys are kept: they
 * are the API's field names); binary payloads become a size marker. Without detectors (mode Full)
 * strings are kept as they are. The value is read, never copied: strings that change are noted,
 * and the text is written by JSON.stringify in one pass, so a record that needs no change costs
 * no copy of its request at all.
 */
export function redactedJson(value: unknown, detectors: DetectorSet | undefined, tally: RedactionTally): string {
  let changed: Map<string, string> | undefined;
  const visit = (s: string): void => {
    if (s.charCodeAt(0) === D && DATA_URL.test(s)) {
      (changed ??= new Map()).set(s, `[BINARY ${s.length} chars omitted]`);
      return;
    }
    if (detectors === undefined) return;
    const r = detectors.redact(s);
    for (const type in r.counts) tally.counts[type] = (tally.counts[type] ?? 0) + r.counts[type]!;
    if (!r.complete) tally.unscanned = true;
    if (r.text !== s) (changed ??= new Map()).set(s, r.text);
  };
  const walk = (v: unknown): void => {
    if (typeof v === 'string') visit(v);
    else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) walk(v[i]);
    else if (typeof v === 'object' && v !== null) for (const k in v) walk((v as Record<string, unknown>)[k]);
  };
  walk(value);
  if (changed === undefined) return JSON.stringify(value);
  const replacements = changed;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? (replacements.get(v) ?? v) : v));
}
