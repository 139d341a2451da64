import { RE2JS } from 're2js';

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

/** A compiled custom pattern: RE2 semantics (linear time, no backreferences or look-around). */
export interface CompiledCustomPattern {
  name: string;
  marker: string;
  programSize: number;
  /** Calls onMatch for each non-empty match in text order until it returns false. */
  forEachMatch(text: string, onMatch: (start: number, end: number) => boolean): void;
}

export type CustomPatternResult = { ok: true; pattern: CompiledCustomPattern } | { ok: false; error: string };

export function customMarker(name: string): string {
  return `[${name.toUpperCase().replace(/-/g, '_')}]`;
}

/** Compiles one custom pattern, refusing what could not run within the bounds above. */
export function compileCustomPattern(name: string, source: string): CustomPatternResult {
  if (!CUSTOM_PATTERN_NAME.test(name)) return { ok: false, error: `name must match ${CUSTOM_PATTERN_NAME.source}` };
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    return { ok: false, error: `invalid RE2 pattern: ${err instanceof Error ? err.message : String(err)}` };
  }
  const programSize = re.programSize();
  if (programSize > MAX_CUSTOM_PROGRAM_SIZE) {
    return { ok: false, error: `too complex: RE2 program size ${programSize} exceeds ${MAX_CUSTOM_PROGRAM_SIZE}` };
  }
  // A pattern that matches nothing-at-all would "redact" every position and hide nothing.
  if (re.matches('')) return { ok: false, error: 'pattern matches the empty string' };
  return {
    ok: true,
    pattern: {
      name,
      marker: customMarker(name),
      programSize,
      forEachMatch(text, onMatch) {
        // The DFA-only test is several times cheaper than locating matches: most texts stop here.
        if (!re.test(text)) return;
        const matcher = re.matcher(text);
        while (matcher.find()) {
          const start = matcher.start();
          const end = matcher.end();
          if (end > start && !onMatch(start, end)) return;
        }
      },
    },
  };
}
