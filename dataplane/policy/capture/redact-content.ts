import { DEFAULT_DETECTOR_LIMITS, DEFAULT_PATTERN_WORK, type DetectorSet, type Finding, type RedactResult, UNSCANNED_MARKER } from '../detectors/index.js';
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
  // The text parts of one message (a run of them: nextMembers) are read as one text as well:
  // `runEnd` is where the last run found ends (a member before it starts no run of its own),
  // `pieces` what matches crossing a part's boundary cover of each member, by its literal's start.
  let runEnd = -1;
  let pieces: Map<number, Finding[]> | undefined;
  for (let start = json.indexOf('"'); start !== -1; ) {
    let end = json.indexOf('"', start + 1);
    while (end !== -1 && escaped(json, end)) end = json.indexOf('"', end + 1);
    // Not JSON.stringify's text (never expected): refused (record_error), never written unscanned.
    if (end === -1) throw new Error('redactJsonText: an unterminated string');
    const after = end + 1;
    // A key is followed by its colon; a value by `,`, `]`, `}` or the end.
    if (json.charCodeAt(after) !== COLON) {
      // Only a value under a text part's key looks ahead, and only to the end of its array's next
      // element: a message's one text part (the common case) costs a few characters read.
      if (detectors !== undefined && start > runEnd && partText(json, start)) {
        const more = nextMembers(json, start, after);
        if (more !== undefined) {
          const members = more.members;
          // A run cut at RUN_MAX: its last member starts the next one (its pieces of both kept), so no boundary goes unread.
          runEnd = more.cut ? members[members.length - 2]! - 1 : members[members.length - 1]!;
          pieces = withCarried(joinedPieces(json, start, after, members, detectors), start, pieces?.get(start));
        }
      }
      const raw = json.slice(start + 1, end);
      const plain = !raw.includes('\\');
      const value = plain ? raw : (JSON.parse(json.slice(start, after)) as string);
      const crossing = pieces?.get(start);
      const literal = binary(value, json, start)
        ? `"[BINARY ${value.length} chars omitted]"`
        : crossing === undefined || detectors === undefined
          ? replacement(value, plain, detectors, tally)
          : replacementWith(value, plain, crossing, detectors, tally);
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
  for (const type in r.counts) tally.counts[type] = (Object.hasOwn(tally.counts, type) ? (tally.counts[type] as number) : 0) + r.counts[type]!;
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
  const own = decodedFindings(s, detectors);
  return applySpans(s, own.findings, own.scanned, own.complete);
}

/** What a scan of `s` finds: its findings, how far it read, and whether that is all of it. */
interface OwnScan {
  findings: Finding[];
  scanned: number;
  complete: boolean;
}

/** redactDecoded's findings in `s` (by what its escapes spell), as positions in `s`. */
function decodedFindings(s: string, detectors: DetectorSet): OwnScan {
  const raw = s.length > DECODE_MAX ? s.slice(0, DECODE_MAX) : s;
  let complete = raw.length === s.length;
  let scanned = raw.length;
  const unscannedFrom = (decoded: string, at: number): Finding[] => (at < decoded.length ? [{ detector: 'Custom', type: '', marker: UNSCANNED_MARKER, start: at, end: decoded.length }] : []);
  const spans = scanDecoded(raw, (decoded) => {
    const r = detectors.scan(decoded);
    if (!r.complete) complete = false;
    return [...r.findings, ...unscannedFrom(decoded, r.scannedLength)];
  });
  const findings: Finding[] = [];
  for (const f of spans) {
    // The unscanned tail's marker (type '' above): the text from there on is not kept.
    if (f.type === '') {
      scanned = f.start;
      break;
    }
    findings.push(f);
  }
  return { findings, scanned, complete };
}

/**
 * `s` with each span replaced by its marker (a span with marker '' is removed: the rest of a match
 * whose marker stands in the part before), the text past `scanned` by UNSCANNED_MARKER; the markers
 * written counted by type.
 */
function applySpans(s: string, spans: readonly Finding[], scanned: number, complete: boolean): RedactResult {
  let text = '';
  let at = 0;
  const counts: Record<string, number> = {};
  for (const f of spans) {
    if (f.start >= scanned) break;
    text += s.slice(at, f.start) + f.marker;
    at = f.end;
    // Own counts only: a custom pattern may be named `constructor` or `toString` (Object.prototype's).
    if (f.marker !== '') counts[f.type] = (Object.hasOwn(counts, f.type) ? (counts[f.type] as number) : 0) + 1;
  }
  text += s.slice(at, Math.max(at, scanned));
  if (scanned < s.length) text += UNSCANNED_MARKER;
  return { text, counts, complete };
}

/*
 * A message's text parts are one text to the model (and to guardrail request rules, which read them
 * joined: guardrail/joined-slots.ts), so an address or card number split across two of them
 * (`"card 4111 1111"`, `" 1111 1111"`) is one to redact. In the JSON text a run of such parts is
 * the elements, one after another, of one array, each an object with a text part's text member at
 * its top level (`text`, as chat, Anthropic Messages and Responses parts carry it; `refusal`,
 * `thinking`): a chat message's `content`, an Anthropic message's content blocks or its `system`
 * blocks, a Responses input item's or output message's `content`. An element of another kind
 * between two (an image) ends the run, as it does for guardrails; so does the array's end, so
 * messages are never joined with each other.
 */
const QUOTE = 34;
const COMMA = 44;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
/** Most scans of one run joined (see joinedPieces): past 4000 matches in one message's text parts, a value split across two is not looked for. */
const JOINED_PASSES = 4;
/** Most characters of one run's literals joined and scanned together: the detectors' input cap (more is not scanned in one text). */
const RUN_MAX = DEFAULT_DETECTOR_LIMITS.maxInputLength;

/** The value whose literal starts at `start` is a member `"text":`, `"refusal":` or `"thinking":` (a key: `{` or `,` before its quote). */
function partText(json: string, start: number): boolean {
  if (json.charCodeAt(start - 1) !== COLON || json.charCodeAt(start - 2) !== QUOTE) return false;
  // Every string value of a record comes here: the key's last letter rules out most keys at once.
  const last = json.charCodeAt(start - 3);
  if (last === T) return keyAt(json, start, 'text');
  if (last === L) return keyAt(json, start, 'refusal');
  return last === G && keyAt(json, start, 'thinking');
}

const T = 116; // 't'
const L = 108; // 'l'
const G = 103; // 'g'

/** The key before the value at `start` is exactly `name`. */
function keyAt(json: string, start: number, name: string): boolean {
  const open = start - 3 - name.length;
  if (json.charCodeAt(open) !== QUOTE || !json.startsWith(name, open + 1)) return false;
  const before = json.charCodeAt(open - 1);
  return before === OPEN_BRACE || before === COMMA;
}

/** The end of the string literal that starts at `start` (after its closing quote), or -1. */
function literalEnd(json: string, start: number): number {
  let end = json.indexOf('"', start + 1);
  while (end !== -1 && escaped(json, end)) end = json.indexOf('"', end + 1);
  return end === -1 ? -1 : end + 1;
}

/**
 * The members that join the text member whose literal is [first, from) (start and end of each
 * literal, flat), or undefined when none does. Reads on from `from` to the end of that member's
 * object; while the next element of its array is an object, to that object's text member and its
 * end. Stops at any other text member, and once the run's literals reach RUN_MAX characters
 * (`cut`: more may follow).
 */
function nextMembers(json: string, first: number, from: number): { members: number[]; cut: boolean } | undefined {
  let found: number[] | undefined;
  let depth = 0;
  // In an element after the first, looking for its text member (none at its end: the run ends before it).
  let seeking = false;
  let length = from - first;
  for (let i = from; i < json.length; ) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      const end = literalEnd(json, i);
      if (end === -1) return runOf(found, false);
      if (json.charCodeAt(end) === COLON && json.charCodeAt(end + 1) === QUOTE && partText(json, end + 1)) {
        // Any other text member ends the look: nested in an element (a tool result's own parts),
        // it is no part of this run, and starts its own look when the walk comes to it. So each
        // look ends at the next text member: together they read the text once, however deep it nests.
        if (!seeking || depth !== 0) return runOf(found, false);
        const valueEnd = literalEnd(json, end + 1);
        if (valueEnd === -1) return runOf(found, false);
        (found ??= []).push(end + 1, valueEnd);
        length += valueEnd - end;
        seeking = false;
        i = valueEnd;
        continue;
      }
      i = end;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth > 0) depth--;
      else if (seeking) return runOf(found, false);
      // At least the next member joins: each boundary is read in one run or the next.
      else if (found !== undefined && length >= RUN_MAX) return runOf(found, true);
      // The element ends; `,{` after it: the array's next element is an object.
      else if (json.charCodeAt(i + 1) === COMMA && json.charCodeAt(i + 2) === OPEN_BRACE) {
        seeking = true;
        i += 3;
        continue;
      } else return runOf(found, false);
    }
    i++;
  }
  return runOf(found, false);
}

const runOf = (members: number[] | undefined, cut: boolean): { members: number[]; cut: boolean } | undefined => (members === undefined ? undefined : { members, cut });

/**
 * The run's members (the literal at [first, firstEnd) and `more`) joined and scanned as one text:
 * for each member a match crosses into or out of, the pieces of those matches in it (by its
 * literal's start; the piece where a match starts carries its marker, the others none). Undefined
 * when no match crosses a boundary. A match inside one member is left to that member's own scan,
 * which also finds what the join would hide (a card number followed by digits in the next part).
 */
function joinedPieces(json: string, first: number, firstEnd: number, more: readonly number[], detectors: DetectorSet): Map<number, Finding[]> | undefined {
  const starts = [first];
  const values = [literalValue(json, first, firstEnd)];
  for (let k = 0; k < more.length; k += 2) {
    starts.push(more[k]!);
    values.push(literalValue(json, more[k]!, more[k + 1]!));
  }
  const offsets: number[] = [];
  let joined = '';
  for (const v of values) {
    offsets.push(joined.length);
    joined += v;
  }
  offsets.push(joined.length);
  let out: Map<number, Finding[]> | undefined;
  // Findings come in text order: the member a finding starts in only moves forward.
  let a = 0;
  // A scan stopped by its match cap goes on from where it stopped while a boundary is left to read
  // (a match over one must not be missed because many came before), at most JOINED_PASSES times:
  // each pass reads the rest of the run again, so more would cost a dense message more than linear
  // work; and not once the custom patterns' work cap was spent (the next pass would have it again).
  const lastBoundary = Math.min(offsets[values.length - 1]!, RUN_MAX);
  let work = 0;
  for (let at = 0, pass = 1; ; pass++) {
    const r = detectors.scan(at === 0 ? joined : joined.slice(at));
    for (const found of r.findings) {
      const start = found.start + at;
      const end = found.end + at;
      while (offsets[a + 1]! <= start) a++;
      let b = a;
      while (offsets[b + 1]! < end) b++;
      if (a === b) continue;
      out ??= new Map();
      for (let k = a; k <= b; k++) {
        const from = offsets[k]!;
        const piece: Finding = { ...found, marker: k === a ? found.marker : '', start: Math.max(0, start - from), end: Math.min(values[k]!.length, end - from) };
        const list = out.get(starts[k]!);
        if (list === undefined) out.set(starts[k]!, [piece]);
        else list.push(piece);
      }
    }
    work += r.patternWork;
    if (r.complete || r.scannedLength === 0 || at + r.scannedLength >= lastBoundary || pass >= JOINED_PASSES || work >= DEFAULT_PATTERN_WORK) break;
    at += r.scannedLength;
  }
  return out;
}

/** A run's pieces, with those an earlier run (cut at RUN_MAX) found in its last member, which starts this one at `start`. */
function withCarried(found: Map<number, Finding[]> | undefined, start: number, carried: Finding[] | undefined): Map<number, Finding[]> | undefined {
  if (carried === undefined) return found;
  const out = found ?? new Map<number, Finding[]>();
  out.set(start, [...carried, ...(out.get(start) ?? [])].sort((x, y) => x.start - y.start || y.end - x.end));
  return out;
}

/** The string a literal spells. */
function literalValue(json: string, start: number, end: number): string {
  const raw = json.slice(start + 1, end - 1);
  return raw.includes('\\') ? (JSON.parse(json.slice(start, end)) as string) : raw;
}

/**
 * replacement() of a run's member that a match crossing its boundary covers: its own findings and
 * those pieces, overlapping ones made one (the first marker kept, so a match is counted once), and
 * the member's text written with them. The own findings come from a scan as redact() would make.
 */
function replacementWith(s: string, plain: boolean, crossing: readonly Finding[], detectors: DetectorSet, tally: RedactionTally): string | undefined {
  let own: OwnScan;
  if (UNICODE_ESCAPE.test(s)) own = decodedFindings(s, detectors);
  else {
    const r = detectors.scan(s);
    own = { findings: r.findings, scanned: r.scannedLength, complete: r.complete };
  }
  const spans: Finding[] = [];
  let i = 0;
  let j = 0;
  while (i < own.findings.length || j < crossing.length) {
    const x = own.findings[i];
    const y = crossing[j];
    const next = y === undefined || (x !== undefined && x.start <= y.start) ? (i++, x!) : (j++, y);
    const last = spans[spans.length - 1];
    if (last !== undefined && next.start < last.end) {
      if (next.end > last.end) last.end = next.end;
      if (last.marker === '' && next.marker !== '') spans[spans.length - 1] = { ...next, start: last.start, end: last.end };
      continue;
    }
    spans.push({ ...next });
  }
  const r = applySpans(s, spans, own.scanned, own.complete);
  for (const type in r.counts) tally.counts[type] = (Object.hasOwn(tally.counts, type) ? (tally.counts[type] as number) : 0) + r.counts[type]!;
  if (!r.complete) tally.unscanned = true;
  if (r.text === s) return undefined;
  return plain && (!SURROGATE.test(s) || !SURROGATE.test(r.text)) ? `"${r.text}"` : JSON.stringify(r.text);
}
