import type { AnthropicSettings } from './anthropic-settings.js';
import { assistantToolCalls } from '../shared/assistant-tool-calls.js';
import { contentParts, type PartWriter } from '../shared/content-parts.js';
import { base64DataUri } from '../shared/data-uri.js';
import { functionTools } from '../shared/function-tools.js';
import { isObject } from '../shared/json-guards.js';
import { jsonResponseTool } from '../shared/json-response-tool.js';
import { stopSequences } from '../shared/stop-sequences.js';
import { RequestTranslationError } from '../types.js';
import type { JsonObject } from '../../core/canonical.js';
import type {
  AnthropicImageBlock,
  AnthropicMessage,
  AnthropicRequest,
  AnthropicRequestBlock,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
} from './anthropic-wire.js';

/** `data:<mime>;base64,<data>` or an http(s) URL → an Anthropic image block. */
export function imageBlock(url: string, param: string): AnthropicImageBlock {
  if (url.startsWith('data:')) {
    const data = base64DataUri(url);
    if (data === undefined) throw new RequestTranslationError('image data URIs must be base64 encoded', param);
    return { type: 'image', source: { type: 'base64', media_type: data.mediaType, data: data.data } };
  }
  if (url.startsWith('https://') || url.startsWith('http://')) return { type: 'image', source: { type: 'url', url } };
  throw new RequestTranslationError('image_url.url must be a data: URI or an http(s) URL', param);
}

const BLOCKS: PartWriter<AnthropicTextBlock | AnthropicImageBlock> = { text: (text) => ({ type: 'text', text }), image: imageBlock };

/** OpenAI content (string or parts) → Anthropic blocks; only text and images are representable. */
function contentBlocks(content: unknown, param: string): (AnthropicTextBlock | AnthropicImageBlock)[] {
  return contentParts(content, param, BLOCKS);
}

function textOf(content: unknown, param: string): string {
  return contentBlocks(content, param)
    .map((b) => (b.type === 'text' ? b.text : ''))
    .join('');
}

function push(messages: AnthropicMessage[], role: 'user' | 'assistant', blocks: AnthropicRequestBlock[]): void {
  if (blocks.length === 0) return;
  const last = messages[messages.length - 1];
  // Consecutive same-role turns are merged here so that tool results stay first and in order.
  if (last !== undefined && last.role === role && Array.isArray(last.content)) last.content.push(...blocks);
  else messages.push({ role, content: blocks });
}

function toolChoice(value: unknown, parallel: unknown): AnthropicToolChoice | undefined {
  const disable = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (value === undefined || value === null) return parallel === false ? { type: 'auto', ...disable } : undefined;
  if (value === 'none') return { type: 'none' };
  if (value === 'auto') return { type: 'auto', ...disable };
  if (value === 'required') return { type: 'any', ...disable };
  if (isObject(value) && isObject(value.function) && typeof value.function.name === 'string') return { type: 'tool', name: value.function.name, ...disable };
  throw new RequestTranslationError('unsupported tool_choice', 'tool_choice');
}

function tools(value: unknown): AnthropicTool[] {
  return functionTools(value).map((fn) => {
    const tool: AnthropicTool = { name: fn.name, input_schema: fn.parameters ?? { type: 'object', properties: {} } };
    if (fn.description !== undefined) tool.description = fn.description;
    return tool;
  });
}

/** OpenAI chat request → Anthropic Messages request. */
export function toAnthropicRequest(body: JsonObject, model: string, stream: boolean, settings: AnthropicSettings): AnthropicRequest {
  if (typeof body.n === 'number' && body.n > 1) throw new RequestTranslationError('n > 1 is not supported by this provider', 'n');
  const system: AnthropicTextBlock[] = [];
  const messages: AnthropicMessage[] = [];
  const list = Array.isArray(body.messages) ? body.messages : [];
  list.forEach((m: unknown, i) => {
    const msg = isObject(m) ? m : {};
    const param = `messages.${i}.content`;
    switch (msg.role) {
      case 'system':
      case 'developer': {
        const text = textOf(msg.content, param);
        if (text !== '') system.push({ type: 'text', text });
        return;
      }
      case 'user':
        push(messages, 'user', contentBlocks(msg.content, param));
        return;
      case 'assistant': {
        const blocks: AnthropicRequestBlock[] = contentBlocks(msg.content, param);
        for (const call of assistantToolCalls(msg, i, true)) blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: call.input });
        push(messages, 'assistant', blocks);
        return;
      }
      case 'tool': {
        if (typeof msg.tool_call_id !== 'string') throw new RequestTranslationError('tool message without tool_call_id', `messages.${i}.tool_call_id`);
        const content = typeof msg.content === 'string' ? msg.content : contentBlocks(msg.content, param);
        push(messages, 'user', [{ type: 'tool_result', tool_use_id: msg.tool_call_id, content }]);
        return;
      }
      default:
        throw new RequestTranslationError(`message role ${String(msg.role)} is not supported`, `messages.${i}.role`);
    }
  });

  const cap = body.max_completion_tokens ?? body.max_tokens;
  const out: AnthropicRequest = {
    model,
    max_tokens: typeof cap === 'number' && cap > 0 ? cap : settings.defaultMaxTokens,
    messages,
  };
  if (system.length > 0) out.system = system;
  const stop = stopSequences(body.stop);
  if (stop !== undefined) out.stop_sequences = stop;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (typeof body.top_k === 'number') out.top_k = body.top_k;
  const json = jsonResponseTool(body);
  if (json !== undefined) {
    // response_format: the JSON tool (see shared/json-response-tool.ts), beside the client's tools when it offers some.
    out.tools = [...(json.withClientTools ? tools(body.tools) : []), { name: json.name, description: json.description, input_schema: json.schema }];
    const disable = body.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
    out.tool_choice = json.choice.type === 'any' ? { type: 'any', ...disable } : { type: 'tool', name: json.choice.name, ...disable };
  } else {
    const t = tools(body.tools);
    const choice = toolChoice(body.tool_choice, body.parallel_tool_calls);
    if (t.length > 0) {
      out.tools = t;
      if (choice !== undefined) out.tool_choice = choice;
    }
  }
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };
  if (stream) out.stream = true;
  return out;
}
