import { describe, expect, it } from 'vitest';
import { NamespaceShares } from './namespace-shares.js';

describe('NamespaceShares', () => {
  it('admits a namespace up to half of each bound, counts each namespace apart, and frees what leaves', () => {
    const shares = new NamespaceShares(10, 1000);
    for (let i = 0; i < 5; i++) {
      expect(shares.admits('a', 1, 100)).toBe(true);
      shares.add('a', 1, 100);
    }
    expect(shares.admits('a', 1, 0)).toBe(false);
    expect(shares.admits('a', 0, 1)).toBe(false);
    expect(shares.admits('b', 1, 500)).toBe(true);
    expect(shares.admits('b', 1, 501)).toBe(false);
    shares.remove('a', 1, 100);
    expect(shares.admits('a', 1, 100)).toBe(true);
    shares.remove('a', 4, 400);
    shares.remove('a', 5, 500); // more than it holds: forgotten, not negative
    expect(shares.admits('a', 5, 500)).toBe(true);
  });

  it('a queue of one still takes a record', () => {
    expect(new NamespaceShares(1, 100).admits('a', 1, 10)).toBe(true);
  });
});
