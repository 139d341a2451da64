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

  it('folds look-alikes as the detectors do: full-width letters, invisible characters inside a word, digits of other scripts (each let a phrase by before)', () => {
    const list = new DenyList(['project falcon', 'build 42', '\uff3a\uff45\uff42\uff52\uff41']);
    const text = 'a \uff30\uff32\uff2f\uff2a\uff25\uff23\uff34 \uff46\uff41\uff4c\uff43\uff4f\uff4e; pro\u200bject fal\u00adcon\u200d; build \u0664\u0662; build\u3000\u{1d7d2}\u{1d7d0} x; zebra.';
    const { spans, complete } = list.find(text);
    expect(complete).toBe(true);
    expect(spans.map((s) => text.slice(s.start, s.end))).toEqual([
      '\uff30\uff32\uff2f\uff2a\uff25\uff23\uff34 \uff46\uff41\uff4c\uff43\uff4f\uff4e',
      'pro\u200bject fal\u00adcon\u200d',
      'build \u0664\u0662',
      'build\u3000\u{1d7d2}\u{1d7d0}',
      'zebra',
    ]);
  });

  it('reads Cyrillic and Greek look-alikes inside a Latin word as Latin, but not a word wholly in Cyrillic or Greek (ordinary Russian and Greek are not flagged)', () => {
    const list = new DenyList(['project falcon', 'cop', 'top', 'kai', 'pop']);
    const text = 'pr\u043eject f\u0430lcon; Сор и ТОР-1, рор, ΚΑΙ και; c\u043ep.';
    expect(list.find(text).spans.map((s) => text.slice(s.start, s.end))).toEqual(['pr\u043eject f\u0430lcon', 'c\u043ep']);
    for (const plain of ['Сор и мусор убрали у моря, а ТОР стоит на холме.', 'ΚΑΙ ΤΟ ΠΑΙΔΙ ΕΙΠΕ: «Καλημέρα», και έφυγε.']) expect(list.find(plain).spans).toEqual([]);
    const refs = 'a proj&#101;ct f&#x61;lcon here';
    expect(list.find(refs).spans.map((s) => refs.slice(s.start, s.end))).toEqual(['proj&#101;ct f&#x61;lcon']);
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
