const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/**
 * Whether JSON text (UTF-8 bytes) nests objects and arrays deeper than `max`, found in one pass
 * before JSON.parse: deep nesting is cheap to send and expensive for every recursive walk of the
 * parsed value afterwards (schema checks, token estimates, cache keys, upstream translation).
 * Strings are skipped with a native search for their closing quote. Bytes of multi-byte UTF-8
 * characters are never ASCII, so scanning bytes is exact; malformed JSON is left to JSON.parse.
 */
export function jsonDeeperThan(bytes: Uint8Array, max: number): boolean {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let depth = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === QUOTE) {
      i = closingQuote(buf, i + 1);
      if (i === -1) return false;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
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
