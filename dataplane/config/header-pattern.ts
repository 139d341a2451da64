import { RE2JS } from 're2js';

/**
 * Longest header value (in UTF-16 code units) a RegularExpression match looks at; a longer value
 * never matches. RE2 matching is linear in pattern × input, so this caps the work one header can
 * cost at (4096-character pattern) × MAX_MATCHED_HEADER_LENGTH, whatever a client sends.
 */
export const MAX_MATCHED_HEADER_LENGTH = 8192;

/** A compiled header regular expression: anchored (the whole value must match), RE2 semantics. */
export interface HeaderPattern {
  test(value: string): boolean;
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
    re = RE2JS.compile(source);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  return { ok: true, pattern: { test: (value) => value.length <= MAX_MATCHED_HEADER_LENGTH && re.matches(value) } };
}

/** Why a pattern cannot be used, or undefined when it can. */
export function headerPatternError(source: string): string | undefined {
  const compiled = compileHeaderPattern(source);
  return compiled.ok ? undefined : compiled.error;
}
