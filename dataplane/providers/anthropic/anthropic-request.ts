import { refuseUnsupported } from '../shared/unsupported-params.js';
import { withAllowedTools } from '../shared/allowed-tools.js';
import type { AnthropicSettings } from './anthropic-settings.js';
import { assistantToolCalls } from '../shared/assistant-tool-calls.js';
import { contentParts, type PartWriter } from '../shared/content-parts.js';
import { base64DataUri } from '../shared/data-uri.js';
import { functionTools } from '../shared/function-tools.js';
import { isObject } from '../shared/json-guards.js';
import { jsonResponseTool } from '../shared/json-response-tool.js';
import { claudeThinking } from '../shared/reasoning-effort.js';
import { stopSequences } from '../shared/stop-sequences.js';
import { RequestTranslationError } from '../types.js';
import type { JsonObject } from '../../core/canonical.js';
import type {
  AnthropicCacheControl,
  AnthropicDocumentBlock,
  AnthropicImageBlock,
  AnthropicMessage,
  AnthropicRedactedThinkingBlock,
  AnthropicRequest,
  AnthropicRequestBlock,
  AnthropicTextBlock,
  AnthropicThinkingBlock,
  AnthropicTool,
  AnthropicToolChoice,
  AnthropicToolResultBlock,
  AnthropicToolUseBlock,
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

/** The part's cache breakpoint (a canonical extension), kept on the block made from it. */
function hint<T extends object>(block: T, from: JsonObject): T & { cache_control?: AnthropicCacheControl } {
  const c = from.cache_control;
  return isObject(c) && typeof c.type === 'string' ? { ...block, cache_control: c as unknown as AnthropicCacheControl } : block;
}

/**
 * An assistant's earlier reasoning (a canonical extension) as the block the API wrote. Reasoning
 * without a signature was not Anthropic's (another model's, relayed as a thinking block): the API
 * would refuse it, so it is left out.
 */
function thinkingBlock(part: JsonObject): AnthropicThinkingBlock | AnthropicRedactedThinkingBlock | undefined {
  if (part.type === 'redacted_thinking') return typeof part.data === 'string' && part.data !== '' ? { type: 'redacted_thinking', data: part.data } : undefined;
  if (typeof part.signature !== 'string' || part.signature === '') return undefined;
  return { type: 'thinking', thinking: typeof part.thinking === 'string' ? part.thinking : '', signature: part.signature };
}

/**
 * A document's members other than its source (title, context, citations), as the `/v1/messages`
 * client sent them (the `document` extension); the source is rebuilt from the part, so that what a
 * guardrail masked in it stays masked.
 */
function documentOf(part: JsonObject, source: AnthropicDocumentBlock['source']): AnthropicDocumentBlock {
  const extras = isObject(part.document) ? part.document : {};
  return { ...extras, type: 'document', source };
}

/**
 * A file part → a document block: inline data (a chat client's PDF too) as a base64 source; a
 * URL or Files API id only from a `/v1/messages` document (a chat client's file_id is OpenAI's).
 */
function fileBlock(file: JsonObject, param: string, part: JsonObject): AnthropicDocumentBlock {
  if (typeof file.file_data === 'string') {
    const data = base64DataUri(file.file_data);
    if (data === undefined) throw new RequestTranslationError('file_data must be a base64 data: URI', param);
    return documentOf(part, { type: 'base64', media_type: data.mediaType, data: data.data });
  }
  if (isObject(part.document) && typeof file.file_url === 'string') return documentOf(part, { type: 'url', url: file.file_url });
  if (isObject(part.document) && typeof file.file_id === 'string') return documentOf(part, { type: 'file', file_id: file.file_id });
  throw new RequestTranslationError('files by file_id are not supported by this provider', param);
}

type ContentBlock = AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock | AnthropicThinkingBlock | AnthropicRedactedThinkingBlock;

/**
 * Where a block written from a part of a content-block document stands in it (the part's
 * `document_part`), and on its first, the document's other members: contentBlocks puts the run
 * back together. A symbol, so that it never reaches the wire.
 */
const IN_DOCUMENT = Symbol('inDocument');
type InDocument = { [IN_DOCUMENT]?: { index: number; extras: JsonObject } };

function inDocument<T extends AnthropicTextBlock | AnthropicImageBlock>(block: T, part: JsonObject): T {
  if (typeof part.document_part !== 'number') return block;
  return Object.assign(block, { [IN_DOCUMENT]: { index: part.document_part, extras: isObject(part.document) ? part.document : {} } });
}

const BLOCKS: PartWriter<ContentBlock> = {
  // Text from a `/v1/messages` text document goes back as that document (a content document's text as its text block).
  text: (text, part) =>
    typeof part.document_part === 'number'
      ? inDocument(hint({ type: 'text', text }, part), part)
      : hint(isObject(part.document) ? documentOf(part, { type: 'text', media_type: 'text/plain', data: text }) : { type: 'text', text }, part),
  image: (url, param, part) => inDocument(hint(imageBlock(url, param), part), part),
  file: (file, param, part) => hint(fileBlock(file, param, part), part),
  thinking: thinkingBlock,
  documents: true,
};

/**
 * The blocks of each content-block document (parts with `document_part`, in a run from index 0) as
 * that one document, its other members (title, context, citations, its cache breakpoint) as sent.
 */
function withContentDocuments(blocks: ContentBlock[]): ContentBlock[] {
  if (!blocks.some((b) => (b as InDocument)[IN_DOCUMENT] !== undefined)) return blocks;
  const out: ContentBlock[] = [];
  let open: (AnthropicTextBlock | AnthropicImageBlock)[] | undefined;
  for (const block of blocks) {
    const place = (block as InDocument)[IN_DOCUMENT];
    if (place === undefined || (block.type !== 'text' && block.type !== 'image')) {
      open = undefined;
      out.push(block);
    } else if (place.index === 0 || open === undefined) {
      open = [block];
      out.push({ ...place.extras, type: 'document', source: { type: 'content', content: open } });
    } else open.push(block);
  }
  return out;
}

/** OpenAI content (string or parts) → Anthropic blocks: text, images and (an assistant's) reasoning, with their cache breakpoints. */
function contentBlocks(content: unknown, param: string): ContentBlock[] {
  return withContentDocuments(contentParts(content, param, BLOCKS));
}

/** Text, images and documents are content a user gives (reasoning is an assistant's alone). */
function givenBlocks(content: unknown, param: string): (AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock)[] {
  return contentBlocks(content, param).filter((b): b is AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock => b.type === 'text' || b.type === 'image' || b.type === 'document');
}

/** A tool message → a tool_result: text or blocks (images included), its error flag and cache breakpoint. */
function toolResult(msg: JsonObject, toolUseId: string, param: string): AnthropicToolResultBlock {
  const block: AnthropicToolResultBlock = { type: 'tool_result', tool_use_id: toolUseId, content: typeof msg.content === 'string' ? msg.content : givenBlocks(msg.content, param) };
  if (msg.is_error === true) block.is_error = true;
  return hint(block, msg);
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
  const given = Array.isArray(value) ? value : [];
  return functionTools(value).map((fn, i) => {
    const tool: AnthropicTool = { name: fn.name, input_schema: fn.parameters ?? { type: 'object', properties: {} } };
    if (fn.description !== undefined) tool.description = fn.description;
    const source: unknown = given[i];
    return isObject(source) ? hint(tool, source) : tool;
  });
}

/** The longest `metadata.user_id` the Messages API takes (a longer one is its 400). */
const MAX_USER_ID = 256;

/**
 * The end user the client names, as `metadata.user_id`: `safety_identifier` (OpenAI's successor to
 * `user`, which it names the same person with) first, else `user`. An id the API would refuse for
 * its length is left out: it only labels the request for abuse detection, the answer is the same.
 */
function endUser(body: JsonObject): string | undefined {
  for (const id of [body.safety_identifier, body.user]) if (typeof id === 'string' && id !== '' && id.length <= MAX_USER_ID) return id;
  return undefined;
}

/**
 * OpenAI's `service_tier` in Anthropic's terms. `default` and `flex` (never faster than standard)
 * are `standard_only`: the request keeps off the organisation's Priority Tier capacity, as asked;
 * `auto`, `priority` and `scale` (use reserved or priority capacity when there is some) are `auto`,
 * which is what Anthropic does without the field. Anthropic has no cheaper tier than standard.
 */
function serviceTier(value: unknown): 'auto' | 'standard_only' | undefined {
  if (value === 'default' || value === 'flex') return 'standard_only';
  if (value === 'auto' || value === 'priority' || value === 'scale') return 'auto';
  return undefined;
}

/** OpenAI chat request → Anthropic Messages request. */
export function toAnthropicRequest(request: JsonObject, model: string, stream: boolean, settings: AnthropicSettings): AnthropicRequest {
  const body = withAllowedTools(request);
  refuseUnsupported(body);
  const system: AnthropicTextBlock[] = [];
  const messages: AnthropicMessage[] = [];
  const list = Array.isArray(body.messages) ? body.messages : [];
  list.forEach((m: unknown, i) => {
    const msg = isObject(m) ? m : {};
    const param = `messages.${i}.content`;
    switch (msg.role) {
      case 'system':
      case 'developer': {
        // Each text part its own block: a part may carry a cache breakpoint.
        for (const b of givenBlocks(msg.content, param)) if (b.type === 'text' && b.text !== '') system.push(b);
        return;
      }
      case 'user':
        push(messages, 'user', givenBlocks(msg.content, param));
        return;
      case 'assistant': {
        const blocks: AnthropicRequestBlock[] = contentBlocks(msg.content, param);
        const calls: unknown[] = Array.isArray(msg.tool_calls) ? msg.tool_calls : [];
        assistantToolCalls(msg, i, true).forEach((call, j) => {
          const source = calls[j];
          const use: AnthropicToolUseBlock = { type: 'tool_use', id: call.id, name: call.name, input: call.input };
          blocks.push(isObject(source) ? hint(use, source) : use);
        });
        push(messages, 'assistant', blocks);
        return;
      }
      case 'tool': {
        if (typeof msg.tool_call_id !== 'string') throw new RequestTranslationError('tool message without tool_call_id', `messages.${i}.tool_call_id`);
        push(messages, 'user', [toolResult(msg, msg.tool_call_id, param)]);
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
  const userId = endUser(body);
  if (userId !== undefined) out.metadata = { user_id: userId };
  const tier = serviceTier(body.service_tier);
  if (tier !== undefined) out.service_tier = tier;
  // The client's extended-thinking request (a canonical extension), as it sent it; else its reasoning_effort as a budget.
  if (isObject(body.thinking) && typeof body.thinking.type === 'string') out.thinking = body.thinking;
  else {
    const thinking = claudeThinking(body, model, out.max_tokens, true);
    if (thinking !== undefined) out.thinking = thinking;
  }
  // The client's output_config (a canonical extension from /v1/messages): the API's own, as sent.
  if (isObject(body.output_config)) out.output_config = body.output_config;
  if (stream) out.stream = true;
  return out;
}
