/**
 * What one pass over a text tells the built-in rules' pre-filters: which ASCII characters it holds,
 * how many ASCII digits, and a few shapes of its digit runs. A text with a digit in it (most prompts
 * that hold an e-mail address, a card or a phone number) used to run every digit rule's pattern over
 * the whole text; a rule whose shape the text lacks now skips it (bench/results/capwork-s11-2026-12-06.md).
 * The pass also lists where the digit runs are, so a digit rule that does run is tried only at the
 * few places its matches can start (builtin-rules.ts DigitAnchor; bench/results/scan-s13-2026-12-06.md).
 */

/** A maximal run of exactly 3 ASCII digits (SSN's and SIN's first group, a NANP number's exchange). */
export const RUN3 = 1;
/** A maximal run of exactly 4 digits (Aadhaar's groups). */
export const RUN4 = 2;
/** A run of 7 or more digits (a Spanish DNI/NIE). */
export const RUN7 = 4;
/** 13 digits in a chain, each next to the one before or one space or dash apart (a payment card). */
export const GROUP13 = 8;
/** An upper-case ASCII letter, then at most one space, then a digit (IBAN, UK NINO). */
export const UPPER_DIGIT = 16;
/** A digit, a dot, a digit (IPv4). */
export const DIGIT_DOT_DIGIT = 32;
/** A plus sign, then a digit 1-9 (an international phone number). */
export const PLUS_DIGIT = 64;

export interface TextShape {
  /** The shapes above the text has, as bits. */
  bits: number;
  /** ASCII digits in the text (a text over SHAPE_MAX_LENGTH: up to MOST_DIGITS_ASKED). */
  digits: number;
  /** Which ASCII characters the text holds: bit (c & 31) of word (c >> 5); a character from 128 up sets some bit of word 3 (too many is safe). */
  readonly seen: Int32Array;
  /** How many digit runs the tables below hold; -1 for a text over SHAPE_MAX_LENGTH (no tables). */
  runs: number;
  /** Where each maximal run of ASCII digits starts, in text order. */
  readonly runStart: Int32Array;
  /** The digits in each run. */
  readonly runLength: Int32Array;
  /** The digits from each run's start to the end of its chain (digits at most one space or dash apart, as GROUP13). */
  readonly chainRest: Int32Array;
  /** The first run a digit rule's scan has not yet looked at (detector-set.ts nextDigitMatch). */
  cursor: number;
  /** The places that scan has tried its pattern at so far. */
  tries: number;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Every shape above: what a text too long to take the pass over is taken to have. */
const EVERY_SHAPE = RUN3 | RUN4 | RUN7 | GROUP13 | UPPER_DIGIT | DIGIT_DOT_DIGIT | PLUS_DIGIT;

/**
 * Longest text the pass runs over. Longer texts hold every shape and character more often than
 * not, and the rule patterns run over them cost far more than the call: there the pass (~4 ns a
 * character) is overhead, so they are taken to hold everything, and only the digits are counted.
 */
export const SHAPE_MAX_LENGTH = 4096;

/** The shape of `text`, written into `into` (reused: a scan runs to its end synchronously). */
export function textShape(text: string, into: TextShape): TextShape {
  if (text.length > SHAPE_MAX_LENGTH) {
    into.seen.fill(-1);
    into.bits = EVERY_SHAPE;
    into.digits = FIRST_DIGIT.test(text) ? countDigits(text, MOST_DIGITS_ASKED) : 0;
    into.runs = -1;
    return into;
  }
  // The characters seen, by 32-character word, in locals rather than the array. Lower-case letters
  // (most of a prose text) are recorded too, with one OR: a needle such as 'bearer' or 'xai-' is then
  // skipped without a search on most texts (each search is a call, ~13 ns on a short string).
  let w0 = 0;
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;
  let bits = 0;
  let digits = 0;
  let run = 0;
  let chain = 0;
  let runs = 0;
  let chainFirst = 0;
  const { runStart, runLength } = into;
  const length = text.length;
  const units = unitsOf(text);
  for (let i = 0; i < length; i++) {
    const c = units[i]!;
    if (c >= 48 && c <= 57) {
      if (run === 0 && i > 0) {
        const before = units[i - 1]!;
        if (before === 43 /* + */ && c !== 48) bits |= PLUS_DIGIT;
        else if (before === 46 /* . */ && i > 1 && isDigit(units[i - 2]!)) bits |= DIGIT_DOT_DIGIT;
        if ((before >= 65 && before <= 90) || (before === 32 && i > 1 && units[i - 2]! >= 65 && units[i - 2]! <= 90)) bits |= UPPER_DIGIT;
      }
      if (run === 0) runStart[runs] = i;
      w1 |= 1 << (c - 32);
      digits++;
      run++;
      chain++;
      continue;
    }
    if (c >= 96) {
      w3 |= 1 << c;
      if (run === 0) continue;
    } else if (c >= 64) w2 |= 1 << (c - 64);
    else if (c >= 32) w1 |= 1 << (c - 32);
    else w0 |= 1 << c;
    if (run === 0) continue;
    bits |= runBits(run);
    runLength[runs++] = run;
    run = 0;
    // One space or dash between two digits keeps the chain going.
    if ((c === 32 || c === 45) && i + 1 < length && isDigit(units[i + 1]!)) continue;
    if (chain >= 13) bits |= GROUP13;
    endChain(into, chainFirst, runs);
    chainFirst = runs;
    chain = 0;
  }
  if (run > 0) {
    bits |= runBits(run);
    runLength[runs++] = run;
  }
  if (chain >= 13) bits |= GROUP13;
  endChain(into, chainFirst, runs);
  into.runs = runs;
  const { seen } = into;
  seen[0] = w0;
  seen[1] = w1;
  seen[2] = w2;
  seen[3] = w3;
  into.bits = bits;
  into.digits = digits;
  return into;
}

/**
 * The text's UTF-16 code units in this isolate's one buffer (a scan runs to its end
 * synchronously): the pass reads them from a typed array, cheaper per character than charCodeAt,
 * which checks the string's representation each time (1 KB of prose redacts ~9 % cheaper;
 * bench/results/scan-s13-2026-12-06.md). A native copy ('utf16le' keeps lone surrogates as they
 * are) costs ~80 ns a call whatever the length, so texts shorter than NATIVE_COPY_FROM (a model
 * name, a date) are copied here.
 */
function unitsOf(text: string): Uint16Array {
  if (text.length < NATIVE_COPY_FROM) {
    for (let i = 0; i < text.length; i++) UNITS[i] = text.charCodeAt(i);
    return UNITS;
  }
  UNIT_BYTES.write(text, 0, 'utf16le');
  if (!LITTLE_ENDIAN) UNIT_BYTES.subarray(0, text.length * 2).swap16();
  return UNITS;
}

const NATIVE_COPY_FROM = 32;
const UNITS = new Uint16Array(SHAPE_MAX_LENGTH);
const UNIT_BYTES = Buffer.from(UNITS.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes chainRest for the runs [first, end) of one chain: what is left of it from each run on. */
function endChain(into: TextShape, first: number, end: number): void {
  let rest = 0;
  for (let k = end - 1; k >= first; k--) {
    rest += into.runLength[k]!;
    into.chainRest[k] = rest;
  }
}

const FIRST_DIGIT = /\d/;
/** The most digits a rule asks for (builtin-rules.ts minDigits; checked by a test): counting stops there. */
export const MOST_DIGITS_ASKED = 13;

/** ASCII digits in `text`, counted up to `enough`. */
function countDigits(text: string, enough: number): number {
  let n = 0;
  for (let i = 0; i < text.length && n < enough; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

const runBits = (run: number): number => (run === 3 ? RUN3 : run === 4 ? RUN4 : run >= 7 ? RUN7 : 0);

/** Most digit runs a text of SHAPE_MAX_LENGTH can hold: each but the last is followed by a non-digit. */
const MOST_RUNS = SHAPE_MAX_LENGTH / 2 + 1;

export const newTextShape = (): TextShape => ({
  bits: 0,
  digits: 0,
  seen: new Int32Array(4),
  runs: 0,
  runStart: new Int32Array(MOST_RUNS),
  runLength: new Int32Array(MOST_RUNS),
  chainRest: new Int32Array(MOST_RUNS),
  cursor: 0,
  tries: 0,
});

/** The text holds every character of `chars` (ASCII; any other character counts as held). */
export function holdsAll(shape: TextShape, chars: string): boolean {
  for (let i = 0; i < chars.length; i++) {
    const c = chars.charCodeAt(i);
    if (c < 128 && (shape.seen[c >> 5]! & (1 << (c & 31))) === 0) return false;
  }
  return true;
}

/** The text holds at least one character of `chars` (ASCII). */
export function holdsOne(shape: TextShape, chars: string): boolean {
  for (let i = 0; i < chars.length; i++) {
    const c = chars.charCodeAt(i);
    if (c >= 128 || (shape.seen[c >> 5]! & (1 << (c & 31))) !== 0) return true;
  }
  return false;
}
