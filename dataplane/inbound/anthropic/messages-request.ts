import { z } from 'zod';
import type { CanonicalRequest, JsonObject } from '../../core/canonical.js';
import { invalidRequest } from '../../core/request-issue.js';
import { errors } from '../../core/gateway-error.js';
import { firstIssueArray } from '../../core/first-issue-array.js';

/** A prompt-caching breakpoint ({type:'ephemeral', ttl?}): kept as the client wrote it. */
const CacheControl = z.looseObject({ type: z.string() });
const cacheControl = { cache_control: CacheControl.nullish() };
const TextBlock = z.looseObject({ type: z.literal('text'), text: z.string(), ...cacheControl });
const ImageBlock = z.looseObject({
  type: z.literal('image'),
  source: z.union([
    z.looseObject({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
    z.looseObject({ type: z.literal('url'), url: z.string() }),
  ]),
  ...cacheControl,
});
/**
 * A document (a PDF, plain text, or content blocks: text and images) by one of its sources: inline
 * base64, inline text, content, a URL, or a Files API id (beta); `title`, `context` and `citations`
 * ride along (the looseObject keeps them).
 */
const DocumentBlock = z.looseObject({
  type: z.literal('document'),
  source: z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
    z.looseObject({ type: z.literal('text'), media_type: z.string().optional(), data: z.string() }),
    z.looseObject({ type: z.literal('content'), content: z.union([z.string().min(1), firstIssueArray(z.union([TextBlock, ImageBlock]), 1)]) }),
    z.looseObject({ type: z.literal('url'), url: z.string() }),
    z.looseObject({ type: z.literal('file'), file_id: z.string() }),
  ]),
  ...cacheControl,
});
const ToolUseBlock = z.looseObject({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.unknown(), ...cacheControl });
const ToolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string(),
  content: z.union([z.string(), firstIssueArray(z.union([TextBlock, ImageBlock, DocumentBlock]))]).optional(),
  is_error: z.boolean().optional(),
  ...cacheControl,
});
/** The model's earlier reasoning, sent back as it came (its signature lets the API check it). */
const ThinkingBlock = z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() });
const RedactedThinkingBlock = z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() });
const Block = z.union([TextBlock, ImageBlock, DocumentBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock, RedactedThinkingBlock]);

/** The Anthropic Messages request, as much as the gateway translates; unknown fields are ignored. */
export const MessagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: firstIssueArray(z.looseObject({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), firstIssueArray(Block)]) }), 1),
  system: z.union([z.string(), firstIssueArray(TextBlock)]).optional(),
  stop_sequences: firstIssueArray(z.string()).optional(),
  temperature: z.number().optional(),
  top_p: z.number().optional(),
  top_k: z.number().int().optional(),
  stream: z.boolean().optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
  /** Priority Tier capacity when there is some (`auto`, the API's default) or never (`standard_only`). */
  service_tier: z.enum(['auto', 'standard_only']).optional(),
  /** Extended thinking ({type:'enabled', budget_tokens} and later forms): forwarded as sent. */
  thinking: z.looseObject({ type: z.string() }).optional(),
  /** Effort and structured output ({effort, format: {type:'json_schema', schema}}): forwarded as sent, restated for other targets. */
  output_config: z.looseObject({ effort: z.string().nullish(), format: z.looseObject({ type: z.string() }).nullish() }).optional(),
  tools: firstIssueArray(
    z.looseObject({ name: z.string(), description: z.string().optional(), input_schema: z.record(z.string(), z.unknown()).optional(), type: z.string().optional(), ...cacheControl }),
  ).optional(),
  tool_choice: z
    .union([
      z.looseObject({ type: z.enum(['auto', 'any', 'none']), disable_parallel_tool_use: z.boolean().optional() }),
      z.looseObject({ type: z.literal('tool'), name: z.string(), disable_parallel_tool_use: z.boolean().optional() }),
    ])
    .optional(),
});
export type MessagesRequest = z.infer<typeof MessagesRequestSchema>;
type Block = z.infer<typeof Block>;

type Hinted = { cache_control?: z.infer<typeof CacheControl> | null | undefined };

/** `target` with the block's cache breakpoint, when it has one (a canonical extension, see providers/shared/openai-wire.ts). */
function hinted(target: JsonObject, block: Hinted): JsonObject {
  if (block.cache_control !== undefined && block.cache_control !== null) target.cache_control = block.cache_control;
  return target;
}

function imageUrl(block: z.infer<typeof ImageBlock>): JsonObject {
  const url = block.source.type === 'base64' ? `data:${String(block.source.media_type)};base64,${String(block.source.data)}` : String(block.source.url);
  return hinted({ type: 'image_url', image_url: { url } }, block);
}

/**
 * A document block → canonical parts every stage reads: plain text as a text part, inline data as
 * a chat `file` part (a data URI, as OpenAI takes PDFs), a URL or Files API id as a `file` part
 * without data (estimates hold it as a file they cannot read), content blocks as their text and
 * image parts, each marked with its index in the document (`document_part`). The block's other
 * members (title, context, citations) travel as the `document` extension on its (first) part, which
 * marks the part as a document, so that an Anthropic target gets the block back as sent, rebuilt
 * from the parts (a guardrail's mask included), and other targets read its title and context as
 * text and refuse what they have no equivalent for (shared/document-parts.ts).
 */
function documentParts(block: z.infer<typeof DocumentBlock>): JsonObject[] {
  const { type: _type, source, cache_control: hint, ...document } = block;
  const extension = { document: document as JsonObject };
  switch (source.type) {
    case 'text':
      return [hinted({ type: 'text', text: source.data, ...extension }, block)];
    case 'base64':
      return [hinted({ type: 'file', file: { filename: 'document.pdf', file_data: `data:${source.media_type};base64,${source.data}` }, ...extension }, block)];
    case 'url':
      return [hinted({ type: 'file', file: { file_url: source.url }, ...extension }, block)];
    case 'file':
      return [hinted({ type: 'file', file: { file_id: source.file_id }, ...extension }, block)];
    case 'content': {
      // Its blocks' own breakpoints stay on their parts: the document's is among its members.
      if (hint !== undefined && hint !== null) extension.document.cache_control = hint;
      const inner = typeof source.content === 'string' ? [{ type: 'text', text: source.content }] : parts(source.content);
      return inner.map((part, k) => (k === 0 ? { ...part, ...extension, document_part: 0 } : { ...part, document_part: k }));
    }
  }
}

/** Text, image and document blocks as canonical parts, in order, with their cache breakpoints. */
function parts(blocks: readonly Block[]): JsonObject[] {
  const out: JsonObject[] = [];
  for (const b of blocks) {
    if (b.type === 'text') out.push(hinted({ type: 'text', text: b.text }, b));
    else if (b.type === 'image') out.push(imageUrl(b));
    else if (b.type === 'document') out.push(...documentParts(b));
  }
  return out;
}

/** Parts as content: a plain string when they are text without hints or documents (what every upstream takes), else the parts. */
function content(list: JsonObject[]): string | JsonObject[] {
  return list.every((p) => p.type === 'text' && p.cache_control === undefined && p.document === undefined && p.document_part === undefined) ? list.map((p) => String(p.text)).join('') : list;
}

/** A tool_result block → a tool message: text and images as parts, an error flagged (canonical extensions). */
function toolMessage(b: z.infer<typeof ToolResultBlock>): JsonObject {
  const c = b.content;
  const message: JsonObject = { role: 'tool', tool_call_id: b.tool_use_id, content: typeof c === 'string' ? c : content(parts(c ?? [])) };
  if (b.is_error === true) message.is_error = true;
  return hinted(message, b);
}

/** An assistant turn: thinking first (the API wants it before what it led to), then text; tool uses as tool calls. */
function assistantMessage(blocks: readonly Block[]): JsonObject {
  const reasoning: JsonObject[] = [];
  for (const b of blocks) {
    if (b.type === 'thinking') reasoning.push({ type: 'thinking', thinking: b.thinking, signature: b.signature });
    else if (b.type === 'redacted_thinking') reasoning.push({ type: 'redacted_thinking', data: b.data });
  }
  const text = parts(blocks);
  const toolCalls = blocks
    .filter((b): b is z.infer<typeof ToolUseBlock> => b.type === 'tool_use')
    .map((b) => hinted({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } }, b));
  const body = reasoning.length > 0 ? [...reasoning, ...text] : content(text);
  const assistant: JsonObject = { role: 'assistant', content: body === '' && toolCalls.length > 0 ? null : body };
  if (toolCalls.length > 0) assistant.tool_calls = toolCalls;
  return assistant;
}

/** The client's `anthropic-beta` header values (comma-separated, possibly repeated). */
function betasOf(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
}

/** Anthropic Messages request → canonical (OpenAI chat) request. Throws a GatewayError (400) when invalid. */
export function toCanonicalRequest(input: unknown, createdAt: number, betaHeader?: string): CanonicalRequest {
  const parsed = MessagesRequestSchema.safeParse(input);
  if (!parsed.success) throw invalidRequest(parsed.error, input);
  const r = parsed.data;
  const messages: JsonObject[] = [];
  if (typeof r.system === 'string') {
    if (r.system !== '') messages.push({ role: 'system', content: r.system });
  } else if (r.system !== undefined) {
    // Blocks stay blocks: each may carry a cache breakpoint, and Anthropic targets get them as sent.
    const system = parts(r.system.filter((b) => b.text !== ''));
    if (system.length > 0) messages.push({ role: 'system', content: system });
  }
  for (const m of r.messages) {
    const blocks: Block[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (m.role === 'user') {
      // Tool results become tool messages, which must directly follow the assistant turn that called.
      for (const b of blocks) if (b.type === 'tool_result') messages.push(toolMessage(b));
      const user = parts(blocks);
      if (user.length > 0) messages.push({ role: 'user', content: content(user) });
      continue;
    }
    messages.push(assistantMessage(blocks));
  }

  const body: JsonObject = { model: r.model, messages, max_tokens: r.max_tokens };
  if (r.stop_sequences !== undefined && r.stop_sequences.length > 0) body.stop = r.stop_sequences;
  if (r.temperature !== undefined) body.temperature = r.temperature;
  if (r.top_p !== undefined) body.top_p = r.top_p;
  if (r.top_k !== undefined) body.top_k = r.top_k;
  if (typeof r.metadata?.user_id === 'string') body.user = r.metadata.user_id;
  // OpenAI's names for the same choice (`default` is standard processing); an Anthropic target
  // gets the client's value back. Before, it was dropped, even on the way to Anthropic.
  if (r.service_tier !== undefined) body.service_tier = r.service_tier === 'standard_only' ? 'default' : 'auto';
  if (r.tools !== undefined && r.tools.length > 0) {
    body.tools = r.tools.map((t, i) => {
      if (t.type !== undefined && t.type !== 'custom') throw errors.badRequest(`tool type ${t.type} is not supported by this gateway`, `tools.${i}.type`);
      const fn: JsonObject = { name: t.name, parameters: t.input_schema ?? { type: 'object', properties: {} } };
      if (t.description !== undefined) fn.description = t.description;
      return hinted({ type: 'function', function: fn }, t);
    });
    const choice = r.tool_choice;
    if (choice !== undefined) {
      body.tool_choice = choice.type === 'auto' ? 'auto' : choice.type === 'any' ? 'required' : choice.type === 'none' ? 'none' : { type: 'function', function: { name: choice.name } };
      if (choice.disable_parallel_tool_use === true) body.parallel_tool_calls = false;
    }
  }
  if (r.thinking !== undefined) body.thinking = r.thinking;
  // Before, it was dropped: even an Anthropic target answered at the default effort, in free text.
  if (r.output_config !== undefined) body.output_config = r.output_config;
  const stream = r.stream === true;
  if (stream) {
    body.stream = true;
    // Usage is needed for message_delta; the gateway asks for it whatever the upstream.
    body.stream_options = { include_usage: true };
  }
  const request: CanonicalRequest = { op: 'chat', body, stream, clientWantsUsage: stream, createdAt, extended: true, translatedFrom: 'messages' };
  const betas = betasOf(betaHeader);
  if (betas.length > 0) request.betas = betas;
  return request;
}
