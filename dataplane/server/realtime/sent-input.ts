import type { Usage } from '../../core/canonical.js';
import { imageTokensOn } from '../../metering/token-estimate.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { realtimeEvent } from './realtime-event.js';

/** OpenAI tokenizes Realtime input audio at about 10 tokens a second (its published rate). */
const AUDIO_TOKENS_PER_SECOND = 10;
/**
 * The rate a hold counts input audio at: twice the published one (OpenAI's assistant audio, 1 token
 * per 50 ms, is the densest audio it bills), so that the hold is an upper bound, never an estimate.
 */
const BOUND_AUDIO_TOKENS_PER_SECOND = 20;
/** pcm16 at 24 kHz mono, the Realtime default; G.711 (μ-law, A-law) is 8 kHz, one byte a sample. */
const PCM16_BYTES_PER_SECOND = 48_000;
const G711_BYTES_PER_SECOND = 8_000;
/** A text token is about four characters; JSON around the text counts too, which only over-counts. */
const CHARS_PER_TOKEN = 4;
const EQUALS = 61;
const UPSTREAM_SESSION_EVENTS = ['session.created', 'session.updated'];
/** A session that names G.711 input (beta g711_ulaw / g711_alaw, GA audio/pcmu / audio/pcma). */
const G711 = /g711_|audio\/pcm[ua]/;
/** Client events that add nothing a response reads (they remove, cut or fetch items, or act on audio). */
const NO_INPUT_EVENTS = ['input_audio_buffer.commit', 'input_audio_buffer.clear', 'output_audio_buffer.clear', 'conversation.item.delete', 'conversation.item.truncate', 'conversation.item.retrieve', 'response.cancel'];

/** A value's bytes as JSON (a string's, its own): a token is never less than a byte. */
function bytesOf(value: unknown): number {
  if (value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : Buffer.byteLength(JSON.stringify(value) ?? '');
}

/** A client event parsed, undefined when it is no JSON object with a type. */
function parsedEvent(text: string): (Record<string, unknown> & { type: string }) | undefined {
  try {
    const event: unknown = JSON.parse(text);
    return isObject(event) && typeof event.type === 'string' ? (event as Record<string, unknown> & { type: string }) : undefined;
  } catch {
    return undefined;
  }
}

/** The bytes base64 text decodes to. */
function base64Bytes(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((text.length * 3) / 4) - padding);
}

/**
 * A client's `conversation.item.create` whose item carries audio (`input_audio` content parts): the
 * upstream transcribes such an item too when the session has an input transcription model.
 */
export interface ItemAudio {
  /** The client event's `event_id` (an upstream error naming it refuses the item). */
  eventId: string | undefined;
  /** The item's `id`, when the client names it (the upstream keeps it). */
  itemId: string | undefined;
  /** Seconds of its audio, at the session's input format. */
  seconds: number;
}

/**
 * The bytes of a client event (not audio) that a response may read as input: an item's, a session's
 * or a response's instructions, tools and input; nothing of the events that add no input; the whole
 * event when it cannot be read (an over-count, never an under-count).
 */
function inputBytes(text: string, event: (Record<string, unknown> & { type: string }) | undefined): number {
  if (event === undefined) return Buffer.byteLength(text);
  if (NO_INPUT_EVENTS.includes(event.type)) return 0;
  if (event.type === 'conversation.item.create') return bytesOf(event.item);
  const part = event.type === 'session.update' ? event.session : event.type === 'response.create' ? (event.response ?? {}) : undefined;
  if (!isObject(part)) return Buffer.byteLength(text);
  return bytesOf(part.instructions) + bytesOf(part.tools) + bytesOf(part.input) + bytesOf(part.prompt);
}

/**
 * The images of a client event (`input_image` parts of a `conversation.item.create` item, or of a
 * `response.create`'s input items): what they are held and estimated at on `model` (imageTokensOn),
 * and the bytes of their payloads (`image_url`, base64 data), which are not billed as text.
 */
function eventImages(event: Record<string, unknown> & { type: string }, model: string): { tokens: number; payload: number; chars: number } {
  const found = { tokens: 0, payload: 0, chars: 0 };
  const items = event.type === 'conversation.item.create' ? [event.item] : event.type === 'response.create' && isObject(event.response) && Array.isArray(event.response.input) ? event.response.input : [];
  for (const item of items) {
    if (!isObject(item) || !Array.isArray(item.content)) continue;
    for (const part of item.content) {
      if (!isObject(part) || part.type !== 'input_image') continue;
      found.tokens += imageTokensOn(model, part.detail);
      if (typeof part.image_url === 'string') {
        found.payload += Buffer.byteLength(part.image_url);
        found.chars += part.image_url.length;
      }
    }
  }
  return found;
}

/** Responses whose start is remembered (for the bound) at once, at most: one without is bounded from the session's start. */
const MAX_TRACKED_RESPONSES = 64;

/**
 * What a Realtime client has sent, as input tokens, read without parsing (a client streams audio
 * every ~100 ms); audio is counted from the bytes of `input_audio_buffer.append` at the session's
 * format, every other client event by its length. Two readings:
 *
 * - `usage()`, an estimate: what a response a close cut before any response of the connection
 *   reported its usage is charged (nothing better is known of it, and charging nothing would let a
 *   client start responses and leave for free).
 * - `bound()`, an upper bound of the input of the next response, what a Budget holds for it: the
 *   largest input plus output a response reported, plus everything the client sent since that
 *   response started (the conversation holds no more: the client's items and each response's
 *   output), every byte of an event's JSON a token (a token is never less than a byte) and audio at
 *   BOUND_AUDIO_TOKENS_PER_SECOND. Before, a hold's input was the last response's input, else the
 *   estimate: the output of the last response and what the client sent since were not held.
 *
 * An image (an `input_image` part) counts, in both, at what the session's model bills for one at
 * most (imageTokensOn: 5,000, 12,000 at `detail: original`, 48,169 on gpt-4o-mini models), instead of
 * its base64 text. Before, as its bytes: a small image the model bills at full size (a few KB of a
 * large plain picture) was held a few thousand tokens, and a large photo hundreds of thousands.
 */
export class SentInput {
  /** Images counted so far, at their bound (imageTokensOn): in the estimate. */
  private imageTokens = 0;

  /** `model`: the session's upstream model, whose image bound images are held at. */
  constructor(private readonly model = '') {}

  private textChars = 0;
  private audioBytes = 0;
  private bytesPerSecond = PCM16_BYTES_PER_SECOND;
  /** Everything sent, as the bound counts it (audio fractional, rounded up when read). */
  private sentBound = 0;
  /** The largest (input + output − what had been sent when it started) a response reported. */
  private best = 0;
  /** What had been sent when each running response started, by its id. */
  private readonly startedAt = new Map<string, number>();
  /** The upstream session's instructions and tools (its defaults included), until a response reports an input that holds them. */
  private sessionBound = 0;
  private reportedAny = false;
  /** Seconds of input audio sent (at the session's format when each chunk came): what input transcriptions bill at most. */
  private audioSecondsSent = 0;

  /** Seconds of input audio the client sent so far. */
  get audioSeconds(): number {
    return this.audioSecondsSent;
  }

  /** A client event: counted; an item it creates with audio is returned (its seconds of audio), else undefined. */
  note(text: string): ItemAudio | undefined {
    if (text.includes('"input_audio_buffer.append"')) {
      const at = text.indexOf('"audio":"');
      if (at !== -1) {
        const start = at + 9;
        const end = text.indexOf('"', start);
        if (end !== -1) {
          const padding = text.charCodeAt(end - 1) === EQUALS ? (text.charCodeAt(end - 2) === EQUALS ? 2 : 1) : 0;
          const bytes = Math.max(0, Math.floor(((end - start) * 3) / 4) - padding);
          this.audioBytes += bytes;
          this.audioSecondsSent += bytes / this.bytesPerSecond;
          // The rest of the event is a few dozen bytes of JSON, counted as text.
          this.sentBound += (bytes / this.bytesPerSecond) * BOUND_AUDIO_TOKENS_PER_SECOND + (Buffer.byteLength(text) - (end - start));
        }
        return undefined;
      }
    }
    if (text.includes('"session.update"') && G711.test(text)) this.bytesPerSecond = G711_BYTES_PER_SECOND;
    this.textChars += text.length;
    const event = parsedEvent(text);
    this.sentBound += inputBytes(text, event);
    // Read from the parsed event, not the text: a type written with JSON escapes is the same type upstream.
    if (event !== undefined) {
      const images = eventImages(event, this.model);
      this.sentBound += images.tokens - images.payload;
      this.textChars -= images.chars;
      this.imageTokens += images.tokens;
    }
    return event?.type === 'conversation.item.create' ? this.itemAudio(event) : undefined;
  }

  /** The audio of an item a client creates (its `input_audio` parts' `audio`), undefined for one without. */
  private itemAudio(event: Record<string, unknown>): ItemAudio | undefined {
    const item = isObject(event.item) ? event.item : {};
    const content = Array.isArray(item.content) ? (item.content as unknown[]) : [];
    let bytes = 0;
    let audio = false;
    for (const part of content) {
      if (!isObject(part) || part.type !== 'input_audio') continue;
      audio = true;
      if (typeof part.audio === 'string') bytes += base64Bytes(part.audio);
    }
    if (!audio) return undefined;
    return { eventId: typeof event.event_id === 'string' ? event.event_id : undefined, itemId: typeof item.id === 'string' ? item.id : undefined, seconds: bytes / this.bytesPerSecond };
  }

  /**
   * The upstream's session (session.created / session.updated): its instructions and tools are read
   * by the first response too, and its input format may be G.711 without the client saying so (a
   * session configured when its client secret was made): audio is counted at 8 kHz from then on.
   * Before, such audio was counted at pcm16's rate, a sixth of its tokens.
   */
  noteSession(text: string): void {
    const event = realtimeEvent(text, UPSTREAM_SESSION_EVENTS);
    if (event === undefined || !isObject(event.session)) return;
    this.sessionBound = bytesOf(event.session.instructions) + bytesOf(event.session.tools);
    if (G711.test(text)) this.bytesPerSecond = G711_BYTES_PER_SECOND;
  }

  /** The estimate, or undefined when the client sent nothing. */
  usage(): Usage | undefined {
    const audio = Math.ceil((this.audioBytes / this.bytesPerSecond) * AUDIO_TOKENS_PER_SECOND);
    const text = Math.ceil(this.textChars / CHARS_PER_TOKEN) + this.imageTokens;
    if (audio + text === 0) return undefined;
    return { inputTokens: audio + text, outputTokens: 0, cachedInputTokens: 0, ...(audio > 0 ? { audioInputTokens: audio } : {}) };
  }

  /** A response started (`response.created`): its input holds at most what was sent until now, and what came before. */
  started(responseId: string | undefined): void {
    if (responseId !== undefined && this.startedAt.size < MAX_TRACKED_RESPONSES) this.startedAt.set(responseId, this.sentBound);
  }

  /** A response reported its usage: the conversation after it holds at most its input and output, and what is sent from its start on. */
  reported(responseId: string | undefined, usage: Usage): void {
    const at = responseId === undefined ? undefined : this.startedAt.get(responseId);
    if (responseId !== undefined) this.startedAt.delete(responseId);
    // Not known when it started: from the session's start, which only holds more.
    this.best = Math.max(this.best, usage.inputTokens + usage.outputTokens - (at ?? 0));
    this.reportedAny = true;
  }

  /** A response ended without usage: its start is forgotten. */
  ended(responseId: string | undefined): void {
    if (responseId !== undefined) this.startedAt.delete(responseId);
  }

  /** The upper bound of the next response's input, in tokens (priced by a hold at the dearest input price). */
  bound(): Usage {
    return { inputTokens: Math.ceil(this.best + this.sentBound + (this.reportedAny ? 0 : this.sessionBound)), outputTokens: 0, cachedInputTokens: 0 };
  }
}
