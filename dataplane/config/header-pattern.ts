import type { RE2JS } from 're2js';
import { re2 } from './re2-engine.js';

/**
 * Longest header value (in UTF-16 code units) a RegularExpression match looks at; a longer value
 * never matches. RE2 matching is linear in program size × input, so with the program-size limits
 * below one header costs at most MAX_PATTERN_PROGRAM_SIZE × this many steps, whatever a client sends.
 */
export const MAX_MATCHED_HEADER_LENGTH = 1024;
/** Largest RE2 program of one pattern (RE2's own cost measure; Envoy's default limit is 100). */
export const MAX_PATTERN_PROGRAM_SIZE = 256;
/** Largest sum of the program sizes of one route's patterns: bounds the regex work one request can cause per route. */
export const MAX_ROUTE_PROGRAM_SIZE = 1024;

/** A compiled header regular expression: anchored (the whole value must match), RE2 semantics. */
export interface HeaderPattern {
  test(value: string): boolean;
  /** RE2's program size: the work per character matched. */
  programSize: number;
}

export type HeaderPatternResult = { ok: true; pattern: HeaderPattern } | { ok: false; error: string };

/**
 * Compiles a header regular expression with RE2 semantics (linear-time matching, no backreferences
 * or lookaround). The one engine both the data plane (matching) and compile (validation) use, so
 * a pattern compile accepts is one the data plane can load.
 */
export function compileHeaderPattern(source: string): HeaderPatternResult {
  let re: RE2JS;
  try {
    re = re2().compile(source);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  const programSize = re.programSize();
  if (programSize > MAX_PATTERN_PROGRAM_SIZE) {
    return { ok: false, error: `too complex: RE2 program size ${programSize} exceeds ${MAX_PATTERN_PROGRAM_SIZE} (use fewer or smaller counted repetitions and alternatives)` };
  }
  return { ok: true, pattern: { programSize, test: (value) => value.length <= MAX_MATCHED_HEADER_LENGTH && re.matches(value) } };
}

/** Why a pattern cannot be used, or undefined when it can. */
export function headerPatternError(source: string): string | undefined {
  const compiled = compileHeaderPattern(source);
  return compiled.ok ? undefined : compiled.error;
}
