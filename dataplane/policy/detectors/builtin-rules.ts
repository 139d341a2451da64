import { isIPv6 } from 'node:net';
import { ibanChecksumValid, luhnDigit, luhnValidIn, spanishIdValid, verhoeffValidIn } from './checksums.js';
import type { BuiltinDetector } from './detector-types.js';
import { DIGIT_DOT_DIGIT, GROUP13, PLUS_DIGIT, RUN3, RUN4, RUN7, UPPER_DIGIT } from './text-shape.js';

/**
 * One built-in pattern. Built-ins run on the JavaScript engine for speed, so each pattern obeys a
 * discipline that keeps every match attempt bounded by a constant (checked by a test): no
 * unbounded quantifier (`*`, `+`, `{n,}`), and a look-behind so attempts start only at a token
 * boundary. A scan therefore costs O(input × longest token), never the backtracking blow-up.
 * User patterns do not get this trust: they run on RE2 (custom-pattern.ts).
 */
export interface BuiltinRule {
  detector: BuiltinDetector;
  /** Sticky-free global pattern; flags must include `g`. */
  pattern: RegExp;
  /**
   * Substrings one of which every text the rule can match contains (cheap pre-filter, checked by a
   * test). Each starts with a character rare in prose where the rule allows: a substring search
   * stops at every occurrence of the needle's first character ('earer' stopped at every 'e').
   */
  requires?: readonly string[];
  /** The pattern cannot match without an ASCII digit: a text without one skips the rule (cheap pre-filter). */
  needsDigit?: true;
  /** Fewest ASCII digits an accepted match holds (checked by a test): a text with fewer skips the rule. */
  minDigits?: number;
  /**
   * A pattern every text the rule can match contains (checked by a test): a text without it skips
   * the rule, and for a rule with neither `requires` nor `needsDigit` it is the rule's part of the
   * combined test that skips every rule on a text none can match.
   */
  hint?: string;
  /**
   * Shapes (text-shape.ts bits) every text the rule can match has (checked by a test): a text
   * without one of them skips the rule, found in the one pass that also counts the digits.
   */
  shape?: number;
  /** Characters (ASCII) every text the rule can match holds at least one of (checked by a test). */
  oneOf?: string;
  /**
   * Where a match can start, found without trying the pattern at every position: every match
   * holds `char`, and `start(text, at, floor)` is where a match holding the `char` at `at` would
   * start, or -1 when none can start at or after `floor` (the end of the previous match). The scan
   * then tries the pattern (sticky) only there: the same matches, in the same order, as trying it
   * everywhere (checked by a test).
   */
  anchor?: { char: string; start: (text: string, at: number, floor: number) => number };
  /**
   * Where a digit rule's matches can start, read off the text's digit runs (text-shape.ts) instead
   * of trying the pattern at every position (checked by a test on every raw match): the scan tries
   * the pattern (sticky) only `lead` characters before the start of each run that looks as given.
   */
  digitAnchor?: DigitAnchor;
  /**
   * Checks a raw match (checksums, number ranges) and may narrow it: returns the span to redact,
   * relative to the text, or undefined to reject the match.
   */
  validate?: (text: string, start: number, end: number) => readonly [number, number] | undefined;
}

/**
 * What every raw match of a digit rule (before its validator) looks like around its first ASCII
 * digit. That digit always starts a digit run: the patterns' look-behinds keep a match from
 * starting right after a digit, and what stands between a match's start and its first digit is no
 * digit.
 */
export interface DigitAnchor {
  /**
   * Fewest and most characters from a match's start to its first digit. At most one apart: the
   * starts of two runs are at least two apart, so the candidates of successive runs stay in text
   * order, as the matches a global pattern finds.
   */
  lead: readonly [number, number];
  /** The characters that can stand just before the first digit when the match starts before it. */
  before: string;
  /** Fewest and most digits in the first digit's run. */
  run: readonly [number, number];
  /** Fewest digits from the first digit to the end of its chain (text-shape.ts chainRest). */
  chain: number;
  /** The characters that can stand just after the first digit's run; '' when any can, or none. */
  after: string;
  /** `before` and `after` as tables by character code (1: in it), made once by rule(): a scan looks them up for every run. */
  readonly beforeCodes: Uint8Array;
  readonly afterCodes: Uint8Array;
}

/** A digit anchor as a rule states it: its character tables are made from it. */
export type DigitAnchorSpec = Omit<DigitAnchor, 'beforeCodes' | 'afterCodes'>;

function withCodes(spec: DigitAnchorSpec): DigitAnchor {
  const codes = (chars: string): Uint8Array => {
    const table = new Uint8Array(128);
    for (const c of chars) table[c.charCodeAt(0)] = 1;
    return table;
  };
  return { ...spec, beforeCodes: codes(spec.before), afterCodes: codes(spec.after) };
}

const whole = (start: number, end: number): readonly [number, number] => [start, end];
// The validators read the match's digits where they stand (charCodeAt) rather than through a
// string of them (slice, then a regex replace): a prompt with a card or a phone number in it runs
// several of them per scan.
const isDigitCode = (c: number): boolean => c >= 48 && c <= 57;

/** ASCII digits in text[start, end). */
function digitCount(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (isDigitCode(text.charCodeAt(i))) n++;
  return n;
}

/** The digit after `skip` digits of text[start, end), as a character code; -1 if there is none. */
function digitAt(text: string, start: number, end: number, skip: number): number {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (isDigitCode(c) && skip-- === 0) return c;
  }
  return -1;
}

/** A card number: 13-19 digits, an issuer prefix, Luhn. Tries the whole match, then shorter group-aligned prefixes. */
function validateCard(text: string, start: number, end: number): readonly [number, number] | undefined {
  for (let stop = end; ; ) {
    if (cardDigits(text, start, stop)) return [start, stop];
    // The next shorter prefix ends before the last space or dash left in it.
    let i = stop - 1;
    while (i > start && text.charCodeAt(i) !== 32 && text.charCodeAt(i) !== 45) i--;
    if (i <= start) return undefined;
    stop = i;
  }
}

/** The digits of text[start, stop) are a card number: 13-19 of them, an issuer prefix, Luhn. */
function cardDigits(text: string, start: number, stop: number): boolean {
  // One pass from the right counts the digits and sums them for Luhn (it was a count, then a sum).
  let count = 0;
  let sum = 0;
  for (let i = stop - 1; i >= start; i--) {
    const c = text.charCodeAt(i);
    if (!isDigitCode(c)) continue;
    sum += luhnDigit(c - 48, (count & 1) === 1);
    count++;
  }
  if (count < 13 || count > 19 || sum % 10 !== 0) return false;
  let four = 0;
  for (let i = start, seen = 0; seen < 4; i++) {
    const c = text.charCodeAt(i);
    if (isDigitCode(c)) {
      four = four * 10 + (c - 48);
      seen++;
    }
  }
  return issuerPrefix(four);
}

/** Major-issuer prefixes (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro), from a card's first four digits. */
function issuerPrefix(four: number): boolean {
  const two = Math.floor(four / 100);
  switch (Math.floor(four / 1000)) {
    case 2: return four >= 2221 && four <= 2720;
    case 3: return two === 30 || two === 34 || two === 35 || two === 36 || two === 37 || two === 38 || two === 39;
    case 4: return true;
    case 5: return two >= 50 && two <= 59;
    case 6: return true;
    default: return false;
  }
}

/** IBAN lengths per country (ISO 13616 registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22,
  GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30,
  KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31,
  MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SC: 31, SE: 24,
  SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
};

/** An IBAN: takes exactly the country's length of characters from the match, then the mod-97 check. */
function validateIban(text: string, start: number, end: number): readonly [number, number] | undefined {
  const length = IBAN_LENGTHS[text.slice(start, start + 2)];
  if (length === undefined) return undefined;
  let compact = '';
  let i = start;
  while (i < end && compact.length < length) {
    if (text[i] !== ' ') compact += text[i];
    i++;
  }
  if (compact.length !== length || /[A-Za-z0-9]/.test(text[i] ?? '')) return undefined;
  return ibanChecksumValid(compact) ? [start, i] : undefined;
}

function validateIpv6(text: string, start: number, end: number): readonly [number, number] | undefined {
  const candidate = text.slice(start, end);
  // "::1", "fe80::1" or "a::b" (C++ scopes look like that) identify no one: a routable address has three or more groups.
  if ((candidate.match(/[0-9A-Fa-f]{1,4}/g) ?? []).length < 3) return undefined;
  return isIPv6(candidate) ? whole(start, end) : undefined;
}

/** A key-shaped token contains both letters and digits (keeps hyphenated words out). */
function validateMixedToken(text: string, start: number, end: number): readonly [number, number] | undefined {
  const token = text.slice(start, end);
  return /\d/.test(token) && /[A-Za-z]/.test(token) ? whole(start, end) : undefined;
}

/** HTTP Basic credentials: the token must decode to `user:password`. */
function validateBasic(text: string, start: number, end: number): readonly [number, number] | undefined {
  const token = text.slice(start, end).replace(/^[Bb]asic[ \t]{1,8}/, '');
  if (token.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(token, 'base64').toString('latin1');
  return /^[\x20-\x7e]{1,256}:[\x20-\x7e]{0,256}$/.test(decoded) ? whole(start, end) : undefined;
}

const isAlphanumericCode = (c: number): boolean => isDigitCode(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** text[start, end) without the characters other than [0-9A-Za-z]. */
function alphanumerics(text: string, start: number, end: number): string {
  let out = '';
  let from = start;
  for (let i = start; i < end; i++) {
    if (isAlphanumericCode(text.charCodeAt(i))) continue;
    out += text.slice(from, i);
    from = i + 1;
  }
  return from === start ? text.slice(start, end) : out + text.slice(from, end);
}

/** A check read over the match where it stands (checksums.ts *In). */
const checkedIn = (check: (text: string, start: number, end: number) => boolean) =>
  (text: string, start: number, end: number): readonly [number, number] | undefined =>
    check(text, start, end) ? whole(start, end) : undefined;

const checked = (check: (digits: string) => boolean) =>
  (text: string, start: number, end: number): readonly [number, number] | undefined =>
    check(alphanumerics(text, start, end)) ? whole(start, end) : undefined;

/** North American numbers: area code and exchange start with 2-9 (NANP), so 123-456-7890 is not a phone. */
function validateNanp(text: string, start: number, end: number): readonly [number, number] | undefined {
  const skip = digitCount(text, start, end) === 11 ? 1 : 0;
  return digitAt(text, start, end, skip) >= 50 && digitAt(text, start, end, skip + 3) >= 50 ? whole(start, end) : undefined;
}

function validateInternational(text: string, start: number, end: number): readonly [number, number] | undefined {
  const count = digitCount(text, start, end);
  return count >= 8 && count <= 15 ? whole(start, end) : undefined;
}

/** A character of an e-mail address's local part: [\p{L}\p{N}._%+-], one code point. */
const LOCAL_PART_LETTER = /^[\p{L}\p{N}]$/u;
const isLocalPartUnit = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
const EMAIL_LOCAL_MAX = 64;

/**
 * The start of the e-mail pattern's local part before the '@' at `at`: the whole run of
 * local-part characters before it (the pattern's look-behind lets a match start only there), of
 * 1 to 64 code points, not reaching back before `floor`; else -1.
 */
function emailStart(text: string, at: number, floor: number): number {
  let i = at;
  let points = 0;
  while (i > 0) {
    let width = 1;
    let c = text.charCodeAt(i - 1);
    if (c >= 0xdc00 && c <= 0xdfff && i >= 2) {
      const high = text.charCodeAt(i - 2);
      if (high >= 0xd800 && high <= 0xdbff) {
        c = ((high - 0xd800) << 10) + (c - 0xdc00) + 0x10000;
        width = 2;
      }
    }
    if (!(c < 128 ? isLocalPartUnit(c) : LOCAL_PART_LETTER.test(String.fromCodePoint(c)))) break;
    if (++points > EMAIL_LOCAL_MAX || i - width < floor) return -1;
    i -= width;
  }
  return points === 0 ? -1 : i;
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const TOKEN_BEFORE = '(?<![A-Za-z0-9_-])';
const TOKEN_AFTER = '(?![A-Za-z0-9_-])';
const AWS_KEY_PREFIX = '(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)';
const IPV4_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

// Every rule has every field, in one order (undefined when it has none): the scan reads them from
// ~25 rules at the same sites, which stay monomorphic loads on one hidden class instead of
// megamorphic stub-cache lookups on one class per combination of fields.
type RuleExtra = Omit<BuiltinRule, 'detector' | 'pattern' | 'digitAnchor'> & { digitAnchor?: DigitAnchorSpec };

const rule = (detector: BuiltinDetector, source: string, extra: RuleExtra = {}, flags = 'g'): BuiltinRule => ({
  detector,
  pattern: new RegExp(source, flags),
  requires: extra.requires,
  needsDigit: extra.needsDigit,
  minDigits: extra.minDigits,
  hint: extra.hint,
  shape: extra.shape,
  oneOf: extra.oneOf,
  anchor: extra.anchor,
  digitAnchor: extra.digitAnchor === undefined ? undefined : withCodes(extra.digitAnchor),
  validate: extra.validate,
});

/** Every built-in rule, in priority order: when matches overlap, the earlier-starting one wins and absorbs the rest. */
export const BUILTIN_RULES: readonly BuiltinRule[] = [
  // Credentials first: a key or token often contains digit runs other detectors would claim.
  rule('Credential', '-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:[^-]|-(?!----)){1,16384}(?:-----END (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----)?', { requires: ['PRIVATE KEY'] }),
  rule('Credential', `${TOKEN_BEFORE}eyJ[A-Za-z0-9_-]{4,2048}\\.eyJ[A-Za-z0-9_-]{4,8192}\\.[A-Za-z0-9_-]{0,1024}${TOKEN_AFTER}`, { requires: ['eyJ'] }),
  rule('Credential', '(?<![A-Za-z0-9])[Bb]earer[ \\t]{1,8}[A-Za-z0-9._~+/-]{16,4096}={0,2}(?![A-Za-z0-9._~+/=-])', { requires: ['Bearer', 'bearer'] }),
  rule('Credential', '(?<![A-Za-z0-9])[Bb]asic[ \\t]{1,8}[A-Za-z0-9+/]{8,1024}={0,2}(?![A-Za-z0-9+/=])', { requires: ['Basic', 'basic'], validate: validateBasic }),
  rule('Credential', `${TOKEN_BEFORE}sk-[A-Za-z0-9_-]{20,300}${TOKEN_AFTER}`, { requires: ['sk-'], validate: validateMixedToken }),
  rule('Credential', `${TOKEN_BEFORE}(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,247}${TOKEN_AFTER}`, { requires: ['k_'] }),
  rule('Credential', `${TOKEN_BEFORE}(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244}|glpat-[A-Za-z0-9_-]{20,50})${TOKEN_AFTER}`, { requires: ['_', 'glpat-'], hint: 'gh[pousr]_|github_pat_|glpat-', oneOf: '_-' }),
  rule('Credential', `${TOKEN_BEFORE}xox[abprs]-[A-Za-z0-9-]{10,250}${TOKEN_AFTER}`, { requires: ['xox'], validate: validateMixedToken }),
  rule('Credential', `${TOKEN_BEFORE}AIza[0-9A-Za-z_-]{35}${TOKEN_AFTER}`, { requires: ['AIza'] }),
  rule('Credential', `${TOKEN_BEFORE}(?:hf_[A-Za-z0-9]{30,40}|gsk_[A-Za-z0-9]{40,60}|xai-[A-Za-z0-9]{40,100}|pplx-[A-Za-z0-9]{40,60}|r8_[A-Za-z0-9]{37})${TOKEN_AFTER}`, { requires: ['_', 'xai-', 'pplx-'], validate: validateMixedToken, needsDigit: true, hint: 'hf_|gsk_|xai-|pplx-|r8_', oneOf: '_-' }),
  rule('Credential', `(?<![A-Za-z0-9])${AWS_KEY_PREFIX}[A-Z0-9]{16}(?![A-Za-z0-9])`, { hint: AWS_KEY_PREFIX, oneOf: 'A' }),
  rule('Credential', '(?<![A-Za-z0-9])aws_?secret_?access_?key["\']?[ \\t]{0,4}[:=][ \\t]{0,4}["\']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])', { hint: '[Aa][Ww][Ss]_?[Ss][Ee][Cc][Rr][Ee][Tt]', oneOf: ':=' }, 'gi'),
  rule('Credential', '(?<![A-Za-z0-9])AccountKey=[A-Za-z0-9+/]{40,100}={0,2}', { requires: ['AccountKey='] }),

  // Unicode letters too: internationalised local parts and domains (zoë@exämple.de) are addresses as well.
  rule('Email', '(?<![\\p{L}\\p{N}._%+\\-])[\\p{L}\\p{N}._%+\\-]{1,64}@(?:[\\p{L}\\p{N}](?:[\\p{L}\\p{N}\\-]{0,61}[\\p{L}\\p{N}])?\\.){1,8}\\p{L}{2,24}(?![\\p{L}\\p{N}\\-])', { requires: ['@'], anchor: { char: '@', start: emailStart } }, 'gu'),

  rule('IBAN', '(?<![A-Za-z0-9])[A-Z]{2}\\d{2}(?: ?[A-Z0-9]){11,30}', { validate: validateIban, needsDigit: true, minDigits: 2, shape: UPPER_DIGIT, digitAnchor: { lead: [2, 2], before: UPPER, run: [2, Infinity], chain: 2, after: '' } }),
  rule('PaymentCard', '(?<![\\d.])(?:\\d[ -]?){12,18}\\d(?!\\d)', { validate: validateCard, needsDigit: true, minDigits: 13, shape: GROUP13, digitAnchor: { lead: [0, 0], before: '', run: [1, 19], chain: 13, after: '' } }),

  rule('NationalID', '(?<![\\w-])(?!000|666|9)\\d{3}-(?!00)\\d{2}-(?!0000)\\d{4}(?![\\w-])', { needsDigit: true, minDigits: 9, shape: RUN3, digitAnchor: { lead: [0, 0], before: '', run: [3, 3], chain: 9, after: '-' } }), // US SSN
  rule('NationalID', '(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\\d{2} ?\\d{2} ?\\d{2} ?[A-D](?![A-Za-z0-9])', { needsDigit: true, minDigits: 6, shape: UPPER_DIGIT, digitAnchor: { lead: [2, 3], before: `${UPPER} `, run: [2, 6], chain: 6, after: ' ABCD' } }), // UK NINO
  rule('NationalID', '(?<![\\w-])[1-79]\\d{2}[ -]\\d{3}[ -]\\d{3}(?![\\w-])', { validate: checkedIn(luhnValidIn), needsDigit: true, minDigits: 9, shape: RUN3, digitAnchor: { lead: [0, 0], before: '', run: [3, 3], chain: 9, after: ' -' } }), // Canada SIN
  rule('NationalID', '(?<![\\w-])[2-9]\\d{3}[ -]\\d{4}[ -]\\d{4}(?![\\w-])', { validate: checkedIn(verhoeffValidIn), needsDigit: true, minDigits: 12, shape: RUN4, digitAnchor: { lead: [0, 0], before: '', run: [4, 4], chain: 12, after: ' -' } }), // India Aadhaar
  rule('NationalID', '(?<![A-Za-z0-9])(?:\\d{8}|[XYZ]\\d{7})-?[A-Z](?![A-Za-z0-9])', { validate: checked(spanishIdValid), needsDigit: true, minDigits: 7, shape: RUN7, digitAnchor: { lead: [0, 1], before: 'XYZ', run: [7, 8], chain: 7, after: `-${UPPER}` } }), // Spain DNI/NIE

  rule('Phone', '(?<![\\w+])\\+[1-9]\\d{0,14}(?:[ .-]?\\(\\d{1,6}\\)\\d{0,10}|[ .-]\\d{1,10}){0,6}(?!\\d)', { requires: ['+'], validate: validateInternational, needsDigit: true, minDigits: 8, shape: PLUS_DIGIT, digitAnchor: { lead: [1, 1], before: '+', run: [1, 15], chain: 1, after: '' } }),
  rule('Phone', '(?<![\\w+.-])(?:1[ .-])?(?:\\(\\d{3}\\) ?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}(?![\\w-]|\\.\\d)', { validate: validateNanp, needsDigit: true, minDigits: 10, shape: RUN3, digitAnchor: { lead: [0, 1], before: '(', run: [1, 3], chain: 1, after: ' .-)' } }),

  rule('IPAddress', `(?<![\\d.])(?:${IPV4_OCTET}\\.){3}${IPV4_OCTET}(?!\\d|\\.\\d)`, { requires: ['.'], needsDigit: true, minDigits: 4, shape: DIGIT_DOT_DIGIT, digitAnchor: { lead: [0, 0], before: '', run: [1, 3], chain: 1, after: '.' } }),
  rule('IPAddress', '(?<![\\w:.])[0-9A-Fa-f:]{3,39}(?![\\w:])', { requires: [':'], validate: validateIpv6 }),
];
