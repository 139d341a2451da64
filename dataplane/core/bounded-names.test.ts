import { describe, expect, it } from 'vitest';
import { boundedNames, MAX_SHOWN_NAME_LENGTH, MAX_SHOWN_NAMES } from './bounded-names.js';

describe('boundedNames', () => {
  it('returns a list within bounds as it is', () => {
    const names = ['harassment', 'violence'];
    expect(boundedNames(names)).toBe(names);
    expect(boundedNames([])).toEqual([]);
  });

  it('cuts long names and counts the names past the limit in the last entry', () => {
    const long = 'z'.repeat(MAX_SHOWN_NAME_LENGTH + 1);
    expect(boundedNames(['a', long])).toEqual(['a', `${'z'.repeat(MAX_SHOWN_NAME_LENGTH - 1)}…`]);
    const many = Array.from({ length: 100 }, (_, i) => `n${i}`);
    const out = boundedNames(many);
    expect(out).toHaveLength(MAX_SHOWN_NAMES);
    expect(out.slice(0, -1)).toEqual(many.slice(0, MAX_SHOWN_NAMES - 1));
    expect(out.at(-1)).toBe(`+${100 - (MAX_SHOWN_NAMES - 1)} more`);
    expect(boundedNames(out)).toEqual(out);
    expect(boundedNames(many.slice(0, MAX_SHOWN_NAMES))).toHaveLength(MAX_SHOWN_NAMES);
  });
});
