import { z } from 'zod';
import type { CanonicalRequest, JsonObject } from '../../core/canonical.js';
import { invalidRequest } from '../../core/request-issue.js';
import { errors } from '../../core/gateway-error.js';
import { firstIssueArray } from '../../core/first-issue-array.js';

const TextBlock = z.looseObject({ type: z.literal('text'), text: z.string() });
const ImageBlock = z.looseObject({
  type: z.literal('image'),
  source: z.union([
    z.looseObject({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
    z.looseObject({ type: z.literal('url'), url: z.string() }),
  ]),
});
const ToolUseBlock = z.looseObject({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.unknown() });
const ToolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string(),
  content: z.union([z.string(), firstIssueArray(z.union([TextBlock, ImageBlock]))]).optional(),
  is_error: z.boolean().optional(),
});
/** Thinking blocks sent back by clients: accepted, not forwarded (no canonical equivalent). */
const IgnoredBlock = z.looseObject({ type: z.enum(['thinking', 'redacted_thinking']) });
const Block = z.union([TextBlock, ImageBlock, ToolUseBlock, ToolResultBlock, IgnoredBlock]);

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
  tools: firstIssueArray(z.looseObject({ name: z.string(), description: z.string().optional(), input_schema: z.record(z.string(), z.unknown()).optional(), type: z.string().optional() })).optional(),
  tool_choice: z
    .union([
      z.looseObject({ type: z.enum(['auto', 'any', 'none']), disable_parallel_tool_use: z.boolean().optional() }),
      z.looseObject({ type: z.literal('tool'), name: z.string(), disable_parallel_tool_use: z.boolean().optional() }),
    ])
    .optional(),
});
export type MessagesRequest = z.infer<typeof MessagesRequestSchema>;
type Block = z.infer<typeof Block>;

function imageUrl(block: z.infer<typeof ImageBlock>): JsonObject {
  const url = block.source.type === 'base64' ? `data:${String(block.source.media_type)};base64,${String(block.source.data)}` : String(block.source.url);
  return { type: 'image_url', image_url: { url } };
}

function userParts(blocks: Block[]): JsonObject[] {
  const parts: JsonObject[] = [];
  for (const b of blocks) {
    if (b.type === 'text') parts.push({ type: 'text', text: b.text });
    else if (b.type === 'image') parts.push(imageUrl(b as z.infer<typeof ImageBlock>));
  }
  return parts;
}

function toolResultText(b: z.infer<typeof ToolResultBlock>): string {
  const content = b.content;
  const text = typeof content === 'string' ? content : (content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('');
  return b.is_error === true ? `Error: ${text}` : text;
}

/** Anthropic Messages request → canonical (OpenAI chat) request. Throws a GatewayError (400) when invalid. */
export function toCanonicalRequest(input: unknown, createdAt: number): CanonicalRequest {
  const parsed = MessagesRequestSchema.safeParse(input);
  if (!parsed.success) throw invalidRequest(parsed.error, input);
  const r = parsed.data;
  const messages: JsonObject[] = [];
  if (r.system !== undefined) {
    const text = typeof r.system === 'string' ? r.system : r.system.map((b) => b.text).join('\n\n');
    if (text !== '') messages.push({ role: 'system', content: text });
  }
  for (const m of r.messages) {
    const blocks: Block[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (m.role === 'user') {
      // Tool results become tool messages, which must directly follow the assistant turn that called.
      for (const b of blocks) if (b.type === 'tool_result') messages.push({ role: 'tool', tool_call_id: b.tool_use_id, content: toolResultText(b as z.infer<typeof ToolResultBlock>) });
      const parts = userParts(blocks);
      if (parts.length > 0) messages.push({ role: 'user', content: parts.every((p) => p.type === 'text') ? parts.map((p) => String(p.text)).join('') : parts });
      continue;
    }
    const text = blocks.map((b) => (b.type === 'text' ? b.text : '')).join('');
    const toolCalls = blocks
      .filter((b): b is z.infer<typeof ToolUseBlock> => b.type === 'tool_use')
      .map((b) => ({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } }));
    const assistant: JsonObject = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text };
    if (toolCalls.length > 0) assistant.tool_calls = toolCalls;
    messages.push(assistant);
  }

  const body: JsonObject = { model: r.model, messages, max_tokens: r.max_tokens };
  if (r.stop_sequences !== undefined && r.stop_sequences.length > 0) body.stop = r.stop_sequences;
  if (r.temperature !== undefined) body.temperature = r.temperature;
  if (r.top_p !== undefined) body.top_p = r.top_p;
  if (r.top_k !== undefined) body.top_k = r.top_k;
  if (typeof r.metadata?.user_id === 'string') body.user = r.metadata.user_id;
  if (r.tools !== undefined && r.tools.length > 0) {
    body.tools = r.tools.map((t, i) => {
      if (t.type !== undefined && t.type !== 'custom') throw errors.badRequest(`tool type ${t.type} is not supported by this gateway`, `tools.${i}.type`);
      const fn: JsonObject = { name: t.name, parameters: t.input_schema ?? { type: 'object', properties: {} } };
      if (t.description !== undefined) fn.description = t.description;
      return { type: 'function', function: fn };
    });
    const choice = r.tool_choice;
    if (choice !== undefined) {
      body.tool_choice = choice.type === 'auto' ? 'auto' : choice.type === 'any' ? 'required' : choice.type === 'none' ? 'none' : { type: 'function', function: { name: choice.name } };
      if (choice.disable_parallel_tool_use === true) body.parallel_tool_calls = false;
    }
  }
  const stream = r.stream === true;
  if (stream) {
    body.stream = true;
    // Usage is needed for message_delta; the gateway asks for it whatever the upstream.
    body.stream_options = { include_usage: true };
  }
  return { op: 'chat', body, stream, clientWantsUsage: stream, createdAt };
}
