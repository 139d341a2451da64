import { DEFAULT_DETECTOR_LIMITS, type DetectorSet, type Finding, type RedactResult, UNSCANNED_MARKER } from '../detectors/index.js';
import { scanDecoded } from '../guardrail/json-escapes.js';

/**
 * Inline binary is never recorded, in any mode: the detectors cannot see into it, so under Redacted
 * it would be content kept unredacted. A data: URL with base64 (parameters too: `;name=scan.png`),
 * base64 under a key that carries it (chat `input_audio.data` and `file.file_data`, Anthropic
 * `source.data`, Responses `input_file.file_data`, images' `b64_json`), or any long run of base64.
 */
const DATA_URL = /^data:[^,]{0,200};base64,/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
/** Shorter base64 is kept unless its key says it is a payload: ids and keys look alike. */
const MIN_BASE64 = 32;
const LONG_BASE64 = 256;
const BINARY_KEYS: ReadonlySet<string> = new Set(['data', 'file_data', 'b64_json']);
const D = 100; // 'd'
const BACKSLASH = 92;
const COLON = 58;
const SURROGATE = /[\ud800-\udfff]/;
/** A `\uXXXX` escape in a string value's text: the value is (or holds) JSON text, read decoded. */
const UNICODE_ESCAPE = /\\u[0-9a-fA-F]{4}/;
/** Raw characters of one value decoded for the detectors: as far as they scan (the rest is unscanned). */
const DECODE_MAX = DEFAULT_DETECTOR_LIMITS.maxInputLength;

/** Matches replaced by type, and whether a detector cap left some text unscanned; summed over a record's parts. */
export interface RedactionTally {
  counts: Record<string, number>;
  unscanned: boolean;
}

/**
 * JSON text as JSON.stringify wrote it (no whitespace between tokens), with every string value
 * passed through the detectors (keys are kept: they are the API's field names); binary payloads
 * become a size marker. Without detectors (mode Full) strings are kept as they are. The text is
 * redacted as text: each string literal is read where it stands (decoded only when it holds an
 * escape), and only those that change are written anew, so there is no object tree to build, walk
 * or serialise again. The same text, counts and order as JSON.stringify of the parsed value with
 * each string replaced (the redaction tests compare the two over generated values).
 *
 * `limit` (UTF-16 units): once the text written reaches past it, the walk stops after that string
 * and returns what it has, a prefix of the whole result: a record keeps at most maxRecordBytes of
 * it, so redacting the rest of a 10 MiB prompt would be spent on text that is cut away. The cut is
 * at a string's end, never inside one, so no string is written unredacted; what was not walked is
 * not counted in `tally`.
 */
export function redactJsonText(json: string, detectors: DetectorSet | undefined, tally: RedactionTally, limit = Infinity): string {
  let out: string | undefined;
  let copied = 0;
  for (let start = json.indexOf('"'); start !== -1; ) {
    let end = json.indexOf('"', start + 1);
    while (end !== -1 && escaped(json, end)) end = json.indexOf('"', end + 1);
    // Not JSON.stringify's text (never expected): refused (record_error), never written unscanned.
    if (end === -1) throw new Error('redactJsonText: an unterminated string');
    const after = end + 1;
    // A key is followed by its colon; a value by `,`, `]`, `}` or the end.
    if (json.charCodeAt(after) !== COLON) {
      const raw = json.slice(start + 1, end);
      const plain = !raw.includes('\\');
      const value = plain ? raw : (JSON.parse(json.slice(start, after)) as string);
      const literal = binary(value, json, start) ? `"[BINARY ${value.length} chars omitted]"` : replacement(value, plain, detectors, tally);
      if (literal !== undefined) {
        out = `${out ?? ''}${json.slice(copied, start)}${literal}`;
        copied = after;
      }
      if ((out?.length ?? 0) + after - copied > limit) return out === undefined ? json.slice(0, after) : out + json.slice(copied, after);
    }
    start = json.indexOf('"', after);
  }
  return out === undefined ? json : out + json.slice(copied);
}

/** The string value whose literal starts at `start` is inline binary (DATA_URL above). */
function binary(s: string, json: string, start: number): boolean {
  if (s.charCodeAt(0) === D && DATA_URL.test(s)) return true;
  if (s.length < MIN_BASE64 || !BASE64.test(s)) return false;
  return s.length >= LONG_BASE64 || BINARY_KEYS.has(keyBefore(json, start));
}

/** The key of the member whose value starts at `start` ('' in an array); keys are short and rarely escaped. */
function keyBefore(json: string, start: number): string {
  if (json.charCodeAt(start - 1) !== COLON) return '';
  const open = json.lastIndexOf('"', start - 3);
  return open === -1 ? '' : json.slice(open + 1, start - 2);
}

/** The quote at `at` is escaped: an odd number of backslashes stand right before it. */
function escaped(json: string, at: number): boolean {
  let i = at - 1;
  while (json.charCodeAt(i) === BACKSLASH) i--;
  return (at - 1 - i) % 2 === 1;
}

/** The redaction counts as JSON.stringify writes them: their keys (detector types, custom pattern names: [A-Za-z0-9_-]) need no escape. */
export function countsJson(counts: Readonly<Record<string, number>>): string {
  let json = '';
  for (const type in counts) json += `${json === '' ? '{' : ','}"${type}":${counts[type]!}`;
  return json === '' ? '{}' : `${json}}`;
}

/**
 * What a string value becomes, as its JSON literal, or undefined when it stays as it is. `plain`:
 * its JSON text held no escape, so it holds nothing JSON.stringify escapes, and the markers are
 * ASCII: quoted as it is. Unless a cut left half a surrogate pair, which JSON.stringify escapes: an
 * unscanned tail cut at the input cap, or a private key's body cut at its bound, may; so a result
 * with any surrogate in it (rare in a prompt) goes through JSON.stringify.
 */
function replacement(s: string, plain: boolean, detectors: DetectorSet | undefined, tally: RedactionTally): string | undefined {
  if (detectors === undefined) return undefined;
  const r = UNICODE_ESCAPE.test(s) ? redactDecoded(s, detectors) : detectors.redact(s);
  for (const type in r.counts) tally.counts[type] = (tally.counts[type] ?? 0) + r.counts[type]!;
  if (!r.complete) tally.unscanned = true;
  if (r.text === s) return undefined;
  // The value itself is tested first: it is flat, and the result (a concatenation) would be
  // flattened for the test; a value with no surrogate gives a result with none (its pieces and ASCII markers).
  return plain && (!SURROGATE.test(s) || !SURROGATE.test(r.text)) ? `"${r.text}"` : JSON.stringify(r.text);
}

/**
 * A value that holds JSON escapes (tool-call arguments, a tool result that is JSON: text inside the
 * record's JSON, escaped again) redacted by what the escapes spell: `ann\u0040example.com` is the
 * address the tool reads. Found spans are mapped back onto the escaped text, where a marker replaces
 * whole escapes. Only values with a `\u` escape come here (the capture worker redacts every string
 * of a record); the decoding is linear and stops at DECODE_MAX characters, past which the text is
 * unscanned, as the detectors leave what passes their input cap.
 */
function redactDecoded(s: string, detectors: DetectorSet): RedactResult {
  const raw = s.length > DECODE_MAX ? s.slice(0, DECODE_MAX) : s;
  let complete = raw.length === s.length;
  let scanned = raw.length;
  const unscannedFrom = (decoded: string, at: number): Finding[] => (at < decoded.length ? [{ detector: 'Custom', type: '', marker: UNSCANNED_MARKER, start: at, end: decoded.length }] : []);
  const spans = scanDecoded(raw, (decoded) => {
    const r = detectors.scan(decoded);
    if (!r.complete) complete = false;
    return [...r.findings, ...unscannedFrom(decoded, r.scannedLength)];
  });
  let text = '';
  let at = 0;
  const counts: Record<string, number> = {};
  for (const f of spans) {
    // The unscanned tail's marker (type '' above): the text from there on is not kept.
    if (f.type === '') {
      scanned = f.start;
      break;
    }
    text += raw.slice(at, f.start) + f.marker;
    at = f.end;
    counts[f.type] = (counts[f.type] ?? 0) + 1;
  }
  text += raw.slice(at, Math.max(at, scanned));
  if (scanned < s.length) text += UNSCANNED_MARKER;
  return { text, counts, complete };
}
