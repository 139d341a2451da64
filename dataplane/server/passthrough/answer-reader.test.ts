import { describe, expect, it } from 'vitest';
import { AnswerReader, MAX_COUNTED_IMAGES, MAX_PARSED_ANSWER_BYTES, topLevelNumber } from './answer-reader.js';
import { answerUnits } from './passthrough-usage.js';

/** The answer fed in pieces of `size` bytes (keys and the usage object split anywhere). */
function read(text: string, size: number, images = true): { answer: unknown; images: number | undefined } {
  const reader = new AnswerReader(images);
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) reader.push(bytes.subarray(at, at + size));
  return { answer: reader.answer(), images: reader.imagesCounted };
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
  it('parses a small answer whole (its data says how many images)', () => {
    expect(read(JSON.stringify({ data: [{ url: 'u' }], usage: { total_tokens: 3 } }), 7)).toEqual({ answer: { data: [{ url: 'u' }], usage: { total_tokens: 3 } }, images: undefined });
  });

  it.each([5, 7, 4096, 65536])('of a large answer keeps the usage at its end and counts its images, in pieces of %i bytes', (size) => {
    expect(read(large(3, 'b64_json'), size)).toEqual({ answer: { usage }, images: 3 });
    expect(read(large(2, 'url'), size)).toEqual({ answer: { usage }, images: 2 });
  });

  it('keeps nothing it cannot parse: a large answer whose usage is cut or absent has none', () => {
    const text = large(1, 'url');
    expect(read(text.slice(0, -20), 4096)).toEqual({ answer: {}, images: 1 });
    expect(read('[' + 'x'.repeat(MAX_PARSED_ANSWER_BYTES) + ']', 4096)).toEqual({ answer: {}, images: 0 });
  });

  it('counts images only of an images answer, and at most MAX_COUNTED_IMAGES of them', () => {
    const keys = `{"data":[${'{"url":"u"},'.repeat(200_000)}{"url":"u"}]}`;
    expect(read(keys, 65536).images).toBe(MAX_COUNTED_IMAGES);
    expect(read(keys, 65536, false).images).toBeUndefined();
  });

  it('keeps the top-level duration of a large verbose_json transcription without usage (2 MB of segments): it is priced', () => {
    const segments = Array.from({ length: 6000 }, (_, i) => ({ id: i, start: i, end: i + 1, duration: 1, text: ' words "duration": 99,', tokens: Array.from({ length: 40 }, (_, k) => 50000 + k) }));
    const text = JSON.stringify({ task: 'transcribe', language: 'english', duration: 7200, text: 'a "duration": 5 in words', segments });
    expect(text.length).toBeGreaterThan(2_000_000);
    for (const size of [7, 65536]) {
      const { answer } = read(text, size, false);
      expect(answer).toEqual({ duration: 7200 });
      expect(answerUnits('/v1/audio/transcriptions', undefined, answer).audioSeconds).toBe(7200);
    }
  });

  it('reads a top-level number only: not one in a string, a nested object or a cut value', () => {
    expect(topLevelNumber('{"text":"\\"duration\\": 3","a":{"duration":4},"duration":5.5,"x":1}', 'duration')).toBe(5.5);
    expect(topLevelNumber('{"segments":[{"duration":4}],"task":"duration"}', 'duration')).toBeUndefined();
    expect(topLevelNumber('{"duration":72', 'duration')).toBeUndefined();
  });
});
