import type { ScanResult } from './detector-types.js';

/**
 * Characters that look like (or hide inside) what the detectors match but are not what their
 * patterns name. A reader (a model, a person) reads through them, so the detectors do too: a text
 * holding any is scanned folded and what is found is mapped back onto the text as written. The set
 * is stated by Unicode properties rather than picked by example (a test checks it against them):
 *
 * - every space separator (Zs: no-break, narrow no-break, thin, ideographic spaces …) reads as a space;
 * - every decimal digit (Nd: Arabic-Indic ٤, Extended Arabic-Indic ۴, Devanagari ४, full-width ４,
 *   mathematical 𝟒 …) reads as its ASCII digit;
 * - every default-ignorable code point (zero-width space, joiners, word joiner, soft hyphen,
 *   bidirectional controls, variation selectors, tags …) is left out;
 * - the full-width forms of ASCII (U+FF01–FF5E: `＠`, `．`, `Ａ`, `ａ` …) read as ASCII, as NFKC
 *   has them, and so do the small forms of `@ . + - ( )` (U+FE6B `﹫`, U+FE52, U+FE62, U+FE63,
 *   U+FE59, U+FE5A);
 * - every dash (the Unicode `Dash` property: hyphens, en and em dashes, the minus sign, the
 *   figure dash …) reads as `-`;
 * - an HTML character reference (`&#64;`, `&#x40;`, `&commat;` …) reads as the character it names,
 *   folded as that character is.
 *
 * And, where they stand among ASCII letters or digits, the Cyrillic and Greek letters that look
 * like a Latin letter (LOOKALIKES) read as it. Before, only NBSP, U+202F, full-width digits and
 * five invisible characters were folded: `＠`, `﹫` and the digits of other scripts escaped the
 * e-mail, phone, card and IBAN detectors; so, until dashes and look-alike letters were folded, did
 * a card grouped with en dashes and a key spelt `ѕk-…` with a Cyrillic `ѕ`.
 */
const ND_ZEROS: readonly number[] = [
  0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946,
  0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x10d40,
  0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x116d0, 0x116da, 0x11730, 0x118e0, 0x11950, 0x11bf0, 0x11c50, 0x11d50,
  0x11da0, 0x11de0, 0x11f50, 0x16130, 0x16a60, 0x16ac0, 0x16b50, 0x16d70, 0x1ccf0, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e4f0,
  0x1e5f1, 0x1e950, 0x1fbf0,
];
/** Space separators but U+0020 itself. */
const SPACES: readonly number[] = [0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x202f, 0x205f, 0x3000];
/** Default-ignorable code points, as inclusive ranges. */
const IGNORABLE: readonly (readonly [number, number])[] = [
  [0xad, 0xad], [0x34f, 0x34f], [0x61c, 0x61c], [0x115f, 0x1160], [0x17b4, 0x17b5], [0x180b, 0x180f], [0x200b, 0x200f], [0x202a, 0x202e], [0x2060, 0x206f],
  [0x3164, 0x3164], [0xfe00, 0xfe0f], [0xfeff, 0xfeff], [0xffa0, 0xffa0], [0xfff0, 0xfff8], [0x1bca0, 0x1bca3], [0x1d173, 0x1d17a], [0xe0000, 0xe0fff],
];
/** Dashes (the Unicode Dash property) but `-` itself, U+FE63 and U+FF0D (folded as a small and a full-width form). */
const DASHES: readonly number[] = [
  0x58a, 0x5be, 0x1400, 0x1806, 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2053, 0x207b, 0x208b, 0x2212, 0x2e17, 0x2e1a, 0x2e3a, 0x2e3b, 0x2e40,
  0x2e5d, 0x301c, 0x3030, 0x30a0, 0xfe31, 0xfe32, 0xfe58, 0x10d6e, 0x10ead,
];
/** Small form variants of what the detectors' patterns name (NFKC maps each to the ASCII character). */
const SMALL_FORMS: readonly (readonly [number, string])[] = [[0xfe6b, '@'], [0xfe52, '.'], [0xfe62, '+'], [0xfe63, '-'], [0xfe59, '('], [0xfe5a, ')']];

/**
 * The code points `fold` changes, as inclusive ranges, each with what its first code point becomes
 * ('' for left out; a digit or a full-width form: what the next ones become counts up from it).
 * Ranges, not a table of code points: 4,096 tags alone would be a map's worth of heap in every
 * isolate that loads the detectors (the data plane and its capture worker).
 */
const FOLD_RANGES: readonly (readonly [number, number, string])[] = [
  ...ND_ZEROS.map((zero) => [zero, zero + 9, '0'] as const),
  ...SPACES.map((c) => [c, c, ' '] as const),
  ...IGNORABLE.map(([from, to]) => [from, to, ''] as const),
  [0xff01, 0xff5e, '!'],
  ...SMALL_FORMS.map(([c, to]) => [c, c, to] as const),
  ...DASHES.map((c) => [c, c, '-'] as const),
];

/**
 * Cyrillic and Greek letters that look like a Latin letter (Unicode's confusables.txt maps each to
 * it), by that letter. They are read as it only inside a run of ASCII letters, ASCII digits and
 * such letters that holds an ASCII letter or digit (`jоhn`, `ѕk-…`, `DЕ89`): a word wholly in
 * Cyrillic or Greek (`сор`, `Και`) is the word of its own language, and reading it as Latin would
 * make a deny list flag ordinary Russian and Greek text. Each is one UTF-16 unit, folded to one:
 * positions do not move.
 */
export const LOOKALIKES: Readonly<Record<string, string>> = {
  a: '\u0430\u03b1', c: '\u0441', d: '\u0501', e: '\u0435', h: '\u04bb', i: '\u0456\u03b9', j: '\u0458', l: '\u04cf', o: '\u043e\u03bf', p: '\u0440\u03c1',
  q: '\u051b', s: '\u0455', v: '\u03bd', w: '\u051d', x: '\u0445', y: '\u0443\u04af\u03b3',
  A: '\u0410\u0391', B: '\u0412\u0392', C: '\u0421', E: '\u0415\u0395', H: '\u041d\u0397\u04ba', I: '\u0406\u0399\u04c0', J: '\u0408', K: '\u041a\u039a',
  M: '\u041c\u039c', N: '\u039d', O: '\u041e\u039f', P: '\u0420\u03a1', Q: '\u051a', S: '\u0405', T: '\u0422\u03a4', W: '\u051c', X: '\u0425\u03a7',
  Y: '\u04ae\u03a5', Z: '\u0396',
};
/** The look-alikes lie in U+0370–U+052F (Greek and Cyrillic): what each reads as, by its offset from there (0: none). */
const LOOK_FROM = 0x370;
const LOOK_AS = new Uint8Array(0x530 - LOOK_FROM);
for (const [latin, letters] of Object.entries(LOOKALIKES)) for (const letter of letters) LOOK_AS[letter.charCodeAt(0) - LOOK_FROM] = latin.charCodeAt(0);
const LOOK_CLASS = Object.values(LOOKALIKES).join('');

/**
 * Named character references for what the detectors' patterns name (HTML's names): the numeric
 * ones (`&#64;`, `&#x40;`) name any character.
 */
const NAMED_REFERENCES: Readonly<Record<string, number>> = {
  commat: 0x40, period: 0x2e, plus: 0x2b, lpar: 0x28, rpar: 0x29, colon: 0x3a, sol: 0x2f, lowbar: 0x5f,
  nbsp: 0xa0, hyphen: 0x2010, dash: 0x2010, ndash: 0x2013, mdash: 0x2014, minus: 0x2212,
};

/** What a look-alike letter reads as next to ASCII letters or digits, or undefined for any other character. */
export function lookalikeAs(c: number): string | undefined {
  const as = c >= LOOK_FROM && c < LOOK_FROM + LOOK_AS.length ? LOOK_AS[c - LOOK_FROM]! : 0;
  return as === 0 ? undefined : String.fromCharCode(as);
}

/** What `fold` makes of code point `c` ('' for left out), or undefined when it keeps it. */
export function foldedAs(c: number): string | undefined {
  for (const [from, to, first] of FOLD_RANGES) {
    if (c < from || c > to) continue;
    return first === '' ? '' : String.fromCharCode(first.charCodeAt(0) + (c - from));
  }
  return undefined;
}

/**
 * One character to fold, a look-alike letter next to an ASCII letter or digit (a run that mixes
 * them has one such pair), or an HTML character reference: the test a text takes first (most texts
 * hold none: one test, no copy).
 */
export const FOLDED = new RegExp(
  `[${[...FOLD_RANGES]
    .sort((a, b) => a[0] - b[0])
    .map(([from, to]) => (from === to ? `\\u{${from.toString(16)}}` : `\\u{${from.toString(16)}}-\\u{${to.toString(16)}}`))
    .join('')}]|[${LOOK_CLASS}](?:[A-Za-z0-9]|(?<=[A-Za-z0-9].))|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|${Object.keys(NAMED_REFERENCES).join('|')});`,
  'u',
);

/**
 * What `fold` does with each UTF-16 unit: KEEP it, LEAVE it out, look at the PAIR it starts (a
 * high surrogate whose code points include one to fold), or put the ASCII code given instead.
 */
const KEEP = 0;
const LEAVE = 1;
const PAIR = 2;
/** A look-alike letter: kept, and read as its Latin letter if its run turns out to mix scripts. */
const LOOK = 3;
/** `&`: a character reference may start here. */
const REFERENCE = 4;
/** Made on the first text to fold: a data plane with no content policy (or no such text) never pays for it. */
let byUnit: Uint8Array | undefined;
function unitTable(): Uint8Array {
  if (byUnit !== undefined) return byUnit;
  const table = new Uint8Array(0x10000);
  for (const [from, to] of FOLD_RANGES) {
    for (let c = from; c <= to; c++) {
      if (c > 0xffff) table[0xd800 + ((c - 0x10000) >> 10)] = PAIR;
      else {
        const as = foldedAs(c)!;
        table[c] = as === '' ? LEAVE : as.charCodeAt(0);
      }
    }
  }
  for (const letter of LOOK_CLASS) table[letter.charCodeAt(0)] = LOOK;
  table[0x26] = REFERENCE;
  byUnit = table;
  return table;
}

export interface Folded {
  text: string;
  /**
   * Where the folded text's positions move in the original: from folded position `from[k]` on (to
   * the next entry), a position `i` is `i + shift[k]` in the original. Only characters left out and
   * two-unit digits (a surrogate pair read as one ASCII digit) shift what follows, so most folded
   * texts (full-width punctuation, no-break spaces) have none: the mapping is not one entry a
   * character (a 100 KB text with one no-break space made an array of 100 K numbers before).
   */
  from: number[];
  shift: number[];
}

/**
 * This isolate's buffer for folded text (a scan runs to its end synchronously), grown as needed up
 * to KEPT_UNITS; a longer text (up to the detectors' 1 Mi input cap) gets a buffer of its own, so
 * one large prompt does not leave megabytes held for good.
 */
let units = new Uint16Array(0);
const KEPT_UNITS = 1 << 16;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The text folded, or undefined when it holds nothing to fold. One pass over its units into a
 * buffer decoded once, not a string and a position per character: CJK prose has full-width
 * punctuation every few characters, and 100 KB of it redacted in ~30 ms p50 that way (~1.2 ms now;
 * bench/results/fold-s25-2026-12-07.md).
 */
export function fold(text: string): Folded | undefined {
  if (!FOLDED.test(text)) return undefined;
  const length = text.length;
  if (units.length < length && length <= KEPT_UNITS) units = new Uint16Array(Math.min(KEPT_UNITS, Math.max(length, units.length * 2, 4096)));
  const out = length <= units.length ? units : new Uint16Array(length);
  const table = unitTable();
  const from: number[] = [];
  const shift: number[] = [];
  let n = 0;
  let shifted = 0;
  let looks = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    let action = table[c]!;
    let width = 1;
    if (action === LOOK) {
      out[n++] = c;
      looks++;
      continue;
    }
    if (action === REFERENCE) {
      width = characterReference(text, i);
      if (width === 0) {
        out[n++] = c;
        continue;
      }
      // The character it names, folded as the character itself would be.
      const point = referenced;
      const to = foldedAs(point);
      const before = n;
      if (to !== undefined) {
        if (to !== '') out[n++] = to.charCodeAt(0);
      } else if (point > 0xffff) {
        out[n++] = 0xd800 + ((point - 0x10000) >> 10);
        out[n++] = 0xdc00 + ((point - 0x10000) & 0x3ff);
      } else {
        out[n++] = point;
        if (isLook(point)) looks++;
      }
      i += width - 1;
      shifted += width - (n - before);
      if (from[from.length - 1] === n) shift[shift.length - 1] = shifted;
      else {
        from.push(n);
        shift.push(shifted);
      }
      continue;
    }
    if (action === PAIR) {
      const point = text.codePointAt(i)!;
      const to = point > 0xffff ? foldedAs(point) : undefined;
      if (to === undefined) action = KEEP;
      else {
        width = 2;
        action = to === '' ? LEAVE : to.charCodeAt(0);
      }
    }
    if (action === KEEP) {
      out[n++] = c;
      continue;
    }
    if (action !== LEAVE) out[n++] = action;
    i += width - 1;
    const before = shifted;
    shifted += action === LEAVE ? width : width - 1;
    if (shifted === before) continue;
    // Several left out in a row: one entry, the last shift.
    if (from[from.length - 1] === n) shift[shift.length - 1] = shifted;
    else {
      from.push(n);
      shift.push(shifted);
    }
  }
  if (looks > 0) readMixedRuns(out, n);
  const bytes = Buffer.from(out.buffer, out.byteOffset, n * 2);
  if (!LITTLE_ENDIAN) bytes.swap16();
  return { text: bytes.toString('utf16le'), from, shift };
}

/** The character the last reference characterReference read names. */
let referenced = 0;

/**
 * The length of the HTML character reference at `at` (`&#64;`, `&#x40;`, `&commat;`: a model reads
 * it as the character, as a browser shows it), its character left in `referenced`; 0 when there
 * is none (a bare `&`, an unknown name, no `;`, a number naming no character).
 */
function characterReference(text: string, at: number): number {
  let i = at + 1;
  if (text.charCodeAt(i) === 0x23 /* # */) {
    i++;
    const hex = (text.charCodeAt(i) | 32) === 0x78; /* x */
    if (hex) i++;
    const first = i;
    let point = 0;
    for (; i - first < (hex ? 6 : 7); i++) {
      const u = text.charCodeAt(i);
      const digit = u >= 48 && u <= 57 ? u - 48 : hex && (u | 32) >= 97 && (u | 32) <= 102 ? (u | 32) - 87 : -1;
      if (digit < 0) break;
      point = point * (hex ? 16 : 10) + digit;
    }
    if (i === first || text.charCodeAt(i) !== 0x3b /* ; */ || point === 0 || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) return 0;
    referenced = point;
    return i + 1 - at;
  }
  // Names are at most 6 letters: the `;` is looked for that far only (searched for to the end of the
  // text, every `&` of a text holding no `;` read the rest of it: a 400 KB prompt of `&a` took 1.4 s).
  let end = i;
  while (end - i <= 6 && end < text.length && text.charCodeAt(end) !== 0x3b /* ; */) end++;
  if (end - i > 6 || end >= text.length) return 0;
  const name = text.slice(i, end);
  if (!Object.hasOwn(NAMED_REFERENCES, name)) return 0;
  referenced = NAMED_REFERENCES[name]!;
  return end + 1 - at;
}

const isAsciiAlnum = (u: number): boolean => (u >= 48 && u <= 57) || ((u | 32) >= 97 && (u | 32) <= 122);
const isLook = (u: number): boolean => u >= LOOK_FROM && u < LOOK_FROM + LOOK_AS.length && LOOK_AS[u - LOOK_FROM] !== 0;

/** Reads the look-alikes of each run of ASCII letters, digits and look-alikes that holds an ASCII letter or digit as their Latin letters, in place. */
function readMixedRuns(out: Uint16Array, n: number): void {
  let start = -1;
  let mixed = false;
  for (let k = 0; k <= n; k++) {
    const u = k < n ? out[k]! : 0;
    const ascii = isAsciiAlnum(u);
    if (ascii || isLook(u)) {
      if (start < 0) {
        start = k;
        mixed = false;
      }
      mixed ||= ascii;
      continue;
    }
    if (start >= 0 && mixed) {
      for (let j = start; j < k; j++) {
        const v = out[j]!;
        if (isLook(v)) out[j] = LOOK_AS[v - LOOK_FROM]!;
      }
    }
    start = -1;
  }
}

/** A position in the folded text as a position in the original (a finding ends where the next kept character starts). */
export function unfoldAt(folded: Folded, i: number): number {
  const { from, shift } = folded;
  // The last entry at or before i (binary search: a text can hold many characters left out).
  let lo = 0;
  let hi = from.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (from[mid]! <= i) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? i : i + shift[lo - 1]!;
}

/** A scan of the folded text as positions in the original. */
export function unfold(result: ScanResult, folded: Folded): ScanResult {
  if (folded.from.length === 0) return result;
  return {
    ...result,
    findings: result.findings.map((f) => ({ ...f, start: unfoldAt(folded, f.start), end: unfoldAt(folded, f.end) })),
    scannedLength: unfoldAt(folded, result.scannedLength),
  };
}
