import { z } from 'zod';
import type { CanonicalRequest, JsonObject, NativeRequest } from '../../core/canonical.js';
import { errors } from '../../core/gateway-error.js';
import { invalidRequest } from '../../core/request-issue.js';
import { typesServingNatively } from '../../providers/registry.js';
import { firstIssueArray } from '../../core/first-issue-array.js';

// The Responses API request (openai `ResponseCreateParams`), as much as the gateway translates to a
// canonical chat request. Unknown fields are ignored; fields that need state kept by OpenAI are refused.

const InputText = z.looseObject({ type: z.literal('input_text'), text: z.string() });
const InputImage = z.looseObject({
  type: z.literal('input_image'),
  image_url: z.string().nullish(),
  file_id: z.string().nullish(),
  detail: z.enum(['low', 'high', 'auto', 'original']).nullish(),
});
const InputFile = z.looseObject({
  type: z.literal('input_file'),
  file_data: z.string().nullish(),
  file_id: z.string().nullish(),
  file_url: z.string().nullish(),
  filename: z.string().nullish(),
});
const InputAudio = z.looseObject({ type: z.literal('input_audio'), input_audio: z.looseObject({ data: z.string(), format: z.string() }) });
const OutputText = z.looseObject({ type: z.literal('output_text'), text: z.string() });
const Refusal = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
const KnownPart = z.discriminatedUnion('type', [InputText, InputImage, InputFile, InputAudio, OutputText, Refusal]);
const KNOWN_PART_TYPES: ReadonlySet<string> = new Set(KnownPart.options.map((o) => o.shape.type.value));
/**
 * A part of a type this translation does not know (a newer API's, say): valid for all the gateway
 * can tell, so a native target gets it as sent and a translated one a 400 naming the part. A known
 * type with a bad shape is not one of these: it stays the schema's 400.
 */
const OtherPart = z
  .looseObject({ type: z.string().refine((t) => !KNOWN_PART_TYPES.has(t)) })
  .transform((p) => ({ type: 'other' as const, partType: p.type }));
const Part = z.union([KnownPart, OtherPart]);
type Part = z.infer<typeof Part>;

const MessageItem = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), firstIssueArray(Part)]),
});
const FunctionCallItem = z.looseObject({ type: z.literal('function_call'), call_id: z.string().min(1), name: z.string().min(1), arguments: z.string() });
const FunctionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), firstIssueArray(Part)]),
});
/** Any other item: checked by type below (reasoning is dropped, the rest refused with a reason). */
const OtherItem = z.looseObject({ type: z.string() });
const Item = z.union([MessageItem, FunctionCallItem, FunctionCallOutputItem, OtherItem]);
type Item = z.infer<typeof Item>;

const FunctionTool = z.looseObject({
  type: z.literal('function'),
  name: z.string().min(1),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});
const Tool = z.union([FunctionTool, z.looseObject({ type: z.string() })]);

const ToolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), name: z.string().min(1) }),
  z.looseObject({ type: z.string() }),
]);

const Format = z.union([
  z.looseObject({ type: z.enum(['text', 'json_object']) }),
  z.looseObject({
    type: z.literal('json_schema'),
    name: z.string().min(1),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().nullish(),
    strict: z.boolean().nullish(),
  }),
]);

export const ResponsesRequestSchema = z.looseObject({
  model: z.string().min(1),
  // Optional as in the API: a stored prompt or a conversation can stand for it (checked below).
  input: z.union([z.string(), firstIssueArray(Item, 1)]).optional(),
  instructions: z.string().nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  stream: z.boolean().nullish(),
  tools: firstIssueArray(Tool).nullish(),
  tool_choice: ToolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.looseObject({ format: Format.optional(), verbosity: z.enum(['low', 'medium', 'high']).nullish() }).nullish(),
  reasoning: z.looseObject({ effort: z.string().nullish() }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().nullish(),
  safety_identifier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  service_tier: z.string().nullish(),
  store: z.boolean().nullish(),
  previous_response_id: z.string().nullish(),
  conversation: z.unknown().optional(),
  background: z.boolean().nullish(),
  prompt: z.unknown().optional(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
});
export type ResponsesRequest = z.infer<typeof ResponsesRequestSchema>;

/** What the Response object repeats from the request (the API echoes its settings). */
export interface ResponsesEcho {
  model: string;
  instructions: string | null;
  max_output_tokens: number | null;
  metadata: Record<string, string>;
  parallel_tool_calls: boolean;
  temperature: number | null;
  top_p: number | null;
  tool_choice: unknown;
  tools: unknown[];
  text: JsonObject;
  reasoning: JsonObject;
  truncation: 'auto' | 'disabled';
  user?: string;
}

export interface TranslatedResponsesRequest {
  canonical: CanonicalRequest;
  echo: ResponsesEcho;
}

/**
 * Something the translation to chat cannot carry: a request with it can still be forwarded to a
 * target that serves the Responses API natively; for any other target it is the 400 the client gets.
 */
class Untranslatable extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

const NATIVE_ONLY = `only targets that serve the Responses API natively (Provider type ${typesServingNatively('responses').join(', ')}) can`;

const stateless = (what: string, param: string): never => {
  throw new Untranslatable(
    `${what} needs state that this gateway does not keep; ${NATIVE_ONLY} keep it (send the whole conversation in input instead)`,
    param,
  );
};

const untranslatable = (what: string, param: string): never => {
  throw new Untranslatable(`${what}; ${NATIVE_ONLY} serve it`, param);
};

/** Fields that only the upstream's own servers can honour (stored responses, conversations, prompts, background runs). */
function refuseStateful(r: ResponsesRequest): void {
  if (typeof r.previous_response_id === 'string' && r.previous_response_id !== '') stateless('previous_response_id', 'previous_response_id');
  if (r.store === true) stateless('store: true', 'store');
  if (r.conversation !== undefined && r.conversation !== null) stateless('conversation', 'conversation');
  if (r.background === true) stateless('background: true', 'background');
  if (r.prompt !== undefined && r.prompt !== null) stateless('prompt (a stored prompt template)', 'prompt');
}

const unknownPart = (p: { partType: string }, param: string): never => untranslatable(`content part of type ${p.partType} has no chat translation`, `${param}.type`);

function textOf(parts: string | Part[], param: string): string {
  if (typeof parts === 'string') return parts;
  return parts
    .map((p, i) => {
      if (p.type === 'input_text' || p.type === 'output_text') return p.text;
      if (p.type === 'refusal') return p.refusal;
      if (p.type === 'other') return unknownPart(p, `${param}.${i}`);
      throw errors.badRequest(`content of type ${p.type} is not allowed here, only text`, `${param}.${i}.type`);
    })
    .join('');
}

function userPart(p: Part, param: string): JsonObject {
  switch (p.type) {
    case 'other':
      return unknownPart(p, param);
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: p.text };
    case 'refusal':
      return { type: 'text', text: p.refusal };
    case 'input_image': {
      if (typeof p.image_url !== 'string' || p.image_url === '') {
        return untranslatable('input_image needs image_url (a URL or data: URI) here: file_id refers to a file stored upstream', `${param}.image_url`);
      }
      const image: JsonObject = { url: p.image_url };
      if (typeof p.detail === 'string' && p.detail !== 'original') image.detail = p.detail;
      return { type: 'image_url', image_url: image };
    }
    case 'input_file': {
      if (typeof p.file_url === 'string') untranslatable('input_file with file_url is not translated: send file_data', `${param}.file_url`);
      const file: JsonObject = {};
      if (typeof p.file_data === 'string') file.file_data = p.file_data;
      if (typeof p.file_id === 'string') file.file_id = p.file_id;
      if (typeof p.filename === 'string') file.filename = p.filename;
      return { type: 'file', file };
    }
    case 'input_audio':
      return { type: 'input_audio', input_audio: { data: p.input_audio.data, format: p.input_audio.format } };
  }
}

function userContent(content: string | Part[], param: string): string | JsonObject[] {
  if (typeof content === 'string') return content;
  const parts = content.map((p, i) => userPart(p, `${param}.${i}`));
  return parts.every((p) => p.type === 'text') ? parts.map((p) => String(p.text)).join('') : parts;
}

/**
 * A function_call_output's output as a tool message's content: text, or parts with the images and
 * files a tool returned (canonical extensions: each adapter carries what its API takes in a tool
 * result, see providers/shared/openai-wire.ts). Audio has no place in a tool result on any wire.
 */
function toolContent(output: string | Part[], param: string): string | JsonObject[] {
  if (typeof output !== 'string') {
    output.forEach((p, i) => {
      if (p.type === 'input_audio') untranslatable('input_audio in a function_call_output has no chat translation', `${param}.${i}.type`);
    });
  }
  return userContent(output, param);
}

function isMessage(item: Item): item is z.infer<typeof MessageItem> {
  return 'role' in item && (item.type === undefined || item.type === 'message');
}

/** The conversation (instructions first) as chat messages. */
function toMessages(r: ResponsesRequest): JsonObject[] {
  const messages: JsonObject[] = [];
  if (typeof r.instructions === 'string' && r.instructions !== '') messages.push({ role: 'system', content: r.instructions });
  if (r.input === undefined) return messages;
  if (typeof r.input === 'string') {
    messages.push({ role: 'user', content: r.input });
    return messages;
  }
  r.input.forEach((item, i) => {
    const param = `input.${i}`;
    if (isMessage(item)) {
      if (item.role === 'user') messages.push({ role: 'user', content: userContent(item.content, `${param}.content`) });
      else messages.push({ role: item.role, content: textOf(item.content, `${param}.content`) });
      return;
    }
    switch (item.type) {
      case 'function_call': {
        const call = item as z.infer<typeof FunctionCallItem>;
        const toolCall = { id: call.call_id, type: 'function', function: { name: call.name, arguments: call.arguments } };
        // Calls of one turn (and the text before them) are one assistant message on the chat wire.
        const last = messages[messages.length - 1];
        if (last?.role === 'assistant') {
          // Appended in place (these messages are this function's own): copying the array per call
          // made a request of many calls quadratic (80,000 calls, 5 MB: 48 s of the request thread).
          if (Array.isArray(last.tool_calls)) last.tool_calls.push(toolCall);
          else last.tool_calls = [toolCall];
          if (last.content === '') last.content = null;
        } else messages.push({ role: 'assistant', content: null, tool_calls: [toolCall] });
        return;
      }
      case 'function_call_output': {
        const out = item as z.infer<typeof FunctionCallOutputItem>;
        messages.push({ role: 'tool', tool_call_id: out.call_id, content: toolContent(out.output, `${param}.output`) });
        return;
      }
      case 'reasoning':
        // Reasoning from an earlier turn has no chat equivalent; the model does not need it back.
        return;
      case 'item_reference':
        stateless('an item_reference', `${param}.type`);
        return;
      default:
        untranslatable(`input item of type ${String(item.type)} has no chat translation`, `${param}.type`);
    }
  });
  return messages;
}

function chatTools(r: ResponsesRequest): JsonObject[] | undefined {
  if (r.tools === undefined || r.tools === null || r.tools.length === 0) return undefined;
  return r.tools.map((t, i) => {
    const parsed = FunctionTool.safeParse(t);
    if (!parsed.success) {
      if (t.type === 'function') throw invalidRequest(parsed.error, t);
      return untranslatable(`tool type ${t.type} is not supported by a translated target: only function tools are`, `tools.${i}.type`);
    }
    const fn: JsonObject = { name: parsed.data.name, parameters: parsed.data.parameters ?? { type: 'object', properties: {} } };
    if (typeof parsed.data.description === 'string') fn.description = parsed.data.description;
    if (typeof parsed.data.strict === 'boolean') fn.strict = parsed.data.strict;
    return { type: 'function', function: fn };
  });
}

function chatToolChoice(choice: z.infer<typeof ToolChoice>): unknown {
  if (typeof choice === 'string') return choice;
  if (choice.type === 'function' && typeof choice.name === 'string') return { type: 'function', function: { name: choice.name } };
  return untranslatable(`tool_choice of type ${choice.type} is not supported by a translated target`, 'tool_choice.type');
}

function responseFormat(format: z.infer<typeof Format>): JsonObject {
  if (format.type !== 'json_schema') return { type: format.type };
  const f = format as Extract<z.infer<typeof Format>, { type: 'json_schema' }>;
  const schema: JsonObject = { name: f.name, schema: f.schema };
  if (typeof f.description === 'string') schema.description = f.description;
  if (typeof f.strict === 'boolean') schema.strict = f.strict;
  return { type: 'json_schema', json_schema: schema };
}

/**
 * A media part of the input as the prompt estimate counts it (metering/token-estimate): an image at
 * its per-image allowance (whether a URL, a data URI or a file_id, none of which is read), audio by
 * its bytes, a file by its inline data or as one named (file_id, file_url); undefined for any other
 * value. Before, files were left out: a native-only request's file counted nothing.
 */
function mediaPart(o: JsonObject): JsonObject | undefined {
  if (o.type === 'input_image') return typeof o.detail === 'string' ? { type: 'input_image', detail: o.detail } : { type: 'input_image' };
  if (o.type === 'input_audio' && typeof o.input_audio === 'object' && o.input_audio !== null) return { type: 'input_audio', input_audio: o.input_audio };
  // A file: its inline data counted as its text, one by file_id or file_url held by Budgets (UNREAD_FILE_TOKENS).
  if (o.type === 'input_file') return typeof o.file_data === 'string' ? { type: 'input_file', file_data: o.file_data } : { type: 'input_file' };
  return undefined;
}

/**
 * Every text of the input, as one user message, with its images and audio as parts: what budgets,
 * limits, rules and guardrails read of a request that is not translated. Before, its images and
 * audio were left out, so a budget's hold counted none of the tokens they are billed for.
 */
function plainMessages(r: ResponsesRequest): JsonObject[] {
  const texts: string[] = [];
  const media: JsonObject[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'string') texts.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (typeof v === 'object' && v !== null) {
      const o = v as JsonObject;
      const part = mediaPart(o);
      if (part !== undefined) media.push(part);
      else for (const key of ['text', 'refusal', 'arguments', 'output', 'content']) if (o[key] !== undefined) collect(o[key]);
    }
  };
  collect(r.input);
  const messages: JsonObject[] = [];
  if (typeof r.instructions === 'string' && r.instructions !== '') messages.push({ role: 'system', content: r.instructions });
  const text = texts.join('\n');
  messages.push({ role: 'user', content: media.length === 0 ? text : [{ type: 'text', text }, ...media] });
  return messages;
}

function hasToolParts(body: JsonObject): boolean {
  return Array.isArray(body.messages) && body.messages.some((m: JsonObject) => m.role === 'tool' && Array.isArray(m.content));
}

/** The chat body of a translatable request (throws Untranslatable for what has no chat form). */
function chatBody(r: ResponsesRequest): JsonObject {
  refuseStateful(r);
  const body: JsonObject = { model: r.model, messages: toMessages(r) };
  const tools = chatTools(r);
  if (tools !== undefined) body.tools = tools;
  if (r.tool_choice !== undefined && r.tool_choice !== null) body.tool_choice = chatToolChoice(r.tool_choice);
  if (typeof r.parallel_tool_calls === 'boolean' && tools !== undefined) body.parallel_tool_calls = r.parallel_tool_calls;
  return body;
}

/**
 * Responses API request → canonical (OpenAI chat) request, plus what the Response object echoes.
 * The client's own request rides along (`native`) for targets that serve the Responses API; one
 * the chat translation cannot carry (state kept upstream, built-in tools) says why, and only such
 * targets serve it. Throws a GatewayError (400) when the request is invalid.
 */
export function toCanonicalRequest(input: unknown, createdAt: number): TranslatedResponsesRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw errors.badRequest('request body must be a JSON object');
  const parsed = ResponsesRequestSchema.safeParse(input);
  if (!parsed.success) throw invalidRequest(parsed.error, input);
  const r = parsed.data;
  if (r.input === undefined && (r.prompt === undefined || r.prompt === null) && (r.conversation === undefined || r.conversation === null)) {
    throw errors.badRequest('`input` is required unless the request names a stored `prompt` or a `conversation`', 'input');
  }

  let body: JsonObject;
  let requires: Untranslatable | undefined;
  try {
    body = chatBody(r);
  } catch (err) {
    if (!(err instanceof Untranslatable)) throw err;
    requires = err;
    body = { model: r.model, messages: plainMessages(r) };
    // As the client sent them (function schemas and built-in tools): the model reads them as prompt,
    // so the estimate counts them, and route rules see a request with tools.
    if (r.tools !== undefined && r.tools !== null && r.tools.length > 0) body.tools = r.tools;
  }
  if (typeof r.max_output_tokens === 'number') body.max_completion_tokens = r.max_output_tokens;
  if (typeof r.temperature === 'number') body.temperature = r.temperature;
  if (typeof r.top_p === 'number') body.top_p = r.top_p;
  if (r.text?.format !== undefined && r.text.format.type !== 'text') body.response_format = responseFormat(r.text.format);
  if (typeof r.text?.verbosity === 'string') body.verbosity = r.text.verbosity;
  if (typeof r.reasoning?.effort === 'string') body.reasoning_effort = r.reasoning.effort;
  const user = r.safety_identifier ?? r.user;
  if (typeof user === 'string') body.user = user;
  if (typeof r.prompt_cache_key === 'string') body.prompt_cache_key = r.prompt_cache_key;
  if (typeof r.service_tier === 'string') body.service_tier = r.service_tier;
  const stream = r.stream === true;
  if (stream) {
    body.stream = true;
    // The terminal event carries usage: the gateway asks every upstream for it.
    body.stream_options = { include_usage: true };
  }

  const echo: ResponsesEcho = {
    model: r.model,
    instructions: r.instructions ?? null,
    max_output_tokens: r.max_output_tokens ?? null,
    metadata: r.metadata ?? {},
    parallel_tool_calls: r.parallel_tool_calls ?? true,
    temperature: r.temperature ?? null,
    top_p: r.top_p ?? null,
    tool_choice: r.tool_choice ?? 'auto',
    tools: r.tools ?? [],
    text: { format: r.text?.format ?? { type: 'text' }, ...(typeof r.text?.verbosity === 'string' ? { verbosity: r.text.verbosity } : {}) },
    reasoning: { effort: r.reasoning?.effort ?? null, summary: null },
    truncation: r.truncation ?? 'disabled',
    ...(typeof r.user === 'string' ? { user: r.user } : {}),
  };
  const native: NativeRequest = { api: 'responses', body: input as JsonObject };
  if (requires !== undefined) native.requires = { message: requires.message, param: requires.param };
  const canonical: CanonicalRequest = { op: 'chat', body, stream, clientWantsUsage: stream, createdAt, native };
  // A tool message with images or files is a canonical extension: OpenAI-wire targets restate it.
  if (hasToolParts(body)) canonical.extended = true;
  return { canonical, echo };
}
