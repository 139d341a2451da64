import { describe, expect, it, vi } from 'vitest';
import { compareIds } from './id-order.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789./-';

describe('compareIds', () => {
  it('orders plain identifiers as localeCompare does: every string of up to 2 characters, and 4,000 random ones up to 16', () => {
    const all = [''];
    for (const a of ALPHABET) {
      all.push(a);
      for (const b of ALPHABET) all.push(a + b);
    }
    let seed = 11;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor((seed / 2147483648) * n);
    };
    for (let i = 0; i < 4000; i++) {
      let s = '';
      for (let n = 1 + next(16); n > 0; n--) s += ALPHABET[next(ALPHABET.length)];
      all.push(s);
    }
    // Equal sorted lists: the two comparators agree on the order of every pair in the set.
    expect([...all].sort(compareIds)).toEqual([...all].sort((a, b) => a.localeCompare(b)));
    for (const [a, b] of [['a-b', 'a.b'], ['a.b', 'a/b'], ['a/b', 'a0'], ['a9', 'aa'], ['a', 'a-'], ['model-10', 'model-9'], ['team-1/x', 'team-10/a']]) {
      expect(Math.sign(compareIds(a as string, b as string))).toBe(Math.sign((a as string).localeCompare(b as string)));
    }
  });

  it('does not call localeCompare for plain identifiers, and does for anything else (case, _, :, non-ASCII)', () => {
    const spy = vi.spyOn(String.prototype, 'localeCompare');
    try {
      compareIds('team-1/route.a', 'team-1/route-b');
      expect(spy).not.toHaveBeenCalled();
      compareIds('team-1/Route', 'team-1/route');
      expect(spy).toHaveBeenCalledTimes(1);
      for (const [a, b] of [['A', 'b'], ['a_b', 'a-b'], ['a:1', 'a.1'], ['é', 'f']]) {
        expect(compareIds(a as string, b as string)).toBe((a as string).localeCompare(b as string));
      }
    } finally {
      spy.mockRestore();
    }
  });
});
