import type { JsonObject } from '../providers/types.js';

/** A cheap, tokenizer-free estimate (about four characters per token for English text and code). */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

function collect(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, out);
  else if (typeof value === 'object' && value !== null) {
    const o = value as JsonObject;
    if (typeof o.text === 'string') out.push(o.text);
    if (o.content !== undefined) collect(o.content, out);
  }
}

/** The prompt text of a chat, completions or embeddings request. */
export function promptText(body: JsonObject): string {
  const parts: string[] = [];
  collect(body.messages ?? body.prompt ?? body.input, parts);
  return parts.join('\n');
}
