import type { RE2JS } from 're2js';
import { re2 } from './re2-engine.js';

/**
 * The content detectors' vocabulary, as far as it is part of the operator↔data-plane contract:
 * the built-in detector names policies may use, and what makes a custom pattern acceptable. The
 * detectors themselves are dataplane/policy/detectors; compile checks objects with this file, so
 * a pattern compile accepts is one the data plane can load.
 */

/** The built-in detectors, by the names policies use (CRD enums: `redaction.detectors`, guardrail rules). */
export const BUILTIN_DETECTORS = ['Email', 'Phone', 'PaymentCard', 'IBAN', 'NationalID', 'IPAddress', 'Credential'] as const;
export type BuiltinDetector = (typeof BUILTIN_DETECTORS)[number];

/**
 * Largest RE2 program of one custom content pattern. RE2 matching costs program size × input
 * length, so this and the input cap bound one pattern's work on any text.
 */
export const MAX_CUSTOM_PROGRAM_SIZE = 2048;
/** Largest sum of the program sizes of one policy's custom patterns. */
export const MAX_TOTAL_CUSTOM_PROGRAM_SIZE = 8192;
/** Most custom patterns one policy may carry. */
export const MAX_CUSTOM_PATTERNS = 32;
/** A custom pattern's name: it becomes the marker `[NAME]`. */
export const CUSTOM_PATTERN_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

export type ContentPatternResult = { ok: true; re: RE2JS; programSize: number } | { ok: false; error: string };

/** Compiles one custom pattern, refusing what could not run within the bounds above. */
export function compileContentPattern(name: string, source: string): ContentPatternResult {
  if (!CUSTOM_PATTERN_NAME.test(name)) return { ok: false, error: `name must match ${CUSTOM_PATTERN_NAME.source}` };
  let re: RE2JS;
  try {
    re = re2().compile(source);
  } catch (err) {
    return { ok: false, error: `invalid RE2 pattern: ${err instanceof Error ? err.message : String(err)}` };
  }
  const programSize = re.programSize();
  if (programSize > MAX_CUSTOM_PROGRAM_SIZE) {
    return { ok: false, error: `too complex: RE2 program size ${programSize} exceeds ${MAX_CUSTOM_PROGRAM_SIZE}` };
  }
  // A pattern that matches nothing-at-all would "redact" every position and hide nothing.
  if (re.matches('')) return { ok: false, error: 'pattern matches the empty string' };
  return { ok: true, re, programSize };
}
