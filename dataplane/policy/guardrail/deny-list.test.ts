import { describe, expect, it } from 'vitest';
import { DenyList } from './deny-list.js';

describe('DenyList', () => {
  it('finds whole words and phrases whatever separates them, longest phrase first', () => {
    const list = new DenyList(['project falcon', 'project falcon x', 'zebra']);
    const text = 'About PROJECT-falcon X and zebras, not zebra.';
    const { spans, complete } = list.find(text);
    expect(complete).toBe(true);
    expect(spans.map((s) => text.slice(s.start, s.end))).toEqual(['PROJECT-falcon X', 'zebra']);
  });

  it('reads at most maxInputLength characters and finds at most maxMatches, saying where it stopped', () => {
    const list = new DenyList(['falcon'], { maxInputLength: 1000, maxMatches: 3 });
    const many = list.find('falcon '.repeat(10));
    expect(many.spans).toHaveLength(3);
    expect(many).toMatchObject({ complete: false, scannedLength: 'falcon falcon falcon'.length });
    const long = list.find(`${'x '.repeat(600)}falcon`);
    expect(long).toMatchObject({ spans: [], complete: false, scannedLength: 1000 });
  });
});
