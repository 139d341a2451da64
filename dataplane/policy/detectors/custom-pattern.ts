import { compileContentPattern } from '../../config/content-detectors.js';

// The limits and the acceptance check are part of the operator↔data-plane contract (config/).
export { CUSTOM_PATTERN_NAME, MAX_CUSTOM_PATTERNS, MAX_CUSTOM_PROGRAM_SIZE, MAX_TOTAL_CUSTOM_PROGRAM_SIZE } from '../../config/content-detectors.js';

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
  const compiled = compileContentPattern(name, source);
  if (!compiled.ok) return compiled;
  const { re, programSize } = compiled;
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
