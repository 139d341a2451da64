import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/support/seeded-random.js';
import { compileContentPattern } from '../../config/content-detectors.js';
import { compileCustomPattern, UNBOUNDED_REACH, type CompiledCustomPattern } from './custom-pattern.js';
import { patternReach } from './pattern-reach.js';

function compiled(source: string): CompiledCustomPattern {
  const r = compileCustomPattern('p', source);
  if (!r.ok) throw new Error(r.error);
  return r.pattern;
}

/** The matcher over the whole text, as custom patterns were scanned before windows: the reference. */
function wholeText(source: string, text: string): Array<[number, number]> {
  const r = compileContentPattern('p', source);
  if (!r.ok) throw new Error(r.error);
  const out: Array<[number, number]> = [];
  const matcher = r.re.matcher(text);
  while (matcher.find()) if (matcher.end() > matcher.start()) out.push([matcher.start(), matcher.end()]);
  return out;
}

function windowed(pattern: CompiledCustomPattern, text: string): { matches: Array<[number, number]>; scanned: number } {
  const matches: Array<[number, number]> = [];
  const scanned = pattern.forEachMatch(text, (s, e) => matches.push([s, e]) > 0, { left: Infinity, spent: 0 });
  return { matches, scanned };
}

describe('custom pattern reach', () => {
  it('counts the code units a bounded pattern can read, and no bound for a loop', () => {
    const reach = (s: string): number | undefined => {
      const r = compileContentPattern('p', s);
      if (!r.ok) throw new Error(r.error);
      return patternReach(r.re);
    };
    expect(reach('abc')).toBe(3);
    expect(reach('a{2,5}|b')).toBe(5);
    expect(reach('(?i)[a-z0-9._%+-]{1,64}@corp\\.example\\.com')).toBe(64 + 17);
    expect(reach('\\bx.y\\b')).toBe(4); // any character may be a surrogate pair
    expect(reach('😀{1,2}')).toBe(4);
    expect(reach('a+')).toBeUndefined();
    expect(reach('x[^y]*z')).toBeUndefined();
  });
});

describe('custom patterns scanned in windows', () => {
  // Bounded patterns (found exactly, whatever their length) and unbounded ones whose matches and
  // attempts in these texts stay far below UNBOUNDED_REACH; anchors and word boundaries at every place.
  const PATTERNS = [
    '\\bab{1,3}\\b',
    '^a[bc]{0,5}',
    '(?m)^ab|cd$',
    '(?m)c{2,4}$',
    '\\Ba{2}b?',
    '(?i)x[ab ]{1,70}y',
    '[^ \\n]{3,9}\\b',
    'a|ab|abc',
    '\\b(?:ab|ba){2,5}\\B',
    '.{1,3}\\n',
    '😀[a-c]{1,2}',
    '[a-c]{2}$',
    '(?s)b.{40,60}c',
    'ab+c',
    '\\bx[ab]*y\\b',
    '\\bc\\b|\\bca?',
    '\\b(?:ab)?', // empty matches at word boundaries: the search moves on by one rune after each
  ];
  const ALPHABET = ['a', 'b', 'c', 'x', 'y', ' ', ' ', '\n', 'é', '😀', 'A', 'B'];

  it('finds exactly what the matcher finds over the whole text, on seeded random texts across leaf and chunk edges', () => {
    const next = seededRandom(2026);
    for (let round = 0; round < 60; round++) {
      const length = round % 3 === 0 ? 9000 + Math.floor(next() * 2000) : Math.floor(next() * 600);
      let text = '';
      while (text.length < length) text += ALPHABET[Math.floor(next() * ALPHABET.length)];
      for (const source of PATTERNS) {
        const want = wholeText(source, text);
        if (want.some(([s, e]) => e - s >= UNBOUNDED_REACH)) continue;
        const got = windowed(compiled(source), text);
        expect({ source, round, ...got }).toEqual({ source, round, matches: want, scanned: text.length });
      }
    }
  });

  it('finds a match longer than the windows whole when it runs to their edge (widened), and reports the text unscanned past the widest', () => {
    const long = `${'a'.repeat(9000)} key: ${'z'.repeat(3000)}\nrest`;
    const pattern = compiled('key: [^\\n]+');
    expect(windowed(pattern, long)).toEqual({ matches: wholeText('key: [^\\n]+', long), scanned: long.length });
    const tooLong = `${'a'.repeat(100)} key: ${'z'.repeat(40_000)}`;
    // From the leaf the match starts in: before the match, not after it.
    const cut = windowed(pattern, tooLong);
    expect(cut.matches).toEqual([]);
    expect(cut.scanned).toBeLessThanOrEqual(101);
  });

  it('reports a text unscanned when the whole text holds a match no window can see (a long unbounded match)', () => {
    const text = `${'q'.repeat(5000)}BEGIN ${'k'.repeat(2000)} END${'q'.repeat(5000)}`;
    const pattern = compiled('BEGIN[^E]*END');
    expect(wholeText('BEGIN[^E]*END', text)).toHaveLength(1);
    expect(windowed(pattern, text)).toEqual({ matches: [], scanned: 0 });
  });
});
