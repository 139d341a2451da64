import type { JsonObject } from '../../core/canonical.js';
import {
  arrayAt,
  bodyText,
  type BodyText,
  CALL_BODY_FIELDS,
  everyString,
  isObject,
  NOT_TEXT,
  REASONING_FIELDS,
  type Setter,
  type TextSlot,
  TOOL_CALL_FIELDS,
  TOOL_CALL_ROLE,
  toolCallOtherFields,
  toolCalls,
} from './content-text.js';

/*
 * The answer side of the text guardrails read: a canonical answer's text (responseText), a stream
 * chunk's text outside what the stream guard holds back (chunkOtherText), and which of a delta's
 * fields the guard holds back itself. The request side and the slot machinery are content-text.ts.
 */

/**
 * The answer with each choice's `logprobs` emptied (null): its tokens repeat the text, which
 * response rules cannot mask there. The same object when no choice carries any.
 */
export function withoutLogprobs(body: JsonObject): JsonObject {
  const choices = body.choices;
  if (!Array.isArray(choices) || !choices.some((c) => isObject(c) && c.logprobs !== undefined && c.logprobs !== null)) return body;
  return { ...body, choices: choices.map((c) => (isObject(c) && c.logprobs !== undefined && c.logprobs !== null ? { ...c, logprobs: null } : c)) };
}

/** Text of a canonical (OpenAI) response: each choice's message content, refusal and reasoning (thinking blocks too), tool-call and legacy function-call arguments, custom tool-call input, an audio answer's transcript, or completion text. */
export function responseText(body: JsonObject): BodyText {
  const found: { slot: TextSlot; set: Setter }[] = [];
  const choices = Array.isArray(body.choices) ? body.choices : [];
  choices.forEach((c, i) => {
    if (!isObject(c)) return;
    const choice = (copy: JsonObject): JsonObject => arrayAt(copy, 'choices')[i] as JsonObject;
    if (isObject(c.message)) {
      // Besides its content, a refusal and the reasoning some servers (vLLM) return are answer text too.
      for (const field of ['content', 'refusal', ...REASONING_FIELDS] as const) {
        const value = c.message[field];
        if (typeof value === 'string') found.push({ slot: { role: 'assistant', text: value }, set: (copy, text) => void ((choice(copy).message as JsonObject)[field] = text) });
      }
      toolCalls(c.message.tool_calls, found, (copy) => (choice(copy).message as JsonObject).tool_calls);
      // A spoken answer's transcript: its audio says the same, which cannot be masked (the request
      // that asks for audio is refused under response rules; this is for an upstream that sends it anyway).
      const audio = c.message.audio;
      if (isObject(audio) && typeof audio.transcript === 'string') {
        found.push({ slot: { role: 'assistant', text: audio.transcript, unmaskable: true }, set: (copy, text) => void (((choice(copy).message as JsonObject).audio as JsonObject).transcript = text) });
      }
      // An Anthropic upstream's reasoning (a canonical extension), block by block.
      const blocks = c.message.thinking_blocks;
      if (Array.isArray(blocks)) {
        blocks.forEach((b, k) => {
          if (!isObject(b) || typeof b.thinking !== 'string' || b.thinking === '') return;
          found.push({ slot: { role: 'assistant', text: b.thinking }, set: (copy, text) => void ((((choice(copy).message as JsonObject).thinking_blocks as JsonObject[])[k] as JsonObject).thinking = text) });
        });
      }
      // The legacy single function call (a request that declared `functions`).
      if (isObject(c.message.function_call) && typeof c.message.function_call.arguments === 'string') {
        found.push({ slot: { role: TOOL_CALL_ROLE, text: c.message.function_call.arguments, json: true }, set: (copy, text) => void (((choice(copy).message as JsonObject).function_call as JsonObject).arguments = text) });
      }
      if (Array.isArray(blocks)) {
        blocks.forEach((b, k) => {
          if (isObject(b)) otherFieldsOf(b, THINKING_BLOCK_FIELDS, ['choices', i, 'message', 'thinking_blocks', k], 'assistant', found);
        });
      }
      if (isObject(c.message.function_call)) otherFieldsOf(c.message.function_call, CALL_BODY_FIELDS, ['choices', i, 'message', 'function_call'], TOOL_CALL_ROLE, found);
    } else if (typeof c.text === 'string') {
      found.push({ slot: { role: 'assistant', text: c.text }, set: (copy, text) => void (choice(copy).text = text) });
    }
  });
  answerOtherFields(body, found, 'message');
  return bodyText(body, found);
}

/**
 * Top-level fields of an answer or stream chunk that responseText reads itself or that carry no
 * text (ids, settings, Azure's filter results; `obfuscation` is OpenAI's random padding of stream
 * chunks; `data` is an embeddings answer's vectors, base64 strings under `encoding_format: base64`,
 * which a scan could take for a card number and a Mask would corrupt). Any other field's strings
 * are read as the answer's text: an upstream's own fields reach the client as they came.
 */
const ANSWER_FIELDS: ReadonlySet<string> = new Set(['id', 'object', 'created', 'model', 'choices', 'data', 'usage', 'system_fingerprint', 'service_tier', 'obfuscation', 'prompt_filter_results']);
/** The same for a choice (`stop_reason` is vLLM's matched stop, from the request; the filter fields are Azure's verdicts). */
const CHOICE_FIELDS: ReadonlySet<string> = new Set(['index', 'message', 'delta', 'text', 'logprobs', 'finish_reason', 'stop_reason', 'content_filter_results', 'content_filter_offsets', 'token_ids']);
/** The same for a message of an answer, or a delta of a chunk (whose `thinking_blocks` carry signatures, read by NOT_TEXT's rule). */
const ANSWER_MESSAGE_FIELDS: ReadonlySet<string> = new Set(['role', 'content', 'refusal', ...REASONING_FIELDS, 'tool_calls', 'function_call', 'audio', 'thinking_blocks']);
const DELTA_FIELDS: ReadonlySet<string> = new Set(['role', 'content', 'tool_calls', 'function_call', 'audio']);
/** What a thinking block holds that is read (`thinking`) or is no text (its signature, a redacted block's data). */
const THINKING_BLOCK_FIELDS: ReadonlySet<string> = new Set(['type', 'thinking', 'signature', 'data']);

/** The strings of `value`'s fields but `known` ones and NOT_TEXT's, read as `role`'s text where they stand. */
function otherFieldsOf(value: JsonObject, known: ReadonlySet<string>, path: readonly (string | number)[], role: string, found: { slot: TextSlot; set: Setter }[]): void {
  for (const [key, v] of Object.entries(value)) {
    if (!known.has(key) && !(typeof v === 'string' && NOT_TEXT.has(key))) everyString(v, [...path, key], role, found);
  }
}

/**
 * A delta's own string field that a stream guard holds back and releases through its window, as it
 * does the content: a refusal, reasoning (vLLM), or a field the gateway does not know. Ids, types
 * and other NOT_TEXT strings are not text.
 */
export function isHeldDeltaField(key: string, value: unknown): value is string {
  return typeof value === 'string' && !DELTA_FIELDS.has(key) && !NOT_TEXT.has(key);
}

/**
 * The fields of an answer (`in` 'message') or a stream chunk (`in` 'delta') beside the text
 * responseText and the stream guard read: the answer's, each choice's, its message's or delta's,
 * its tool calls' fields the gateway does not know. A delta's own string fields are not among them
 * (the stream guard holds those back: isHeldDeltaField).
 */
function answerOtherFields(body: JsonObject, found: { slot: TextSlot; set: Setter; path?: readonly (string | number)[] }[], at: 'message' | 'delta'): void {
  otherFieldsOf(body, ANSWER_FIELDS, [], 'assistant', found);
  const choices = Array.isArray(body.choices) ? body.choices : [];
  choices.forEach((c, i) => {
    if (!isObject(c)) return;
    otherFieldsOf(c, CHOICE_FIELDS, ['choices', i], 'assistant', found);
    const m = c[at];
    if (!isObject(m)) return;
    for (const [key, v] of Object.entries(m)) {
      // Content as a list of parts (Mistral's reasoning models: thinking, then text) is read where
      // it stands; before, only string content was read, and such an answer passed every rule.
      const parts = key === 'content' && typeof v === 'object' && v !== null;
      if (!parts && (at === 'message' ? ANSWER_MESSAGE_FIELDS.has(key) : DELTA_FIELDS.has(key) || typeof v === 'string')) continue;
      if (typeof v === 'string' && NOT_TEXT.has(key)) continue;
      everyString(v, ['choices', i, at, key], 'assistant', found);
    }
    toolCallOtherFields(m.tool_calls, ['choices', i, at, 'tool_calls'], found);
    if (at === 'delta' && isObject(m.function_call)) otherFieldsOf(m.function_call, CALL_BODY_FIELDS, ['choices', i, at, 'function_call'], TOOL_CALL_ROLE, found);
  });
}

/** Whether a key of `value` is outside `known` and may hold text (answerOtherFields would read it): loops, no allocation. */
function hasOtherKey(value: JsonObject, known: ReadonlySet<string>, deltaOwn: boolean): boolean {
  for (const key in value) {
    if (known.has(key)) continue;
    const v = value[key];
    if (v === null || typeof v === 'number' || typeof v === 'boolean') continue;
    if (typeof v === 'string' && (deltaOwn || NOT_TEXT.has(key))) continue;
    return true;
  }
  return false;
}

/** Whether a stream chunk has a field chunkOtherText reads: most chunks have none, and are looked at without allocating. */
function chunkHasOther(chunk: JsonObject): boolean {
  if (hasOtherKey(chunk, ANSWER_FIELDS, false)) return true;
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return false;
  for (const c of choices) {
    if (!isObject(c)) continue;
    if (hasOtherKey(c, CHOICE_FIELDS, false)) return true;
    const d = c.delta;
    if (!isObject(d)) continue;
    if (hasOtherKey(d, DELTA_FIELDS, true)) return true;
    if (typeof d.content === 'object' && d.content !== null) return true;
    if (isObject(d.function_call) && hasOtherKey(d.function_call, CALL_BODY_FIELDS, false)) return true;
    if (!Array.isArray(d.tool_calls)) continue;
    for (const call of d.tool_calls) {
      if (!isObject(call)) continue;
      if (hasOtherKey(call, TOOL_CALL_FIELDS, false)) return true;
      if (isObject(call.function) && hasOtherKey(call.function, CALL_BODY_FIELDS, false)) return true;
      if (isObject(call.custom) && hasOtherKey(call.custom, CALL_BODY_FIELDS, false)) return true;
    }
  }
  return false;
}

/** A chunk's other text (chunkOtherText), with each slot's place in the chunk, dotted (`choices.0.delta.reasoning_details.0.text`). */
export interface ChunkOtherText extends BodyText {
  paths: string[];
}

/**
 * The strings of a stream chunk the stream guard does not hold back (answerOtherFields): each is
 * checked where it stands, with what the same field carried in the chunks before (the stream
 * guard's tails), and masked there. Undefined when the chunk carries none (most chunks).
 */
export function chunkOtherText(chunk: JsonObject): ChunkOtherText | undefined {
  if (!chunkHasOther(chunk)) return undefined;
  const found: { slot: TextSlot; set: Setter; path?: readonly (string | number)[] }[] = [];
  answerOtherFields(chunk, found, 'delta');
  const texts = found.filter((f) => f.slot.text !== '');
  return texts.length === 0 ? undefined : { ...bodyText(chunk, texts), paths: texts.map((f) => f.path?.join('.') ?? '') };
}
