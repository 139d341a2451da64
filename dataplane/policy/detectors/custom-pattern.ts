import type { RE2JS } from 're2js';
import { compileContentPattern } from '../../config/content-detectors.js';
import { patternReach } from './pattern-reach.js';

// The limits and the acceptance check are part of the operator↔data-plane contract (config/).
export { CUSTOM_PATTERN_NAME, MAX_CUSTOM_PATTERNS, MAX_CUSTOM_PROGRAM_SIZE, MAX_TOTAL_CUSTOM_PROGRAM_SIZE } from '../../config/content-detectors.js';

/**
 * What the RE2 matcher may still do, in program size × characters handed to it: shared by every
 * pattern of a scan, and by every scan of one request when the caller passes one down.
 */
export interface PatternWork {
  left: number;
  spent: number;
}

/** A compiled custom pattern: RE2 semantics (linear time, no backreferences or look-around). */
export interface CompiledCustomPattern {
  name: string;
  marker: string;
  programSize: number;
  /** Code units one match attempt reads past its start, or undefined when a loop leaves it unbounded. */
  reach: number | undefined;
  /**
   * Calls onMatch for each non-empty match in text order until it returns false. Returns how far
   * the text was scanned: text.length, or the position from which `work` could not pay for
   * locating matches (nothing from there on was reported).
   */
  forEachMatch(text: string, onMatch: (start: number, end: number) => boolean, work: PatternWork): number;
}

export type CustomPatternResult = { ok: true; pattern: CompiledCustomPattern } | { ok: false; error: string };

export function customMarker(name: string): string {
  return `[${name.toUpperCase().replace(/-/g, '_')}]`;
}

/**
 * Context read to the right of a window for a pattern whose matches are unbounded (`+`, `*`): a
 * match found within it is exact; one running to the window's edge is looked for again on a
 * window twice as long, up to MAX_WIDENED_REACH past its start, where the scan stops (incomplete).
 */
export const UNBOUNDED_REACH = 256;
export const MAX_WIDENED_REACH = 16384;
/** Texts are tested (DFA) chunk by chunk; a chunk that may hold a match is halved down to LEAF characters before the matcher runs. */
const CHUNK = 4096;
const LEAF = 32;
/** Code units of left context a window keeps: the rune before a position (a surrogate pair at most) decides `^` in multi-line mode, `\b` and `\B` there. */
const LEFT = 2;

/** Compiles one custom pattern, refusing what could not run within the bounds above. */
export function compileCustomPattern(name: string, source: string): CustomPatternResult {
  const compiled = compileContentPattern(name, source);
  if (!compiled.ok) return compiled;
  const { re, programSize } = compiled;
  const reach = patternReach(re);
  return {
    ok: true,
    pattern: { name, marker: customMarker(name), programSize, reach, forEachMatch: (text, onMatch, work) => scanWindows(re, programSize, reach, text, onMatch, work) },
  };
}

/**
 * The pattern's matches in `text` as the RE2 matcher finds them over the whole text (leftmost
 * first, each search from the end of the previous match), without running the matcher over the
 * whole text: its NFA costs ~30 ns per program instruction per character, so a 1 MiB text holding
 * one match cost seconds of the event loop. Instead the DFA test (~10 ns a character, whatever the
 * program) says which chunks, then which halves of them, may hold the start of a match, and the
 * matcher runs only on a leaf of LEAF characters with the context a match attempt can read: LEFT
 * units before it and the pattern's reach (+2 for an assertion's look-ahead) after it. A bounded
 * pattern gets its full reach, so the result is exactly the whole-text result; see UNBOUNDED_REACH
 * for the others. Every matcher call is paid for from `work` first.
 */
function scanWindows(re: RE2JS, programSize: number, reach: number | undefined, text: string, onMatch: (start: number, end: number) => boolean, work: PatternWork): number {
  const n = text.length;
  // The whole text first, as before: most texts hold no match, and then this one DFA pass is all.
  if (!re.test(text)) return n;
  const exact = reach !== undefined;
  // Context after a position that a match attempt from there can read, and the look-ahead of an assertion at its end.
  const right = (reach ?? UNBOUNDED_REACH) + 2;
  let pos = 0;
  let found = false;
  let stoppedAt = n;

  // May a match start in [from, end)? False only when none does: the slice holds every attempt from there whole.
  const mayStart = (from: number, end: number): boolean => re.test(text.slice(Math.max(0, from - LEFT), Math.min(n, end + right)));
  // Reports the matches from the first one starting in [a, b) on, up to the first that starts at or past b; false when the scan must stop.
  const leaf = (a: number, b: number): boolean => {
    let at = Math.max(a, pos);
    let windowEnd = Math.min(n, b + right);
    // A match found past b is looked for again on a wider window here, not by the next leaf.
    let again = false;
    while (at < b || again) {
      again = false;
      const cost = programSize * (windowEnd - at);
      if (work.left < cost) {
        stoppedAt = at;
        return false;
      }
      work.left -= cost;
      work.spent += cost;
      const ws = Math.max(0, at - LEFT);
      const matcher = re.matcher(text.slice(ws, windowEnd));
      if (!matcher.find(at - ws)) return true;
      const start = matcher.start() + ws;
      const end = matcher.end() + ws;
      if (windowEnd < n && (start + right > windowEnd || end + 2 > windowEnd)) {
        // The window cut the reach of the attempt at `start`, or the match runs to its edge (an
        // unbounded pattern): look again from `at` on a window that gives it its whole reach,
        // twice as long where the match ran to the edge. (A match found past b is kept: the next
        // leaf would only find it again.)
        const next = Math.max(start + right, end + 2 > windowEnd ? windowEnd + (windowEnd - at) : 0);
        if (!exact && next - start > MAX_WIDENED_REACH) {
          stoppedAt = at;
          return false;
        }
        // No match starts before `start`, nor where this window held an attempt's whole reach: the search goes on from there.
        at = Math.max(at, Math.min(start, windowEnd - right + 1));
        windowEnd = Math.min(n, next);
        again = true;
        continue;
      }
      found = true;
      // After an empty match the matcher moves on by one rune (a surrogate pair is one), as find() does.
      pos = end === start ? end + runeLength(text, end) : end;
      if (end > start && !onMatch(start, end)) return false;
      at = pos;
      // A DFA test of the rest before the matcher runs again: a leaf mostly holds one match.
      if (at >= b || !mayStart(at, b)) return true;
      windowEnd = Math.min(n, b + right);
    }
    return true;
  };
  const descend = (a: number, b: number): boolean => {
    if (b - a <= LEAF) return leaf(a, b);
    const mid = a + ((b - a) >> 1);
    if (mayStart(a, mid) && !descend(a, mid)) return false;
    const from = Math.max(mid, pos);
    return from >= b || !mayStart(from, b) || descend(from, b);
  };

  for (let chunk = 0; chunk < n; chunk += CHUNK) {
    const end = Math.min(n, chunk + CHUNK);
    const from = Math.max(chunk, pos);
    // The first chunk of a short text is the whole text, tested above.
    if (from >= end || (!(from === 0 && end === n) && !mayStart(from, end))) continue;
    if (!descend(from, end)) return stoppedAt;
  }
  // The whole text holds a match and no window found one: a match longer than the windows (only
  // an unbounded pattern has one). It cannot be located within bounds: the text counts as unscanned.
  return found ? n : 0;
}

/** UTF-16 units of the rune at `at`: 2 for a surrogate pair, else 1 (past the end too). */
function runeLength(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c < 0xd800 || c > 0xdbff || at + 1 >= text.length) return 1;
  const d = text.charCodeAt(at + 1);
  return d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
}
