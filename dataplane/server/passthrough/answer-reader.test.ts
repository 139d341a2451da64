import { describe, expect, it } from 'vitest';
import { AnswerReader, MAX_PARSED_ANSWER_BYTES } from './answer-reader.js';

/** The answer fed in pieces of `size` bytes (keys and the usage object split anywhere). */
function read(text: string, size: number): unknown {
  const reader = new AnswerReader();
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) reader.push(bytes.subarray(at, at + size));
  return reader.answer();
}

const usage = { input_tokens: 12, input_tokens_details: { text_tokens: 12, image_tokens: 0 }, output_tokens: 4160, total_tokens: 4172 };
const large = (images: number, key: 'b64_json' | 'url'): string =>
  JSON.stringify({
    created: 1,
    data: Array.from({ length: images }, () => ({ [key]: 'A'.repeat(Math.ceil((MAX_PARSED_ANSWER_BYTES * 1.5) / images)), revised_prompt: 'a "url" and "b64_json" and {"usage": {"input_tokens": 1e9}} in words' })),
    output_format: 'png',
    usage,
  });

describe('AnswerReader', () => {
  it('parses a small answer whole', () => {
    expect(read(JSON.stringify({ data: [{ url: 'u' }], usage: { total_tokens: 3 } }), 7)).toEqual({ data: [{ url: 'u' }], usage: { total_tokens: 3 } });
  });

  it.each([5, 7, 4096, 65536])('of a large answer keeps the usage at its end and counts its images, in pieces of %i bytes', (size) => {
    expect(read(large(3, 'b64_json'), size)).toEqual({ data: [{}, {}, {}], usage });
    expect(read(large(2, 'url'), size)).toEqual({ data: [{}, {}], usage });
  });

  it('keeps nothing it cannot parse: a large answer whose usage is cut or absent has none', () => {
    const text = large(1, 'url');
    expect(read(text.slice(0, -20), 4096)).toEqual({ data: [{}] });
    expect(read('[' + 'x'.repeat(MAX_PARSED_ANSWER_BYTES) + ']', 4096)).toEqual({ data: [] });
  });
});
