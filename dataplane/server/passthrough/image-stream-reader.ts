import { KeptTail } from './kept-tail.js';
import type { Usage } from '../../core/canonical.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { lastObjectOf, MAX_COUNTED_IMAGES } from './answer-reader.js';
import { passThroughUsage } from './passthrough-usage.js';

/** An event up to this size is parsed whole; of a larger one (a final image is megabytes of base64) only its head and tail are kept. */
const WHOLE_EVENT_BYTES = 64 * 1024;
/** Of a larger event, this much of its end is kept: where `usage` is (after `b64_json`). */
const TAIL_BYTES = 64 * 1024;
/**
 * The events that carry usage: each finished image with its own (gpt-image `stream: true`), the
 * end of a speech stream (`/v1/audio/speech` with `stream_format: "sse"`) and the end of a
 * transcription stream (`/v1/audio/transcriptions` with `stream: true`, gpt-4o-transcribe:
 * `transcript.text.done`) with the whole answer's.
 */
const USAGE_EVENTS = {
  images: new Set(['image_generation.completed', 'image_edit.completed']),
  speech: new Set(['speech.audio.done']),
  transcription: new Set(['transcript.text.done']),
} as const;
/** An event ends at a blank line (SSE: LF, CRLF or CR line ends). */
const EVENT_END = /\r\n\r\n|\n\n|\r\r/g;

/** What metering needs of a streamed images answer. */
export interface StreamedImages {
  /** Completed images (`image_generation.completed`, `image_edit.completed`). */
  images: number;
  /** The usage the completed events reported, combined (see combine); undefined when none did. */
  usage: Usage | undefined;
  /** An event could not be read: how many images it was is not known (the caller charges the request's `n`). */
  unreadable: boolean;
  /**
   * Of a speech or transcription stream, the last usage event's `usage` as it came (a transcription's may be `{type: "duration", seconds}`,
   * which is no tokens): what the answer says it cost, read as a JSON answer's `usage` is.
   */
  reported?: unknown;
}

/**
 * Reads a streamed images answer (`stream: true` on /v1/images/generations and edits: SSE events
 * `image_generation.partial_image`…, then `image_generation.completed` with the image and its
 * `usage`) as it is relayed, one event at a time in bounded memory: an event up to 64 KiB is parsed
 * whole, of a larger one its head (the event name and type) and its tail (the usage) are kept.
 * Before, a streamed answer was not read at all: it was charged neither its tokens nor its images.
 */
export class ImageStreamReader {
  private head = '';
  private readonly tail = new KeptTail(TAIL_BYTES);
  private size = 0;
  /** The current event's last characters: an event end split across two chunks is found with them. */
  private last = '';
  private images = 0;
  private usages: Usage[] = [];
  private unreadable = false;
  private reported: unknown;

  /**
   * `speech`: a speech stream, whose `speech.audio.done` reports the usage (no images). Before, its
   * usage was not read: token-priced speech was charged per character only. `transcription`: a
   * transcription stream, whose `transcript.text.done` reports it. Before, it was not read:
   * token-priced streamed transcriptions were charged nothing.
   */
  constructor(private readonly kind: keyof typeof USAGE_EVENTS = 'images') {}

  push(chunk: Buffer): void {
    // latin1 maps bytes to characters one to one: no decoding can fail mid-character.
    const text = chunk.toString('latin1');
    const joined = this.last + text;
    const offset = this.last.length;
    let from = 0;
    EVENT_END.lastIndex = 0;
    for (let m = EVENT_END.exec(joined); m !== null; m = EVENT_END.exec(joined)) {
      const end = m.index + m[0].length - offset;
      if (end <= from) continue;
      this.add(text.slice(from, end));
      this.finishEvent();
      from = end;
    }
    if (from < text.length) this.add(text.slice(from));
  }

  /** The answer's images and usage, once it has ended. */
  result(): StreamedImages {
    if (this.size > 0) this.finishEvent();
    return { images: this.images, usage: this.usages.length === 0 ? undefined : combine(this.usages), unreadable: this.unreadable, ...(this.reported === undefined ? {} : { reported: this.reported }) };
  }

  private add(piece: string): void {
    this.size += piece.length;
    this.last = (this.last + piece).slice(-3);
    if (this.head.length < WHOLE_EVENT_BYTES) this.head += piece.slice(0, WHOLE_EVENT_BYTES - this.head.length);
    if (this.size <= WHOLE_EVENT_BYTES) return;
    this.tail.add(piece);
  }

  private finishEvent(): void {
    const whole = this.size <= WHOLE_EVENT_BYTES;
    const head = this.head;
    const tail = whole ? '' : this.tail.text();
    this.head = '';
    this.tail.clear();
    this.size = 0;
    this.last = '';
    const event = whole ? wholeEvent(head) : largeEvent(head, tail);
    if (event === undefined) return;
    if (event === UNREADABLE) {
      this.unreadable = true;
      return;
    }
    if (!USAGE_EVENTS[this.kind].has(event.type)) return;
    if (this.kind === 'images' && this.images < MAX_COUNTED_IMAGES) this.images++;
    if (this.kind !== 'images' && event.usage !== undefined) this.reported = event.usage;
    const usage = passThroughUsage({ usage: event.usage });
    if (usage !== undefined) this.usages.push(usage);
  }
}

const UNREADABLE = Symbol('unreadable');
type ReadEvent = { type: string; usage: unknown } | typeof UNREADABLE | undefined;

/** An event read whole: its `event:` name or its data's `type`, and its data's `usage`; undefined for a comment or an empty event. */
function wholeEvent(raw: string): ReadEvent {
  let name: string | undefined;
  const data: string[] = [];
  for (const line of raw.split(/\r\n|\n|\r/)) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  if (data.length === 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.join('\n'), 'latin1').toString('utf8'));
  } catch {
    return UNREADABLE;
  }
  if (!isObject(parsed)) return UNREADABLE;
  const type = typeof parsed.type === 'string' ? parsed.type : name;
  return type === undefined ? UNREADABLE : { type, usage: parsed.usage };
}

/** A large event: its name or type from its head, its `usage` from its tail (where OpenAI puts it, after the image). */
function largeEvent(head: string, tail: string): ReadEvent {
  const type = /"type"\s*:\s*"([^"\\]{1,100})"/.exec(head)?.[1] ?? /^event:\s*(\S+)/m.exec(head)?.[1];
  if (type === undefined) return UNREADABLE;
  return { type, usage: lastObjectOf(tail, '"usage"') ?? lastObjectOf(head, '"usage"') };
}

/** The input side of a usage: what the request sent (its prompt and input images), the same for every image it asks for. */
const INPUT_FIELDS = ['inputTokens', 'cachedInputTokens', 'imageInputTokens', 'audioInputTokens'] as const;
/** The output side: what one completed image (or the speech) cost to make. */
const OUTPUT_FIELDS = ['outputTokens', 'imageOutputTokens', 'audioOutputTokens'] as const;

/**
 * The answer's usage from its completed images' (n > 1: one event each). OpenAI documents each
 * event's `output_tokens` as the tokens of its own output image, so outputs are summed; its
 * `input_tokens` as the tokens of the request's input prompt, which is one prompt however many images
 * it asks for: when every event repeats the same input it is counted once, as in the same answer not
 * streamed (before, it was counted once per image). Inputs that differ between events are summed: the
 * wire does not say they overlap, and spend is never under-counted. An upstream that repeated the
 * whole answer's usage on every event cannot be told from one whose images cost the same: its outputs
 * are over-counted (at most n times), never under-counted.
 */
function combine(usages: readonly Usage[]): Usage {
  const first = usages[0] ?? { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  const oneInput = usages.every((u) => INPUT_FIELDS.every((f) => u[f] === first[f]));
  const total: Usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  for (const f of INPUT_FIELDS) {
    const value = oneInput ? first[f] : summed(usages, f);
    if (value !== undefined) total[f] = value;
  }
  for (const f of OUTPUT_FIELDS) {
    const value = summed(usages, f);
    if (value !== undefined) total[f] = value;
  }
  return total;
}

/** A field summed over the usages; undefined when none reports it (an optional field stays absent). */
function summed(usages: readonly Usage[], field: (typeof INPUT_FIELDS)[number] | (typeof OUTPUT_FIELDS)[number]): number | undefined {
  let total: number | undefined;
  for (const u of usages) {
    const value = u[field];
    if (value !== undefined) total = (total ?? 0) + value;
  }
  return total;
}
