import type { Usage } from '../../core/canonical.js';

/** OpenAI tokenizes Realtime input audio at about 10 tokens a second (its published rate). */
const AUDIO_TOKENS_PER_SECOND = 10;
/** pcm16 at 24 kHz mono, the Realtime default; G.711 (μ-law, A-law) is 8 kHz, one byte a sample. */
const PCM16_BYTES_PER_SECOND = 48_000;
const G711_BYTES_PER_SECOND = 8_000;
/** A text token is about four characters; JSON around the text counts too, which only over-counts. */
const CHARS_PER_TOKEN = 4;
const EQUALS = 61;

/**
 * What a Realtime client has sent, as input tokens: the estimate for a response a close cut before
 * any response of the connection reported its usage (nothing better is known of it, and charging
 * nothing would let a client start responses and leave for free). Audio is counted from the bytes
 * of `input_audio_buffer.append` at the session's format; every other client event by its length.
 * Read without parsing: a client streams audio every ~100 ms.
 */
export class SentInput {
  private textChars = 0;
  private audioBytes = 0;
  private bytesPerSecond = PCM16_BYTES_PER_SECOND;

  note(text: string): void {
    if (text.includes('"input_audio_buffer.append"')) {
      const at = text.indexOf('"audio":"');
      if (at !== -1) {
        const start = at + 9;
        const end = text.indexOf('"', start);
        if (end !== -1) {
          const padding = text.charCodeAt(end - 1) === EQUALS ? (text.charCodeAt(end - 2) === EQUALS ? 2 : 1) : 0;
          this.audioBytes += Math.max(0, Math.floor(((end - start) * 3) / 4) - padding);
        }
        return;
      }
    }
    if (text.includes('"session.update"') && /g711_|audio\/pcm[ua]/.test(text)) this.bytesPerSecond = G711_BYTES_PER_SECOND;
    this.textChars += text.length;
  }

  /** The estimate, or undefined when the client sent nothing. */
  usage(): Usage | undefined {
    const audio = Math.ceil((this.audioBytes / this.bytesPerSecond) * AUDIO_TOKENS_PER_SECOND);
    const text = Math.ceil(this.textChars / CHARS_PER_TOKEN);
    if (audio + text === 0) return undefined;
    return { inputTokens: audio + text, outputTokens: 0, cachedInputTokens: 0, ...(audio > 0 ? { audioInputTokens: audio } : {}) };
  }
}
