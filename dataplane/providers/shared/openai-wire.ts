import type { JsonObject } from '../../core/canonical.js';
import { documentHeader, withoutDocument } from './document-parts.js';
import { isObject } from './json-guards.js';
import { RequestTranslationError } from '../types.js';
import { reasoningEffortForClient } from './openai-reasoning.js';
import { restateOutputConfig } from './output-config.js';

/**
 * The canonical extensions: what a translated client request (the Anthropic Messages API) carries
 * beyond OpenAI chat, in the canonical body, so that every stage (guardrails, capture, estimates)
 * sees it and each adapter decides what its API can take:
 *  - `thinking` (top level): the client's extended-thinking request, as it sent it;
 *  - `output_config` (top level): the client's effort and structured-output format, as it sent
 *    them (shared/output-config.ts);
 *  - `cache_control` on a content part, a tool, an assistant's tool call, a tool message: a prompt
 *    caching breakpoint;
 *  - assistant content parts `{type:'thinking', thinking, signature}` and
 *    `{type:'redacted_thinking', data}`: the model's earlier reasoning, sent back;
 *  - a tool message whose content parts include `image_url` (or `file`, from a Responses client's
 *    function_call_output, or a `/v1/messages` document), and `is_error: true` on it;
 *  - `document` on a content part: a `/v1/messages` document block's members other than its source
 *    (title, context, citations), on the part its source became (a text part for a text document, a
 *    `file` part for a PDF, URL or Files API id); `document_part` (a number) on each part of a
 *    document made of content blocks, its index there, `document` on the first
 *    (shared/document-parts.ts).
 * Answers may carry `message.thinking_blocks` (and stream `delta.reasoning_content` and
 * `delta.thinking_blocks`), which OpenAI clients ignore.
 */

/** The reasoning parts of an assistant message that only the API that wrote them can take back. */
export const THINKING_PARTS: ReadonlySet<string> = new Set(['thinking', 'redacted_thinking']);

function withoutCacheControl(value: unknown): unknown {
  if (!isObject(value) || !('cache_control' in value)) return value;
  const { cache_control: _hint, ...rest } = value;
  return rest;
}

/**
 * A content part for OpenAI: without its hint, and a `/v1/messages` document (the `document`
 * extensions) as the plain text, image or inline file it is. A document OpenAI cannot fetch (a URL,
 * an Anthropic Files API id) is refused, naming the block: nothing is sent.
 */
function wirePart(part: unknown, param: string): unknown {
  if (!isObject(part) || (part.document === undefined && part.document_part === undefined)) return withoutCacheControl(part);
  if (isObject(part.document) && part.type === 'file' && !(isObject(part.file) && typeof part.file.file_data === 'string')) {
    const source = isObject(part.file) && typeof part.file.file_url === 'string' ? 'url' : 'file';
    throw new RequestTranslationError(`document blocks with a ${source} source are not supported by this provider`, param);
  }
  return withoutCacheControl(withoutDocument(part));
}

/** `part` for OpenAI (wirePart), after its document's title and context as a text part, if it has them. */
function pushWirePart(out: unknown[], part: unknown, param: string): void {
  const header = isObject(part) ? documentHeader(part, param) : undefined;
  if (header !== undefined) out.push({ type: 'text', text: header });
  out.push(wirePart(part, param));
}

/** What OpenAI's chat wire takes from a user but not in a tool message. */
const USER_ONLY_PARTS: ReadonlySet<string> = new Set(['image_url', 'file']);

/**
 * A tool message for OpenAI: text only (an error says so in its text); its images and files, if any,
 * apart. A `/v1/messages` document in it is its text (a text document, a document's title and
 * context) or goes apart with the images (a PDF; a URL or Files API document is refused, as in a user turn).
 */
function toolMessage(m: JsonObject, i: number): { message: JsonObject; media: JsonObject[] } {
  const { cache_control: _hint, is_error: isError, ...rest } = m;
  const media: JsonObject[] = [];
  let text: string;
  if (Array.isArray(m.content)) {
    const texts: string[] = [];
    m.content.forEach((part: unknown, j) => {
      if (!isObject(part)) return;
      const param = `messages.${i}.content.${j}`;
      const header = documentHeader(part, param);
      if (header !== undefined) texts.push(header);
      if (typeof part.type === 'string' && USER_ONLY_PARTS.has(part.type)) media.push(wirePart(part, param) as JsonObject);
      else if (typeof part.text === 'string') texts.push(part.text);
    });
    text = texts.join('');
  } else text = typeof m.content === 'string' ? m.content : '';
  return { message: { ...rest, content: isError === true ? `Error: ${text}` : text }, media };
}

/**
 * The canonical extensions restated for OpenAI's wire, which refuses members it does not know:
 * hints dropped (OpenAI caches prefixes by itself), `thinking` and `output_config.effort` restated
 * as `reasoning_effort` for a `model` that takes it (shared/openai-reasoning.ts) and dropped
 * otherwise, `output_config.format` as `response_format`, a tool error put in its text, and tool-result images and files moved into a user message after the
 * tool messages (OpenAI takes them only from users; a message between two tool results would break
 * the run of answers to one assistant turn).
 */
export function toOpenAiWire(body: JsonObject, model: string): JsonObject {
  const { thinking: _thinking, output_config: config, ...out } = body;
  const effort = reasoningEffortForClient(body, model);
  if (effort !== undefined) out.reasoning_effort = effort;
  if (config !== undefined) {
    const format = restateOutputConfig(body).response_format;
    if (format !== undefined && format !== null) out.response_format = format;
  }
  if (Array.isArray(body.tools)) out.tools = body.tools.map(withoutCacheControl);
  if (!Array.isArray(body.messages)) return out;
  const messages: unknown[] = [];
  let pendingMedia: JsonObject[] = [];
  const flushMedia = (): void => {
    if (pendingMedia.length > 0) messages.push({ role: 'user', content: pendingMedia });
    pendingMedia = [];
  };
  for (const [i, m] of body.messages.entries()) {
    if (!isObject(m)) {
      messages.push(m);
      continue;
    }
    if (m.role === 'tool') {
      const { message, media } = toolMessage(m, i);
      messages.push(message);
      pendingMedia.push(...media);
      continue;
    }
    flushMedia();
    const copy: JsonObject = { ...m };
    delete copy.cache_control;
    if (Array.isArray(m.content)) {
      const parts: unknown[] = [];
      m.content.forEach((p: unknown, j) => {
        if (!(isObject(p) && typeof p.type === 'string' && THINKING_PARTS.has(p.type))) pushWirePart(parts, p, `messages.${i}.content.${j}`);
      });
      copy.content = parts.length === 0 && m.role === 'assistant' ? (Array.isArray(m.tool_calls) && m.tool_calls.length > 0 ? null : '') : parts;
    }
    if (Array.isArray(m.tool_calls)) copy.tool_calls = m.tool_calls.map(withoutCacheControl);
    messages.push(copy);
  }
  flushMedia();
  out.messages = messages;
  return out;
}
