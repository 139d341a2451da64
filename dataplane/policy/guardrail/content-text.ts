import type { JsonObject } from '../../core/canonical.js';

/**
 * The text of a request or response body that guardrails read and may rewrite: one slot per piece
 * of text (a message's content or text part, a prompt, an embedding input, a choice's answer).
 * Reading never copies the body; `write` builds a changed copy and leaves the original alone, so a
 * masked body is a new object (the client's original is never mutated under a cache or a retry).
 */
export interface TextSlot {
  /** Who wrote it: user, system, assistant, tool (requests); assistant (responses); tool_call for a tool call's arguments or input. */
  role: string;
  text: string;
  /**
   * The text is JSON, or may be (a function call's arguments, a tool's result): its escapes spell
   * characters the reader sees as themselves, so it is scanned decoded (json-escapes.ts).
   */
  json?: true;
  /**
   * The text cannot be rewritten where it stands (a spoken answer's transcript: the audio says it
   * too): a rule that would mask it blocks instead.
   */
  unmaskable?: true;
  /**
   * The model reads it straight after the slot before (the next text part of the same message):
   * span rules also read the two as one text, so a match cut across parts is found.
   */
  joins?: true;
}

/** A piece of a request the checker cannot read as text (its field, dotted, and what it is): refused under text rules. */
export interface Unreadable {
  param: string;
  why: string;
}

export interface BodyText {
  slots: TextSlot[];
  /** What carries text the slots do not hold (request bodies only). */
  unreadable: Unreadable[];
  /** The body with each slot's text replaced by `texts[i]` (same order and length as slots). */
  write(texts: readonly string[]): JsonObject;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type Setter = (copy: JsonObject, text: string) => void;

/** Slots plus, for each, how to set it on a structured clone of the body. */
export function bodyText(body: JsonObject, found: { slot: TextSlot; set: Setter }[], unreadable: Unreadable[] = []): BodyText {
  return {
    slots: found.map((f) => f.slot),
    unreadable,
    write(texts) {
      const copy = structuredClone(body);
      found.forEach((f, i) => {
        const text = texts[i];
        if (text !== undefined && text !== f.slot.text) f.set(copy, text);
      });
      return copy;
    },
  };
}

export function arrayAt(copy: JsonObject, key: string): unknown[] {
  const v = copy[key];
  return Array.isArray(v) ? v : [];
}

/** The role of a tool call's arguments among the texts (webhooks see it too). */
export const TOOL_CALL_ROLE = 'tool_call';

/**
 * The arguments of each function call in a `tool_calls` list (a request's assistant message or an
 * answer's message): a JSON string, checked and masked as text (markers are JSON-safe inside it).
 * A custom tool's call (`{type:'custom', custom:{name, input}}`) carries free text, not JSON: its
 * input is checked and masked as it stands.
 */
export function toolCalls(calls: unknown, found: { slot: TextSlot; set: Setter }[], listIn: (copy: JsonObject) => unknown): void {
  if (!Array.isArray(calls)) return;
  calls.forEach((call, k) => {
    if (!isObject(call)) return;
    const callAt = (copy: JsonObject): JsonObject => (listIn(copy) as JsonObject[])[k] as JsonObject;
    if (isObject(call.function) && typeof call.function.arguments === 'string') {
      found.push({ slot: { role: TOOL_CALL_ROLE, text: call.function.arguments, json: true }, set: (copy, text) => void ((callAt(copy).function as JsonObject).arguments = text) });
    }
    if (isObject(call.custom) && typeof call.custom.input === 'string') {
      found.push({ slot: { role: TOOL_CALL_ROLE, text: call.custom.input }, set: (copy, text) => void ((callAt(copy).custom as JsonObject).input = text) });
    }
  });
}

/**
 * The field holding the text of each content part type that carries text. OpenAI-compatible
 * servers (vLLM among them) render all of these into the prompt, not only `text` parts.
 */
const TEXT_PART_FIELD: Readonly<Record<string, string>> = { text: 'text', input_text: 'text', output_text: 'text', refusal: 'refusal', thinking: 'thinking' };

/**
 * Content parts that carry media, not text: not checked (images, audio, files are documented as
 * such). `redacted_thinking` is reasoning the model's API encrypted and checks itself: no client
 * can write readable text into it.
 */
const MEDIA_PARTS = new Set(['image_url', 'input_image', 'image', 'input_audio', 'audio_url', 'video_url', 'file', 'input_file', 'redacted_thinking']);

/**
 * The fields of a media part that hold the media (by part type): not read. A data URL's base64
 * would cost a scan of megabytes and could look like a phone number to the detectors.
 */
const MEDIA_FIELDS: Readonly<Record<string, readonly string[]>> = {
  image_url: ['image_url'],
  input_image: ['image_url', 'file_id', 'detail'],
  image: ['image', 'source'],
  input_audio: ['input_audio'],
  audio_url: ['audio_url'],
  video_url: ['video_url'],
  file: ['file'],
  input_file: ['file_data', 'file_id', 'file_url', 'filename'],
  redacted_thinking: ['data'],
};

/**
 * Fields of a content part that are not its text: its type, a cache breakpoint (a canonical
 * extension) and a thinking part's signature (opaque; the model's API checks it).
 */
const PART_STRUCTURE = new Set(['type', 'cache_control', 'signature']);

/**
 * Fields of a chat message requestText reads itself, or that carry no text a model reads (ids,
 * flags, a cache breakpoint). Any other field's strings are read as the message's text: OpenAI-wire
 * servers forward a message as sent and chat templates may render any of its fields.
 */
const KNOWN_MESSAGE_FIELDS: ReadonlySet<string> = new Set(['role', 'content', 'name', 'tool_calls', 'function_call', 'tool_call_id', 'reasoning_content', 'reasoning', 'cache_control', 'is_error', 'prefix']);

const TOKEN_IDS = 'is given as token ids, which the guardrail cannot read (it has no tokenizer for the model); send it as text';

/** Assistant message fields some servers (vLLM, DeepSeek-style templates) render as the model's earlier reasoning. */
export const REASONING_FIELDS = ['reasoning_content', 'reasoning'] as const;

/** JSON Schema keywords whose strings are structure (types, references, property names), not text the model reads. */
const SCHEMA_STRUCTURE = new Set(['type', 'format', '$ref', '$schema', '$id', '$anchor', 'required']);

/**
 * Every string value of a JSON Schema (tool parameters, a structured-output schema) but its
 * structure: descriptions, titles, enum values, defaults and examples are rendered into the
 * prompt with the schema, so they are instructions the model reads.
 */
function schemaStrings(schema: unknown, at: (copy: JsonObject) => unknown, found: { slot: TextSlot; set: Setter }[]): void {
  const walk = (value: unknown, path: readonly (string | number)[]): void => {
    if (typeof value === 'string') {
      if (value === '') return;
      found.push({
        slot: { role: 'system', text: value },
        set: (copy, text) => {
          let node = at(copy);
          for (const key of path.slice(0, -1)) node = (node as Record<string | number, unknown>)[key];
          (node as Record<string | number, unknown>)[path[path.length - 1] ?? ''] = text;
        },
      });
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
    else if (isObject(value)) {
      for (const [key, v] of Object.entries(value)) if (!SCHEMA_STRUCTURE.has(key)) walk(v, [...path, key]);
    }
  };
  if (isObject(schema)) walk(schema, []);
}

function carriesString(value: unknown): boolean {
  if (typeof value === 'string') return value !== '';
  if (Array.isArray(value)) return value.some(carriesString);
  return isObject(value) && Object.values(value).some(carriesString);
}

/**
 * Text of a canonical request: chat messages (participant names, string content, every
 * text-carrying content part, bare strings in a content array, assistant reasoning, tool-call and
 * legacy function-call arguments), tool and function descriptions and their parameters' schemas, a
 * structured output's schema, a completion prompt, an embedding input. Everything here is
 * text a model reads. A content part of a type not known here that carries strings is listed as
 * unreadable: it might be rendered as text, and the checker would not have seen it.
 */
export function requestText(body: JsonObject): BodyText {
  const found: { slot: TextSlot; set: Setter }[] = [];
  const unreadable: Unreadable[] = [];
  if (Array.isArray(body.messages)) {
    body.messages.forEach((m, i) => {
      if (!isObject(m)) return;
      const role = typeof m.role === 'string' ? m.role : 'user';
      // A tool's result is often JSON, whose escapes spell what the model reads.
      const json: { json?: true } = role === 'tool' ? { json: true } : {};
      const message = (copy: JsonObject): JsonObject => arrayAt(copy, 'messages')[i] as JsonObject;
      // A participant's name is rendered into the prompt beside its message (OpenAI restricts its
      // characters; vLLM's chat templates and other servers take any string).
      if (typeof m.name === 'string' && m.name !== '') found.push({ slot: { role, text: m.name }, set: (copy, text) => void (message(copy).name = text) });
      if (typeof m.content === 'string') {
        found.push({ slot: { role, text: m.content, ...json }, set: (copy, text) => void (message(copy).content = text) });
      } else if (Array.isArray(m.content)) {
        // The slot of the text part before, while nothing but text has come between: the next text part joins it.
        let previous = -1;
        const joins = (): { joins?: true } => (previous >= 0 && previous === found.length - 1 ? { joins: true } : {});
        m.content.forEach((part, j) => {
          const parts = (copy: JsonObject): unknown[] => message(copy).content as unknown[];
          if (typeof part === 'string') {
            found.push({ slot: { role, text: part, ...json, ...joins() }, set: (copy, text) => void (parts(copy)[j] = text) });
            previous = found.length - 1;
            return;
          }
          previous = isObject(part) && typeof part.type === 'string' && TEXT_PART_FIELD[part.type] !== undefined ? previous : -1;
          if (!isObject(part)) return;
          const type = typeof part.type === 'string' ? part.type : undefined;
          const key = type === undefined ? undefined : TEXT_PART_FIELD[type];
          if (key !== undefined) {
            const value = part[key];
            if (typeof value === 'string') {
              found.push({ slot: { role, text: value, ...json, ...joins() }, set: (copy, text) => void ((parts(copy)[j] as JsonObject)[key] = text) });
              previous = found.length - 1;
            }
            otherPartFields(part, [key], ['messages', i, 'content', j], role, found);
            return;
          }
          if (type !== undefined && MEDIA_PARTS.has(type)) {
            otherPartFields(part, MEDIA_FIELDS[type] ?? [], ['messages', i, 'content', j], role, found);
            return;
          }
          const { type: _type, ...rest } = part;
          if (carriesString(rest)) {
            unreadable.push({ param: `messages.${i}.content.${j}`, why: `is a content part of type ${type ?? '(none)'}, which the guardrail does not read; send its text as a text part` });
          }
        });
      }
      for (const field of REASONING_FIELDS) {
        const value = m[field];
        if (typeof value === 'string') found.push({ slot: { role, text: value }, set: (copy, text) => void (message(copy)[field] = text) });
      }
      toolCalls(m.tool_calls, found, (copy) => message(copy).tool_calls);
      toolCallOtherFields(m.tool_calls, ['messages', i, 'tool_calls'], found);
      // The legacy single function call of an assistant message.
      if (isObject(m.function_call) && typeof m.function_call.arguments === 'string') {
        found.push({ slot: { role: TOOL_CALL_ROLE, text: m.function_call.arguments, json: true }, set: (copy, text) => void ((message(copy).function_call as JsonObject).arguments = text) });
      }
      // Content that is neither text nor a list of parts, and the fields of a message the gateway
      // does not know (an assistant's `refusal`, a template's own keys): read where they stand, as
      // unknown top-level fields are. Before, they went upstream unchecked.
      if (isObject(m.content)) everyString(m.content, ['messages', i, 'content'], role, found);
      for (const [field, value] of Object.entries(m)) {
        if (!KNOWN_MESSAGE_FIELDS.has(field) && !(typeof value === 'string' && NOT_TEXT.has(field))) everyString(value, ['messages', i, field], role, found);
      }
    });
    // Tool descriptions and their parameters' schemas are instructions the model reads, as a
    // system prompt is; so are the legacy `functions` and a structured output's schema.
    arrayAt(body, 'tools').forEach((tool, i) => {
      // A custom tool (free-text input): its description and its input's format (a grammar's definition).
      const custom = isObject(tool) && isObject(tool.custom) ? tool.custom : undefined;
      if (custom !== undefined) {
        const customAt = (copy: JsonObject): JsonObject => (arrayAt(copy, 'tools')[i] as JsonObject).custom as JsonObject;
        if (typeof custom.description === 'string') found.push({ slot: { role: 'system', text: custom.description }, set: (copy, text) => void (customAt(copy).description = text) });
        schemaStrings(custom.format, (copy) => customAt(copy).format, found);
      }
      const fn = isObject(tool) && isObject(tool.function) ? tool.function : undefined;
      if (fn === undefined) return;
      const fnAt = (copy: JsonObject): JsonObject => (arrayAt(copy, 'tools')[i] as JsonObject).function as JsonObject;
      if (typeof fn.description === 'string') found.push({ slot: { role: 'system', text: fn.description }, set: (copy, text) => void (fnAt(copy).description = text) });
      schemaStrings(fn.parameters, (copy) => fnAt(copy).parameters, found);
    });
    arrayAt(body, 'functions').forEach((fn, i) => {
      if (!isObject(fn)) return;
      const fnAt = (copy: JsonObject): JsonObject => arrayAt(copy, 'functions')[i] as JsonObject;
      if (typeof fn.description === 'string') found.push({ slot: { role: 'system', text: fn.description }, set: (copy, text) => void (fnAt(copy).description = text) });
      schemaStrings(fn.parameters, (copy) => fnAt(copy).parameters, found);
    });
    const format = body.response_format;
    if (isObject(format) && isObject(format.json_schema)) {
      const js = format.json_schema;
      const jsAt = (copy: JsonObject): JsonObject => (copy.response_format as JsonObject).json_schema as JsonObject;
      if (typeof js.description === 'string') found.push({ slot: { role: 'system', text: js.description }, set: (copy, text) => void (jsAt(copy).description = text) });
      schemaStrings(js.schema, (copy) => jsAt(copy).schema, found);
    }
    otherFields(body, found);
    return bodyText(body, found, unreadable);
  }
  // A completion's suffix is prompt text too (fill-in-the-middle).
  for (const key of ['prompt', 'suffix', 'input'] as const) {
    const v = body[key];
    if (typeof v === 'string') found.push({ slot: { role: 'user', text: v }, set: (copy, text) => void (copy[key] = text) });
    else if (Array.isArray(v)) {
      // Token ids are text the gateway cannot read: it has no tokenizer for the target's model.
      if (v.some((item) => typeof item === 'number')) unreadable.push({ param: key, why: TOKEN_IDS });
      v.forEach((item, i) => {
        if (typeof item === 'string') found.push({ slot: { role: 'user', text: item }, set: (copy, text) => void (arrayAt(copy, key)[i] = text) });
        else if (Array.isArray(item)) unreadable.push({ param: `${key}.${i}`, why: TOKEN_IDS });
      });
    }
  }
  otherFields(body, found);
  return bodyText(body, found, unreadable);
}

/**
 * Strings that are names, ids, settings, media or opaque tokens (a reasoning block's signature,
 * which its API checks), not text a model reads (by the key that holds them): skipped where a body
 * is read whole (a native request, the fields of a canonical request or message the checker does
 * not know).
 */
export const NOT_TEXT = new Set(['model', 'type', 'role', 'id', 'call_id', 'tool_call_id', 'status', 'previous_response_id', 'service_tier', 'truncation', 'safety_identifier', 'user', 'prompt_cache_key', 'effort', 'verbosity', 'detail', 'image_url', 'file_data', 'file_id', 'file_url', 'data', 'encrypted_content', 'signature']);

/** Sets the string at `path` (from the body's root) of a copy. */
function setAt(path: readonly (string | number)[]): Setter {
  return (copy, text) => {
    let at: unknown = copy;
    for (const key of path.slice(0, -1)) at = (at as Record<string | number, unknown>)[key];
    (at as Record<string | number, unknown>)[path[path.length - 1] ?? ''] = text;
  };
}

/**
 * Every string of `value` (at `path` in the body) but metadata and NOT_TEXT's, as slots of `role`,
 * each with its path (a stream guard carries a field's tail across chunks by it).
 */
export function everyString(value: unknown, path: readonly (string | number)[], role: string, found: { slot: TextSlot; set: Setter; path?: readonly (string | number)[] }[]): void {
  if (typeof value === 'string') found.push({ slot: { role, text: value }, set: setAt(path), path });
  else if (Array.isArray(value)) value.forEach((v, i) => everyString(v, [...path, i], role, found));
  else if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'metadata' || (typeof v === 'string' && NOT_TEXT.has(key))) continue;
      everyString(v, [...path, key], role, found);
    }
  }
}

/**
 * Top-level fields of a canonical request that requestText reads itself, and settings, ids and
 * options whose strings no model reads (`user` is often an e-mail address that names the caller,
 * `metadata` is not sent to the model, `tool_choice` names a tool). Any other field's strings are
 * read as the user's text: servers render fields the gateway does not know into the prompt (vLLM
 * `documents` and `chat_template_kwargs`, a prediction's content), so they are checked and masked
 * where they stand rather than refused.
 */
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  // read by requestText
  'messages', 'tools', 'functions', 'response_format', 'prompt', 'suffix', 'input',
  // settings
  'model', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'n', 'temperature', 'top_p', 'top_k', 'min_p',
  'presence_penalty', 'frequency_penalty', 'repetition_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'seed', 'echo', 'best_of',
  'user', 'safety_identifier', 'prompt_cache_key', 'prompt_cache_retention', 'metadata', 'store', 'service_tier',
  'tool_choice', 'parallel_tool_calls', 'function_call', 'reasoning_effort', 'verbosity', 'modalities', 'audio', 'thinking',
  'encoding_format', 'dimensions',
]);

/** What toolCalls reads of a call (or knows to be no text): by the object that holds it. */
export const TOOL_CALL_FIELDS: ReadonlySet<string> = new Set(['id', 'type', 'index', 'function', 'custom', 'cache_control']);
export const CALL_BODY_FIELDS: ReadonlySet<string> = new Set(['name', 'arguments', 'input']);

/** The strings of a request's tool calls beside their name, arguments and input, read as the call's text, as a message's other fields are. */
export function toolCallOtherFields(calls: unknown, path: readonly (string | number)[], found: { slot: TextSlot; set: Setter }[]): void {
  if (!Array.isArray(calls)) return;
  calls.forEach((call, k) => {
    if (!isObject(call)) return;
    for (const [field, value] of Object.entries(call)) {
      if (!TOOL_CALL_FIELDS.has(field)) everyString(value, [...path, k, field], TOOL_CALL_ROLE, found);
      else if ((field === 'function' || field === 'custom') && isObject(value)) {
        for (const [inner, v] of Object.entries(value)) if (!CALL_BODY_FIELDS.has(inner)) everyString(v, [...path, k, field, inner], TOOL_CALL_ROLE, found);
      }
    }
  });
}

/** The strings of a content part's fields but its text (`read`, read already) or media and its structure, read as the message's text. */
function otherPartFields(part: JsonObject, read: readonly string[], path: readonly (string | number)[], role: string, found: { slot: TextSlot; set: Setter }[]): void {
  for (const [field, value] of Object.entries(part)) {
    if (!PART_STRUCTURE.has(field) && !read.includes(field) && !(typeof value === 'string' && NOT_TEXT.has(field))) everyString(value, [...path, field], role, found);
  }
}

function otherFields(body: JsonObject, found: { slot: TextSlot; set: Setter }[]): void {
  for (const [key, value] of Object.entries(body)) {
    if (!KNOWN_FIELDS.has(key)) everyString(value, [key], 'user', found);
  }
}

/**
 * Every string of a client's own request that may reach the model, for a request forwarded as sent
 * (a Responses request served natively): its translation, which the request rules read otherwise,
 * carries only part of it (no reasoning items, no built-in or custom tools, no custom tool calls).
 * Metadata is not sent to the model and is not read.
 */
export function nativeText(body: JsonObject): BodyText {
  const found: { slot: TextSlot; set: Setter }[] = [];
  for (const [key, v] of Object.entries(body)) {
    if (key === 'metadata' || (typeof v === 'string' && NOT_TEXT.has(key))) continue;
    everyString(v, [key], key === 'instructions' ? 'system' : 'user', found);
  }
  return bodyText(body, found);
}

/**
 * The field of a canonical request that asks for the answer's tokens again, outside the text that
 * response rules check and mask (`choices[].logprobs`): undefined when it asks for none.
 */
export function logprobsField(body: JsonObject): 'logprobs' | 'top_logprobs' | undefined {
  // Completions take a number of alternatives (0 still returns the sampled tokens), chat a boolean.
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false) return 'logprobs';
  if (body.top_logprobs !== undefined && body.top_logprobs !== null && body.top_logprobs !== 0) return 'top_logprobs';
  return undefined;
}

/**
 * The field of a chat request that asks for a spoken answer (`modalities` naming audio, or `audio`
 * settings): undefined when it asks for none. Its audio says what its transcript says, and no rule
 * can mask audio.
 */
export function audioField(body: JsonObject): 'modalities' | 'audio' | undefined {
  if (Array.isArray(body.modalities) && body.modalities.includes('audio')) return 'modalities';
  if (body.audio !== undefined && body.audio !== null) return 'audio';
  return undefined;
}
