import { describe, expect, it } from 'vitest';
import { jsonShapeProblem, jsonTextShapeProblem } from './json-shape.js';

const both = (text: string, maxDepth: number, maxElements: number): [unknown, unknown] => [
  jsonTextShapeProblem(text, maxDepth, maxElements),
  jsonShapeProblem(Buffer.from(text, 'utf8'), maxDepth, maxElements),
];

describe('JSON shape before parsing, for bytes and for text alike', () => {
  it('counts objects, arrays and members, not scalars nor what strings hold', () => {
    const answer = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: '{"a":[{},{}]} é ü 😀 \\" [[[' } }], data: [1, 2, 3] });
    // 11 in all (4 objects and arrays, 7 members): a limit of 11 passes, 10 does not.
    expect(both(answer, 8, 11)).toEqual([undefined, undefined]);
    expect(both(answer, 8, 10)).toEqual(['too_many_elements', 'too_many_elements']);
  });

  it('refuses nesting past the depth, and leaves malformed text to JSON.parse', () => {
    expect(both(`${'['.repeat(5)}${']'.repeat(5)}`, 4, 100)).toEqual(['too_deep', 'too_deep']);
    expect(both(`${'['.repeat(4)}${']'.repeat(4)}`, 4, 100)).toEqual([undefined, undefined]);
    // Padded past the short-text shortcut, the text variant still counts.
    expect(both(`${'['.repeat(5)}${' '.repeat(20)}${']'.repeat(5)}`, 4, 100)).toEqual(['too_deep', 'too_deep']);
    expect(both('{"a":"never closed', 4, 100)).toEqual([undefined, undefined]);
    expect(both('{"a\\\\":{"b":{}}}', 2, 100)).toEqual(['too_deep', 'too_deep']);
  });

  it('counts a wide answer of empty objects', () => {
    const wide = `{"choices":[${Array(2000).fill('{}').join(',')}]}`;
    expect(both(wide, 128, 1000)).toEqual(['too_many_elements', 'too_many_elements']);
  });
});
