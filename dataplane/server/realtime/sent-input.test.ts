import { describe, expect, it } from 'vitest';
import { SentInput } from './sent-input.js';

describe('SentInput', () => {
  const append = (bytes: number): string => JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(bytes, 3).toString('base64') });

  it('counts audio at the session format (pcm16 24 kHz by default, G.711 8 kHz once the session says so), the other events as text', () => {
    const pcm = new SentInput();
    expect(pcm.usage()).toBeUndefined();
    pcm.note(append(24_000));
    expect(pcm.usage()).toEqual({ inputTokens: 5, outputTokens: 0, cachedInputTokens: 0, audioInputTokens: 5 });

    const g711 = new SentInput();
    const update = JSON.stringify({ type: 'session.update', session: { input_audio_format: 'g711_ulaw' } });
    g711.note(update);
    g711.note(append(8_000));
    const text = Math.ceil(update.length / 4);
    expect(g711.usage()).toEqual({ inputTokens: 10 + text, outputTokens: 0, cachedInputTokens: 0, audioInputTokens: 10 });

    const ga = new SentInput();
    ga.note(JSON.stringify({ type: 'session.update', session: { audio: { input: { format: { type: 'audio/pcmu' } } } } }));
    ga.note(append(4_000));
    expect(ga.usage()?.audioInputTokens).toBe(5);
  });

  it("bounds the next response's input from above: every byte of text a token, audio at 20 tokens a second, plus the largest input and output a response reported and what was sent since it started", () => {
    const sent = new SentInput();
    const item = JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: '日本語 '.repeat(10) }] } });
    sent.note(item);
    const itemBytes = Buffer.byteLength(JSON.stringify((JSON.parse(item) as { item: unknown }).item));
    // Three bytes a character of Japanese: the estimate (a token per four characters) is below what o200k may count; the bound is not.
    expect(sent.bound().inputTokens).toBe(itemBytes);
    expect(sent.usage()?.inputTokens).toBeLessThan(Buffer.byteLength(item) / 4);
    const chunk = append(48_000);
    sent.note(chunk);
    // One second of pcm16: 20 tokens (the estimate says 10), and the event's JSON around the audio.
    const overhead = chunk.length - Buffer.alloc(48_000, 3).toString('base64').length;
    expect(sent.bound().inputTokens).toBe(itemBytes + 20 + overhead);
    // A response started now and reported 1000 in, 600 out: the next reads at most that and what came after its start.
    const before = sent.bound().inputTokens;
    sent.started('resp_1');
    const late = JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'and more' }] } });
    sent.note(late);
    const lateBytes = Buffer.byteLength(JSON.stringify((JSON.parse(late) as { item: unknown }).item));
    sent.reported('resp_1', { inputTokens: 1000, outputTokens: 600, cachedInputTokens: 0 });
    // Before, the next hold's input was the last response's input alone (1000): its output and the later item were not held.
    expect(sent.bound().inputTokens).toBe(1600 + lateBytes);
    // An out-of-band response reporting less (its own small input) never lowers the bound.
    sent.started('resp_2');
    sent.reported('resp_2', { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 });
    expect(sent.bound().inputTokens).toBe(1600 + lateBytes);
  });

  it("counts what a response reads of the other events (instructions, tools, input), nothing of those that add none, and the upstream session's instructions until a response reported", () => {
    const sent = new SentInput();
    sent.noteSession(JSON.stringify({ type: 'session.created', session: { instructions: 'Be brief.' } }));
    sent.note(JSON.stringify({ type: 'response.create', event_id: 'e1', response: { max_output_tokens: 5 } }));
    sent.note(JSON.stringify({ type: 'input_audio_buffer.commit' }));
    expect(sent.bound().inputTokens).toBe(9);
    sent.note(JSON.stringify({ type: 'session.update', session: { type: 'realtime', instructions: 'Speak French.' } }));
    sent.note('not json');
    expect(sent.bound().inputTokens).toBe(9 + 13 + 8);
    sent.started('r');
    sent.reported('r', { inputTokens: 40, outputTokens: 2, cachedInputTokens: 0 });
    expect(sent.bound().inputTokens).toBe(42);
  });

  it('counts audio at 8 kHz when the upstream says the session is G.711, though the client never did (a session set when its client secret was made)', () => {
    const sent = new SentInput();
    sent.noteSession(JSON.stringify({ type: 'session.created', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } } } } }));
    const chunk = append(8_000);
    sent.note(chunk);
    // One second of μ-law: 20 tokens, and the event's JSON around the audio. Before, counted as pcm16: a sixth of a second.
    expect(sent.bound().inputTokens).toBe(20 + chunk.length - Buffer.alloc(8_000, 3).toString('base64').length);
    expect(sent.usage()?.audioInputTokens).toBe(10);
  });

  it("returns the seconds of audio an item the client creates carries (its input_audio parts, at the session's format), with its ids", () => {
    const sent = new SentInput();
    const item = (content: unknown[], id?: string) => JSON.stringify({ type: 'conversation.item.create', event_id: 'e1', item: { ...(id === undefined ? {} : { id }), type: 'message', role: 'user', content } });
    const audio = (bytes: number) => ({ type: 'input_audio', audio: Buffer.alloc(bytes, 1).toString('base64') });
    expect(sent.note(item([audio(48_000), audio(24_001)], 'mine'))).toEqual({ eventId: 'e1', itemId: 'mine', seconds: 72_001 / 48_000 });
    expect(sent.note(item([{ type: 'input_text', text: 'hi' }]))).toBeUndefined();
    sent.noteSession(JSON.stringify({ type: 'session.updated', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcma' } } } } }));
    expect(sent.note(item([audio(8_000)]))).toEqual({ eventId: 'e1', itemId: undefined, seconds: 1 });
  });
});

describe("SentInput: images at the session model's image bound", () => {
  const image = (url: string, detail?: string) => ({ type: 'input_image', image_url: url, ...(detail === undefined ? {} : { detail }) });
  const item = (content: unknown[]) => JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content } });
  // A plain 2048 × 2048 PNG is a few KB: billed at full size, it was held as its few thousand bytes.
  const small = `data:image/png;base64,${Buffer.alloc(3_000, 0).toString('base64')}`;

  it('an input_image part is held and estimated at 5,000 tokens (12,000 at original) instead of its base64 bytes', () => {
    const sent = new SentInput('gpt-realtime');
    const text = item([image(small)]);
    sent.note(text);
    const rest = Buffer.byteLength(JSON.stringify((JSON.parse(text) as { item: unknown }).item)) - small.length;
    expect(sent.bound().inputTokens).toBe(5_000 + rest);
    expect(sent.usage()?.inputTokens).toBe(5_000 + Math.ceil((text.length - small.length) / 4));
    sent.note(item([image(small, 'original')]));
    expect(sent.bound().inputTokens).toBe(5_000 + 12_000 + 2 * rest + '"detail":"original",'.length);
  });

  it("a gpt-4o-mini Realtime model's images at its bound (48,169), in a response.create's input too; a large photo no longer at its bytes", () => {
    const sent = new SentInput('gpt-4o-mini-realtime-preview');
    // At low detail, never under the 5,000 any image is held at (its bound there is 2,833).
    sent.note(JSON.stringify({ type: 'response.create', response: { input: [{ type: 'message', role: 'user', content: [image(small), image(small, 'low')] }] } }));
    expect(sent.bound().inputTokens).toBeGreaterThanOrEqual(48_169 + 5_000);
    expect(sent.bound().inputTokens).toBeLessThan(48_169 + 5_000 + 200);
    const photo = `data:image/jpeg;base64,${Buffer.alloc(600_000, 7).toString('base64')}`;
    const large = new SentInput('gpt-realtime');
    large.note(item([image(photo)]));
    expect(large.bound().inputTokens).toBeLessThan(5_200);
  });
});
