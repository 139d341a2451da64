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
});
