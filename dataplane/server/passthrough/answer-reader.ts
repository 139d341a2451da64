import { KeptTail } from './kept-tail.js';

/** An answer up to this size is kept and parsed whole. */
export const MAX_PARSED_ANSWER_BYTES = 1024 * 1024;
/** Of a larger answer, this much of its end is kept: where `usage` is (the last key of OpenAI's images and audio answers). */
const TAIL_BYTES = 64 * 1024;
/** And this much of its start: where a verbose_json transcription's `duration` is (before its segments). */
const HEAD_BYTES = 64 * 1024;
/** Each image of an images answer carries exactly one of these keys (never inside base64 or an escaped string). */
const IMAGE_KEYS = ['"b64_json"', '"url"'];
/** More images than any images API returns for one request (OpenAI's `n` is at most 10): counting stops here. */
export const MAX_COUNTED_IMAGES = 1_000;
const LONGEST_KEY = Math.max(...IMAGE_KEYS.map((k) => k.length));

/**
 * What metering needs of a pass-through JSON answer, read as it is relayed, in bounded memory
 * whatever its size: an images answer of ten base64 images is tens of megabytes, and reading only
 * the first megabyte (as before) metered it at nothing. A small answer is parsed whole; of a large
 * one the reader keeps the `usage` object at its end, the top-level `duration` at its start (a
 * verbose_json transcription of a long recording is megabytes of segments: before, its duration was
 * lost with them and it was charged nothing) and, for an images answer, counts its images.
 */
export class AnswerReader {
  constructor(private readonly countImages: boolean) {}

  private readonly head: Buffer[] = [];
  private size = 0;
  /** The answer's last TAIL_BYTES, where its usage is. */
  private readonly tail = new KeptTail(TAIL_BYTES);
  private images = 0;
  private carry = '';

  push(chunk: Buffer): void {
    const before = this.size;
    this.size += chunk.length;
    if (this.size <= MAX_PARSED_ANSWER_BYTES) this.head.push(chunk);
    else if (before <= MAX_PARSED_ANSWER_BYTES) {
      // Too large to parse whole: of what was kept, only its start is needed from now on.
      const start = Buffer.concat([...this.head, chunk]).subarray(0, HEAD_BYTES);
      this.head.length = 0;
      this.head.push(Buffer.from(start));
    }
    // latin1 maps bytes to characters one to one: the keys are ASCII, and no decoding can fail mid-character.
    const piece = chunk.toString('latin1');
    const text = this.carry + piece;
    // A key split across two chunks is found with the previous chunk's end; one that lies wholly in
    // that end was counted with it.
    if (this.countImages) {
      for (const key of IMAGE_KEYS) {
        for (let at = text.indexOf(key); at !== -1 && this.images < MAX_COUNTED_IMAGES; at = text.indexOf(key, at + key.length)) if (at + key.length > this.carry.length) this.images++;
      }
    }
    this.carry = text.slice(-(LONGEST_KEY - 1));
    this.tail.add(piece);
  }

  /** The images counted in a large answer (undefined for an answer read whole: its `data` says). */
  get imagesCounted(): number | undefined {
    return this.size <= MAX_PARSED_ANSWER_BYTES || !this.countImages ? undefined : this.images;
  }

  /** The answer as metering reads it: parsed whole, or (too large) its `usage` and top-level `duration` only. */
  answer(): unknown {
    if (this.size <= MAX_PARSED_ANSWER_BYTES) {
      try {
        return JSON.parse(Buffer.concat(this.head).toString('utf8'));
      } catch {
        return undefined;
      }
    }
    const usage = lastObjectOf(this.tail.text(), '"usage"');
    const duration = topLevelNumber(Buffer.concat(this.head).toString('latin1'), 'duration');
    return { ...(usage === undefined ? {} : { usage }), ...(duration === undefined ? {} : { duration }) };
  }
}

/**
 * The number that is the value of `key` in the outermost object of a JSON text's start, when it is
 * whole there (a key of the same name inside a segment or a string is not it).
 */
export function topLevelNumber(text: string, key: string): number | undefined {
  const quoted = `"${key}"`;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      if (depth === 1 && text.startsWith(quoted, i)) {
        const value = /^\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*[,}]/.exec(text.slice(i + quoted.length, i + quoted.length + 64));
        if (value !== null) return Number(value[1]);
      }
      // Past the string: an escaped quote does not end it.
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return undefined;
}

/** The JSON object that is the value of the last `key` in text, when it is whole there. */
export function lastObjectOf(text: string, key: string): unknown {
  const at = text.lastIndexOf(key);
  if (at === -1) return undefined;
  let i = at + key.length;
  while (/\s/.test(text[i] ?? '')) i++;
  if (text[i] !== ':') return undefined;
  i++;
  while (/\s/.test(text[i] ?? '')) i++;
  if (text[i] !== '{') return undefined;
  const start = i;
  let depth = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      try {
        return JSON.parse(Buffer.from(text.slice(start, i + 1), 'latin1').toString('utf8'));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
