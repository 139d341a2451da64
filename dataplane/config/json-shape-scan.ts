// The scanner of JSON text's shape, in the contract folder because both sides read JSON from the
// other: the data plane its requests and answers, the operator the data planes' usage reports.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;

/** Why JSON text is refused before parsing, if it is. */
export type JsonShapeProblem = 'too_deep' | 'too_many_elements';

/**
 * Whether JSON text (UTF-8 bytes) nests objects and arrays deeper than `maxDepth`, or has more than
 * `maxElements` objects, arrays and object members, found in one pass before JSON.parse. Deep
 * nesting is cheap to send and expensive for every recursive walk of the parsed value afterwards
 * (schema checks, token estimates, cache keys, upstream translation). Width is the same for
 * JSON.parse itself: each object and each distinct key costs it about a microsecond (400,000 keys
 * in one object: 0.3 s of parsing, 0.6–0.9 s with the walks after it). Scalars inside arrays
 * (token ids) are not counted: they cost a tenth of that and are bounded by the body's size.
 * Members are counted by their colons, containers by their opening brackets. Strings are skipped
 * with a native search for their closing quote. Bytes of multi-byte UTF-8 characters are never
 * ASCII, so scanning bytes is exact; malformed JSON is left to JSON.parse.
 */
export function jsonShapeProblem(bytes: Uint8Array, maxDepth: number, maxElements: number): JsonShapeProblem | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let depth = 0;
  let elements = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === QUOTE) {
      i = closingQuote(buf, i + 1);
      if (i === -1) return undefined;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return 'too_deep';
      if (++elements > maxElements) return 'too_many_elements';
    } else if (c === COLON) {
      if (++elements > maxElements) return 'too_many_elements';
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    }
  }
  return undefined;
}

/** Index of the quote that ends a string starting at `from`, or -1. */
function closingQuote(buf: Buffer, from: number): number {
  for (let at = buf.indexOf(QUOTE, from); at !== -1; at = buf.indexOf(QUOTE, at + 1)) {
    let backslashes = 0;
    while (buf[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return -1;
}

/**
 * jsonShapeProblem for JSON already decoded to a string (an upstream answer, one stream event's
 * data). The same pass over UTF-16 code units: no character outside ASCII is one of the six looked for.
 * Written out twice rather than over a shared accessor: both run on every request or answer, and a
 * call per character (or encoding the string to bytes first) would cost more than the pass itself.
 */
export function jsonTextShapeProblem(text: string, maxDepth: number, maxElements: number): JsonShapeProblem | undefined {
  // Text this short cannot pass either bound and still parse (a level takes two characters, an
  // element at least one): most stream events are, and skip the pass, which costs half a parse.
  if (text.length <= 2 * maxDepth + 1 && text.length <= maxElements) return undefined;
  let depth = 0;
  let elements = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuoteInText(text, i + 1);
      if (i === -1) return undefined;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return 'too_deep';
      if (++elements > maxElements) return 'too_many_elements';
    } else if (c === COLON) {
      if (++elements > maxElements) return 'too_many_elements';
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    }
  }
  return undefined;
}

function closingQuoteInText(text: string, from: number): number {
  for (let at = text.indexOf('"', from); at !== -1; at = text.indexOf('"', at + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return -1;
}
