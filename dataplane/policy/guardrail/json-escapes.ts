import type { Span } from './span.js';

/**
 * Tool-call arguments are JSON text, and JSON escapes (`\u0040`, `\u0020`, `\n`) spell characters a
 * detector must see as themselves: `ann\u0040example.com` is the address the tool (or a gateway
 * that decodes the arguments for its client) reads. So arguments are scanned decoded, and what is
 * found is mapped back to the raw text, where a mask replaces whole escapes (the JSON stays valid).
 */
interface Decoded {
  text: string;
  /** Where each decoded character starts in the raw text; one more entry, the raw length, at the end. */
  at: number[];
  /** Where an escape cut off by the end of the raw text starts (the raw length when none is). */
  tail: number;
}

const SIMPLE: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const HEX4 = /^[0-9a-fA-F]{4}$/;
const HEX_PREFIX = /^[0-9a-fA-F]{0,3}$/;

/**
 * Decodes every backslash escape, inside strings or not: outside a string one is not valid JSON
 * anyway, and decoding it only shows the detectors more. Undefined when there is none to decode.
 */
function decode(raw: string): Decoded | undefined {
  if (!raw.includes('\\')) return undefined;
  const chars: string[] = [];
  const at: number[] = [];
  let tail = raw.length;
  const keep = (ch: string, i: number): void => {
    chars.push(ch);
    at.push(i);
  };
  for (let i = 0; i < raw.length; ) {
    const ch = raw.charAt(i);
    if (ch !== '\\') {
      keep(ch, i++);
      continue;
    }
    const e = raw.charAt(i + 1);
    if (e === 'u' && HEX4.test(raw.slice(i + 2, i + 6))) {
      keep(String.fromCharCode(parseInt(raw.slice(i + 2, i + 6), 16)), i);
      i += 6;
      continue;
    }
    const simple = SIMPLE[e];
    if (simple !== undefined) {
      keep(simple, i);
      i += 2;
      continue;
    }
    // An escape the text ends in the middle of (a stream's fragment): its rest may still come.
    if (e === '' || (e === 'u' && i + 6 > raw.length && HEX_PREFIX.test(raw.slice(i + 2)))) tail = Math.min(tail, i);
    keep(ch, i++);
  }
  at.push(raw.length);
  return { text: chars.join(''), at, tail };
}

/** The spans `scan` finds in the decoded text of `raw`, as positions in `raw`. */
export function scanDecoded<S extends Pick<Span, 'start' | 'end'>>(raw: string, scan: (text: string) => S[]): S[] {
  const d = decode(raw);
  if (d === undefined) return scan(raw);
  return scan(d.text).map((s) => ({ ...s, start: d.at[s.start] ?? raw.length, end: d.at[s.end] ?? raw.length }));
}

/**
 * Where a stream may cut held arguments so that the last `window` decoded characters stay held:
 * the window counts what the detectors see (an escape is six characters of JSON for one of text),
 * and a cut never falls inside an escape nor at one the text ends in the middle of, so that what
 * stays held decodes as it will whole.
 */
export function windowStart(raw: string, window: number): number {
  const d = decode(raw);
  if (d === undefined) return Math.max(0, raw.length - window);
  return Math.min(d.at[Math.max(0, d.text.length - window)] ?? 0, d.tail);
}
