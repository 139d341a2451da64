import { BUILTIN_RULES, type BuiltinRule, type DigitAnchor } from './builtin-rules.js';
import { FOLDED, fold, unfold } from './text-fold.js';
import { holdsAll, holdsOne, newTextShape, textShape, type TextShape } from './text-shape.js';
import { compileCustomPattern, MAX_CUSTOM_PATTERNS, MAX_TOTAL_CUSTOM_PROGRAM_SIZE, type CompiledCustomPattern } from './custom-pattern.js';
import {
  BUILTIN_DETECTORS,
  BUILTIN_MARKERS,
  DEFAULT_DETECTOR_LIMITS,
  UNSCANNED_MARKER,
  type BuiltinDetector,
  type CustomPattern,
  type DetectorLimits,
  type DetectorSpecError,
  type Finding,
  type PatternBudget,
  type RedactResult,
  type ScanResult,
} from './detector-types.js';

export interface DetectorSpec {
  /** Built-in detectors to run (names from BUILTIN_DETECTORS). */
  detectors: readonly string[];
  customPatterns?: readonly CustomPattern[];
  limits?: Partial<DetectorLimits>;
}

/** A compiled, immutable set of detectors; safe to share between requests. */
export interface DetectorSet {
  /** `budget`, when given, is shared with the other scans of one request: this scan's pattern work comes out of it too. */
  scan(text: string, budget?: PatternBudget): ScanResult;
  redact(text: string): RedactResult;
}

export type DetectorSetResult = { ok: true; detectors: DetectorSet } | { ok: false; errors: DetectorSpecError[] };

/** Every problem with a spec (unknown detector, bad pattern, duplicate name), each naming its field. */
export function detectorSpecErrors(spec: DetectorSpec): DetectorSpecError[] {
  const result = compileDetectors(spec);
  return result.ok ? [] : result.errors;
}

/** Compiles a detector spec; collects every error rather than stopping at the first. */
export function compileDetectors(spec: DetectorSpec): DetectorSetResult {
  return compile(spec, true);
}

/**
 * The same detectors with no pre-filter: every rule's pattern runs over every text. The reference
 * the pre-filters are tested against (they may skip only what this finds nothing in).
 */
export function compileUnfilteredDetectors(spec: DetectorSpec): DetectorSetResult {
  return compile(spec, false);
}

function compile(spec: DetectorSpec, filtered: boolean): DetectorSetResult {
  const errors: DetectorSpecError[] = [];
  const chosen = new Set<BuiltinDetector>();
  spec.detectors.forEach((name, i) => {
    if ((BUILTIN_DETECTORS as readonly string[]).includes(name)) chosen.add(name as BuiltinDetector);
    else errors.push({ field: `detectors[${i}]`, message: `unknown detector "${name}" (known: ${BUILTIN_DETECTORS.join(', ')})` });
  });
  const custom: CompiledCustomPattern[] = [];
  const patterns = spec.customPatterns ?? [];
  if (patterns.length > MAX_CUSTOM_PATTERNS) errors.push({ field: 'customPatterns', message: `at most ${MAX_CUSTOM_PATTERNS} custom patterns` });
  const names = new Set<string>();
  let totalProgram = 0;
  patterns.forEach((p, i) => {
    if (names.has(p.name)) errors.push({ field: `customPatterns[${i}].name`, message: `duplicate name "${p.name}"` });
    names.add(p.name);
    const compiled = compileCustomPattern(p.name, p.pattern);
    if (!compiled.ok) {
      errors.push({ field: `customPatterns[${i}]${compiled.error.startsWith('name') ? '.name' : '.pattern'}`, message: compiled.error });
      return;
    }
    totalProgram += compiled.pattern.programSize;
    custom.push(compiled.pattern);
  });
  if (totalProgram > MAX_TOTAL_CUSTOM_PROGRAM_SIZE) {
    errors.push({ field: 'customPatterns', message: `too complex together: RE2 program sizes sum to ${totalProgram}, more than ${MAX_TOTAL_CUSTOM_PROGRAM_SIZE}` });
  }
  const limits: DetectorLimits = { ...DEFAULT_DETECTOR_LIMITS, ...spec.limits };
  if (!(limits.maxInputLength > 0) || !(limits.maxMatches > 0) || !(limits.maxPatternWork > 0)) errors.push({ field: 'limits', message: 'limits must be positive' });
  if (errors.length > 0) return { ok: false, errors };
  const rules = BUILTIN_RULES.filter((r) => chosen.has(r.detector));
  return { ok: true, detectors: detectorSet(rules, custom, limits, filtered) };
}

/**
 * A necessary condition for any of `rules` to match, as one pattern: a rule's required substring,
 * a digit for a rule that needs one, or its `hint`. Undefined when some rule has none (then every
 * text is scanned rule by rule).
 */
export function prefilterSource(rules: readonly BuiltinRule[]): string | undefined {
  const parts = new Set<string>();
  for (const r of rules) {
    // A hint is the stricter condition where a rule has both (requires only gates it cheaply).
    const part = r.needsDigit === true ? '\\d' : r.hint !== undefined ? r.hint : r.requires === undefined ? undefined : needlesSource(r.requires);
    if (part === undefined) return undefined;
    parts.add(part);
  }
  return parts.size === 0 ? undefined : [...parts].join('|');
}

/**
 * `needles` as one alternative of the combined pattern. Needles that differ only in their first
 * character become one class and tail ([Bb]earer): the engine tries each alternative at every
 * position that starts one, and `Bearer|bearer` cost the capture-ab answer 5 % more than `earer`.
 */
function needlesSource(needles: readonly string[]): string {
  const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const tail = needles[0]!.slice(1);
  if (needles.length > 1 && needles.every((needle) => needle.length > 1 && needle.slice(1) === tail && /^[A-Za-z]/.test(needle))) {
    return `[${needles.map((needle) => needle[0]).join('')}]${escape(tail)}`;
  }
  return needles.map(escape).join('|');
}

/** Shared by every scan that found nothing: never written to. */
const NO_COUNTS: Readonly<Record<string, number>> = Object.freeze({});

function detectorSet(rules: readonly BuiltinRule[], custom: readonly CompiledCustomPattern[], limits: DetectorLimits, filtered: boolean): DetectorSet {
  // This set's own copies of the patterns, made once: lastIndex is reset at the start of each use,
  // and a scan runs to its end synchronously, so scans never share one mid-way. (A copy per scan
  // cost more than scanning a short text.)
  const patterns = rules.map((r) => new RegExp(r.pattern.source, r.anchor === undefined ? r.pattern.flags : stickyFlags(r.pattern)));
  // A digit rule runs from its digit anchor only where the shape pass listed the digit runs (texts
  // up to SHAPE_MAX_LENGTH): longer texts run its global pattern.
  const stickies = rules.map((r) => (r.digitAnchor === undefined ? undefined : new RegExp(r.pattern.source, stickyFlags(r.pattern))));
  const hints = rules.map((r) => (r.hint === undefined ? undefined : new RegExp(r.hint)));
  // Most strings in a request carry nothing any rule could match ("user", "stop", prose without a
  // digit): one combined test, not a test per rule, sends them through untouched.
  const source = prefilterSource(rules);
  const prefilter = source === undefined ? undefined : new RegExp(source);
  const scan = (text: string, prefilterPassed = false, budget?: PatternBudget): ScanResult =>
    scanText(text, rules, patterns, stickies, hints, prefilter, custom, limits, filtered, prefilterPassed, budget);
  // What scanText decides for a text no rule can match, without its result: most strings of a
  // record ("user", "stop", prose) end here, and the capture worker redacts every one of them.
  // It passes a text with a character to fold too (in the same pass): a card in full-width digits has no ASCII digit.
  const skipAll = filtered && custom.length === 0 && source !== undefined ? new RegExp(`${source}|${FOLDED.source}`, FOLDED.flags) : undefined;
  return {
    scan: (text, budget) => {
      const folded = fold(text);
      return folded === undefined ? scan(text, false, budget) : unfold(scan(folded.text, false, budget), folded);
    },
    redact(text) {
      // The combined test decides here, once: a text it passes is scanned without testing it again.
      const tested = skipAll !== undefined && text.length <= limits.maxInputLength;
      if (tested && !skipAll.test(text)) return { text, counts: NO_COUNTS as Record<string, number>, complete: true };
      const folded = fold(text);
      if (folded !== undefined) {
        const result = unfold(scan(folded.text), folded);
        return result.findings.length === 0 && result.complete ? { text, counts: NO_COUNTS as Record<string, number>, complete: true } : applyFindings(text, result);
      }
      const result = scan(text, tested);
      if (result.findings.length === 0 && result.complete) return { text, counts: NO_COUNTS as Record<string, number>, complete: true };
      return applyFindings(text, result);
    },
  };
}

function scanText(
  text: string,
  rules: readonly BuiltinRule[],
  patterns: readonly RegExp[],
  stickies: readonly (RegExp | undefined)[],
  hints: readonly (RegExp | undefined)[],
  prefilter: RegExp | undefined,
  custom: readonly CompiledCustomPattern[],
  limits: DetectorLimits,
  filtered: boolean,
  /** The caller found `prefilter` in the whole text (no longer than maxInputLength): not tested again. */
  prefilterPassed: boolean,
  budget: PatternBudget | undefined,
): ScanResult {
  const input = text.length > limits.maxInputLength ? text.slice(0, limits.maxInputLength) : text;
  const builtins = !filtered || prefilter === undefined || prefilterPassed || prefilter.test(input);
  if (!builtins && custom.length === 0) return { findings: [], scannedLength: input.length, complete: input.length === text.length, patternWork: 0 };
  // In priority order, as the rules and then the custom patterns run: the stable sort in
  // mergeOverlaps keeps that order among matches of the same span, so no priority is stored.
  const raw: Finding[] = [];
  // Each rule stops after maxMatches of its own; the earliest such stop bounds what was fully scanned.
  let scannedLength = input.length;
  const shape = filtered && builtins ? textShape(input, SHAPE) : undefined;
  for (let priority = 0; builtins && priority < rules.length; priority++) {
    const rule = rules[priority]!;
    if (shape !== undefined && !worthRunning(rule, shape, input, hints[priority])) continue;
    const runs = shape !== undefined && shape.runs >= 0 && rule.digitAnchor !== undefined ? shape : undefined;
    const re = runs === undefined ? patterns[priority]! : stickies[priority]!;
    re.lastIndex = 0;
    if (runs !== undefined) {
      runs.cursor = 0;
      runs.tries = 0;
    }
    const global = patterns[priority]!;
    let count = 0;
    for (let start = nextMatch(rule, re, global, input, runs); start !== -1; start = nextMatch(rule, re, global, input, runs)) {
      const end = re.lastIndex;
      // A rule without a validator takes its match as it is: no span pair made for it.
      const span = rule.validate === undefined ? undefined : rule.validate(input, start, end);
      if (rule.validate !== undefined && span === undefined) continue;
      raw.push({ detector: rule.detector, type: rule.detector, marker: BUILTIN_MARKERS[rule.detector], start: span === undefined ? start : span[0], end: span === undefined ? end : span[1] });
      if (++count >= limits.maxMatches) {
        scannedLength = Math.min(scannedLength, span === undefined ? end : span[1]);
        break;
      }
    }
  }
  // The matcher's work of all the patterns together, within this scan's cap and what the request has left.
  const work = { left: Math.min(limits.maxPatternWork, budget === undefined ? Infinity : budget.left), spent: 0 };
  // A loop, not forEach: forEach's callback closure was made on every scan, custom patterns or none.
  for (const pattern of custom) {
    let count = 0;
    const scanned = pattern.forEachMatch(
      input,
      (start, end) => {
        raw.push({ detector: 'Custom', type: pattern.name, marker: pattern.marker, start, end });
        if (++count < limits.maxMatches) return true;
        scannedLength = Math.min(scannedLength, end);
        return false;
      },
      work,
    );
    scannedLength = Math.min(scannedLength, scanned);
  }
  if (budget !== undefined) {
    budget.left -= work.spent;
    budget.spent += work.spent;
  }
  const findings = mergeOverlaps(raw, scannedLength);
  const capped = findings.length > limits.maxMatches ? findings.slice(0, limits.maxMatches) : findings;
  if (capped.length < findings.length) scannedLength = Math.min(scannedLength, capped[capped.length - 1]!.end);
  return { findings: capped, scannedLength, complete: scannedLength === text.length, patternWork: work.spent };
}

/** The text passes the rule's pre-filters (each a necessary condition for a match, checked by a test). */
function worthRunning(rule: BuiltinRule, shape: TextShape, input: string, hint: RegExp | undefined): boolean {
  if (rule.shape !== undefined && (shape.bits & rule.shape) !== rule.shape) return false;
  if (rule.oneOf !== undefined && !holdsOne(shape, rule.oneOf)) return false;
  if (rule.needsDigit === true && shape.digits === 0) return false;
  if (rule.minDigits !== undefined && shape.digits < rule.minDigits) return false;
  // The searches last, cheapest first: a substring, then the hint's pattern.
  if (rule.requires !== undefined && !includesOne(rule.requires, shape, input)) return false;
  return hint === undefined || hint.test(input);
}

/** The text holds one of `needles`; each needle's characters are looked up first, which costs no search. */
function includesOne(needles: readonly string[], shape: TextShape, input: string): boolean {
  for (let i = 0; i < needles.length; i++) {
    const needle = needles[i]!;
    if (holdsAll(shape, needle) && input.includes(needle)) return true;
  }
  return false;
}

/**
 * Where the rule's next match from `re.lastIndex` on starts, or -1; it leaves `re.lastIndex` at
 * the match's end (as a global pattern's exec does). An anchored rule's pattern is sticky and
 * tried only where its anchor says a match can start: at each next anchor character, at the start
 * it gives; for a digit rule given the text's digit runs (`runs`), before the next runs its digit
 * anchor accepts. A sticky try is a test(), not an exec(): the start is known, and test() builds
 * no match array nor the matched string.
 */
function nextMatch(rule: BuiltinRule, re: RegExp, global: RegExp, text: string, runs: TextShape | undefined): number {
  if (runs !== undefined) return nextDigitMatch(rule.digitAnchor!, re, global, text, runs);
  const anchor = rule.anchor;
  if (anchor === undefined) return re.exec(text)?.index ?? -1;
  const floor = re.lastIndex;
  for (let at = text.indexOf(anchor.char, floor); at !== -1; at = text.indexOf(anchor.char, at + 1)) {
    const start = anchor.start(text, at, floor);
    if (start === -1) continue;
    re.lastIndex = start;
    if (re.test(text)) return start;
  }
  return -1;
}

/**
 * nextMatch for a digit rule: tries its sticky pattern `lead` characters before each digit run
 * (from `runs.cursor` on) that the anchor accepts, in text order, not before `re.lastIndex` (the
 * end of the previous match). Every match starts at one of these places (the anchor's claim), so
 * the first that matches is the match a global pattern would find next. Past MOST_DIGIT_TRIES
 * tries in one scan the rule goes on with its global pattern from there (the same matches).
 */
function nextDigitMatch(anchor: DigitAnchor, re: RegExp, global: RegExp, text: string, runs: TextShape): number {
  const floor = re.lastIndex;
  if (runs.tries > MOST_DIGIT_TRIES) return globalMatchFrom(re, global, text, floor);
  const fewest = anchor.lead[0];
  const most = anchor.lead[1];
  for (let k = runs.cursor; k < runs.runs; k++) {
    const at = runs.runStart[k]!;
    if (at - fewest < floor) continue;
    const length = runs.runLength[k]!;
    if (length < anchor.run[0] || length > anchor.run[1] || runs.chainRest[k]! < anchor.chain) continue;
    if (anchor.after !== '' && anchor.afterCodes[text.charCodeAt(at + length)] !== 1) continue;
    for (let start = Math.max(at - most, floor); start <= at - fewest; start++) {
      if (start < at && anchor.beforeCodes[text.charCodeAt(at - 1)] !== 1) continue;
      if (++runs.tries > MOST_DIGIT_TRIES) return globalMatchFrom(re, global, text, floor);
      re.lastIndex = start;
      if (!re.test(text)) continue;
      runs.cursor = k + 1;
      return start;
    }
  }
  runs.cursor = runs.runs;
  return -1;
}

/**
 * Tries a digit rule makes from its anchor in one scan before it runs its global pattern instead.
 * A try is a call from JavaScript into the regular expression engine: on a text dense with
 * candidates (a 4 KiB list of version numbers "1.2 1.2 ...", each a candidate for IPv4) the tries
 * cost more than the one pass of the global pattern, which makes the same attempts inside the
 * engine (that text redacted 1.4–1.65× slower than b14a08e before this bound, in two measurements).
 */
const MOST_DIGIT_TRIES = 24;

/** The global pattern's next match from `floor`, its end left in `re.lastIndex` as a sticky try leaves it. */
function globalMatchFrom(re: RegExp, global: RegExp, text: string, floor: number): number {
  global.lastIndex = floor;
  const m = global.exec(text);
  if (m === null) return -1;
  re.lastIndex = global.lastIndex;
  return m.index;
}

const stickyFlags = (pattern: RegExp): string => `${pattern.flags.replace('g', '')}y`;

/** This isolate's one text shape, reused by every scan (a scan runs to its end synchronously). */
const SHAPE = newTextShape();

/**
 * Orders matches and folds overlapping ones into the first (longest, then highest-priority) so no
 * part of either survives. `raw` is in priority order and Array.prototype.sort is stable: matches
 * of the same span keep it.
 */
function mergeOverlaps(raw: Finding[], limit: number): Finding[] {
  if (raw.length > SORTED_IN_PLACE) raw.sort(byStartThenLongest);
  else if (raw.length > 1) insertionSort(raw);
  // The findings and their array are this scan's own, made in scanText: merged and kept in place, not copied.
  let kept = 0;
  for (let i = 0; i < raw.length; i++) {
    const finding = raw[i]!;
    if (finding.start >= limit) break;
    const last = kept === 0 ? undefined : raw[kept - 1]!;
    if (last !== undefined && finding.start < last.end) {
      if (finding.end > last.end) last.end = finding.end;
      continue;
    }
    raw[kept++] = finding;
  }
  raw.length = kept;
  return raw;
}

const byStartThenLongest = (a: Finding, b: Finding): number => a.start - b.start || b.end - a.end;

/**
 * Up to this many matches (a prompt's few) are sorted here: Array.prototype.sort allocates its
 * work state per call (~0.9 KB for 4 matches, more than the rest of such a scan's findings).
 */
const SORTED_IN_PLACE = 16;

/** Stable, as Array.prototype.sort: an element moves only past those that order strictly after it. */
function insertionSort(raw: Finding[]): void {
  for (let i = 1; i < raw.length; i++) {
    const f = raw[i]!;
    let j = i - 1;
    while (j >= 0 && byStartThenLongest(raw[j]!, f) > 0) {
      raw[j + 1] = raw[j]!;
      j--;
    }
    raw[j + 1] = f;
  }
}

/** The text with each finding replaced by its marker (and the unscanned rest by UNSCANNED_MARKER), with the findings counted by type: one walk. */
function applyFindings(text: string, result: ScanResult): RedactResult {
  let out = '';
  let at = 0;
  const counts: Record<string, number> = {};
  for (const f of result.findings) {
    out += text.slice(at, f.start) + f.marker;
    at = f.end;
    // Own counts only: a custom pattern may be named `constructor` or `toString` (Object.prototype's).
    counts[f.type] = (Object.hasOwn(counts, f.type) ? (counts[f.type] as number) : 0) + 1;
  }
  const end = Math.max(at, result.scannedLength);
  out += text.slice(at, end);
  if (!result.complete && end < text.length) out += UNSCANNED_MARKER;
  return { text: out, counts, complete: result.complete };
}
