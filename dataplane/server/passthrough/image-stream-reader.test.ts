import { describe, expect, it } from 'vitest';
import { ImageStreamReader } from './image-stream-reader.js';

const usage = { input_tokens: 10, input_tokens_details: { text_tokens: 10, image_tokens: 0 }, output_tokens: 100, total_tokens: 110 };
const event = (type: string, extra: Record<string, unknown>, eol = '\n'): string => `event: ${type}${eol}data: ${JSON.stringify({ type, b64_json: 'aW1n', ...extra })}${eol}${eol}`;

/** The reader's result for `text` pushed in pieces of `size` bytes. */
function read(text: string, size: number): ReturnType<ImageStreamReader['result']> {
  const reader = new ImageStreamReader();
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) reader.push(bytes.subarray(at, at + size));
  return reader.result();
}

describe('ImageStreamReader', () => {
  it('counts completed images and their usage, whatever the pieces the stream arrives in (LF or CRLF)', () => {
    for (const eol of ['\n', '\r\n']) {
      const text = event('image_generation.partial_image', { partial_image_index: 0 }, eol) + event('image_generation.completed', { usage }, eol) + event('image_edit.completed', { usage }, eol);
      for (const size of [1, 2, 3, 7, 1000]) {
        expect(read(text, size), `${JSON.stringify(eol)} in pieces of ${size}`).toEqual({ images: 2, usage: { inputTokens: 10, outputTokens: 200, cachedInputTokens: 0 }, unreadable: false });
      }
    }
  });

  describe('n > 1: one completed event per image, each with its usage', () => {
    const completed = (u: Record<string, unknown>): string => event('image_generation.completed', { usage: u });
    const withInputImages = { input_tokens: 1_210, input_tokens_details: { text_tokens: 10, image_tokens: 1_200 }, output_tokens: 4_160, total_tokens: 5_370 };

    it("each image's output is added; the prompt every event repeats is counted once, as in the same answer not streamed", () => {
      // Before, the prompt (and the input images of an edit) was counted once per image: n times.
      expect(read(completed(usage).repeat(3), 64)).toEqual({ images: 3, usage: { inputTokens: 10, outputTokens: 300, cachedInputTokens: 0 }, unreadable: false });
      expect(read(completed(withInputImages).repeat(2), 64).usage).toEqual({ inputTokens: 1_210, imageInputTokens: 1_200, outputTokens: 8_320, cachedInputTokens: 0 });
    });

    it('inputs that differ between events are added (nothing says they overlap): never under-counted', () => {
      const second = { ...usage, input_tokens: 0, input_tokens_details: { text_tokens: 0, image_tokens: 0 }, total_tokens: 100 };
      expect(read(completed(usage) + completed(second), 64).usage).toEqual({ inputTokens: 10, outputTokens: 200, cachedInputTokens: 0 });
      expect(read(completed(usage) + completed({ ...usage, input_tokens: 12 }), 64).usage).toEqual({ inputTokens: 22, outputTokens: 200, cachedInputTokens: 0 });
    });

    it("an upstream that repeats the whole answer's usage on every event cannot be told from images that cost the same: over-counted, never under", () => {
      const whole = { ...usage, output_tokens: 200, total_tokens: 210 };
      expect(read(completed(whole).repeat(2), 64).usage).toEqual({ inputTokens: 10, outputTokens: 400, cachedInputTokens: 0 });
    });
  });

  it('reads the type and usage of an event too large to keep (a megabyte of base64) from its head and tail', () => {
    const text = event('image_generation.completed', { b64_json: 'A'.repeat(1024 * 1024), usage });
    expect(read(text, 16_384)).toMatchObject({ images: 1, usage: { inputTokens: 10, outputTokens: 100 }, unreadable: false });
  });

  it('a speech stream: the usage of speech.audio.done, no images', () => {
    const delta = `data: ${JSON.stringify({ type: 'speech.audio.delta', audio: 'A'.repeat(100_000) })}\n\n`;
    const done = `data: ${JSON.stringify({ type: 'speech.audio.done', usage: { input_tokens: 7, output_tokens: 300, total_tokens: 307 } })}\n\n`;
    const reader = new ImageStreamReader('speech');
    const bytes = Buffer.from(delta + delta + done);
    for (let at = 0; at < bytes.length; at += 4096) reader.push(bytes.subarray(at, at + 4096));
    expect(reader.result()).toEqual({ images: 0, usage: { inputTokens: 7, outputTokens: 300, cachedInputTokens: 0 }, unreadable: false, reported: { input_tokens: 7, output_tokens: 300, total_tokens: 307 } });
    // An image reader does not count speech events.
    expect(read(done, 10)).toEqual({ images: 0, usage: undefined, unreadable: false });
  });

  it('a transcription stream (gpt-4o-transcribe, stream: true): the usage of transcript.text.done, its audio tokens apart', () => {
    const delta = (text: string): string => `data: ${JSON.stringify({ type: 'transcript.text.delta', delta: text, logprobs: [] })}\n\n`;
    const usage = { type: 'tokens', input_tokens: 14, input_token_details: { text_tokens: 2, audio_tokens: 12 }, output_tokens: 45, total_tokens: 59 };
    const done = `data: ${JSON.stringify({ type: 'transcript.text.done', text: `${'word '.repeat(20_000)}"usage": {"input_tokens": 1}`, usage })}\n\n`;
    const reader = new ImageStreamReader('transcription');
    const bytes = Buffer.from(delta('Hello') + delta(' world') + done);
    for (let at = 0; at < bytes.length; at += 999) reader.push(bytes.subarray(at, at + 999));
    // Before, a transcription stream was not read: charged nothing on a token-priced route.
    expect(reader.result()).toEqual({ images: 0, usage: { inputTokens: 14, audioInputTokens: 12, outputTokens: 45, cachedInputTokens: 0 }, unreadable: false, reported: usage });
  });

  it('says so when an event cannot be read (the caller charges the images asked for); comments and a last event without its blank line are read', () => {
    expect(read('data: {"type":"image_generation.comp\n\n', 5)).toEqual({ images: 0, usage: undefined, unreadable: true });
    expect(read(`: keep-alive\n\n${event('image_generation.completed', { usage }).trimEnd()}`, 4)).toMatchObject({ images: 1, unreadable: false });
  });
});
