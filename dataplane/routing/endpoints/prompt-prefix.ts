import type { JsonObject } from '../../core/canonical.js';

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (typeof part === 'object' && part !== null && typeof (part as JsonObject).text === 'string' ? String((part as JsonObject).text) : ''))
    .join('');
}

/**
 * The part of a prompt that repeats across requests and decides prefix-cache hits: the leading
 * system/developer messages when there are any, otherwise the start of the conversation (or of a
 * completions prompt), at most `maxChars` characters. The model is part of the key: two adapters
 * never share cached blocks.
 */
export function promptPrefix(body: JsonObject, model: string, maxChars: number): string {
  let text = '';
  const messages = body.messages;
  if (Array.isArray(messages)) {
    const lead: string[] = [];
    for (const m of messages) {
      if (typeof m !== 'object' || m === null) break;
      const role = (m as JsonObject).role;
      if (role !== 'system' && role !== 'developer') break;
      lead.push(textOf((m as JsonObject).content));
    }
    text = lead.length > 0 ? lead.join('\n') : messages.map((m) => (typeof m === 'object' && m !== null ? textOf((m as JsonObject).content) : '')).join('\n');
  } else if (typeof body.prompt === 'string') {
    text = body.prompt;
  } else if (Array.isArray(body.prompt) && typeof body.prompt[0] === 'string') {
    text = body.prompt[0];
  }
  return `${model}\u0000${text.slice(0, maxChars)}`;
}
