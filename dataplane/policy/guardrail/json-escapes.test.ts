import { describe, expect, it } from 'vitest';
import { scanDecoded, windowStart } from './json-escapes.js';
import type { Span } from './span.js';

/** A detector for the literal `a@b`, as positions in the text it is given. */
const at = (text: string): Span[] => [...text.matchAll(/a@b/g)].map((m) => ({ type: 'T', marker: '[T]', start: m.index, end: m.index + 3 }));

describe('JSON escapes in tool-call arguments', () => {
  it('finds what escapes spell and maps it back over whole escapes', () => {
    const raw = '{"x":"a\\u0040b","y":"a\\u0040\\u0062"}';
    const spans = scanDecoded(raw, at);
    expect(spans.map((s) => raw.slice(s.start, s.end))).toEqual(['a\\u0040b', 'a\\u0040\\u0062']);
    expect(scanDecoded('{"x":"a@b"}', at).map((s) => s.start)).toEqual([6]);
    // An escaped backslash is not the start of an escape: `\\u0040` reads as a backslash and `u0040`.
    expect(scanDecoded('"a\\\\u0040b"', at)).toEqual([]);
  });

  it('holds the window in decoded characters, and never cuts inside an escape nor at one the text ends in the middle of', () => {
    const raw = 'ab\\u0040cd\\n';
    expect([0, 1, 2, 3, 4, 5, 6].map((w) => windowStart(raw, w))).toEqual([12, 10, 9, 8, 2, 1, 0]);
    expect(windowStart('abc\\u00', 0)).toBe(3);
    expect(windowStart('abc\\', 0)).toBe(3);
    expect(windowStart('abc', 1)).toBe(2);
  });
});
