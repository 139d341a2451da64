import { RequestTranslationError } from '../types.js';
import { base64DataUri } from './data-uri.js';
import { documentHeader } from './document-parts.js';
import { isObject } from './json-guards.js';
import { THINKING_PARTS } from './openai-wire.js';
import type { JsonObject } from '../../core/canonical.js';

/** How one provider writes the content parts it can carry. */
export interface PartWriter<T> {
  /** Text, and a refusal the assistant gave earlier (sent back as text); `part` is the part as sent (its hints). */
  text(text: string, part: JsonObject): T;
  /** An image_url part; `param` is the part's path for errors. */
  image(url: string, param: string, part: JsonObject): T;
  /** An input_audio part (base64 data, format such as wav); absent = the provider refuses audio. */
  audio?(data: string, format: string): T;
  /** A `file` part (`file`: file_data, file_id, or a document's file_url); absent = the provider refuses files. */
  file?(file: JsonObject, param: string, part: JsonObject): T;
  /**
   * A `thinking` or `redacted_thinking` part (an assistant's earlier reasoning, signed by the API
   * that wrote it); absent = the provider cannot take it back, and it is left out: the reasoning
   * was the model's own, not part of the conversation another model needs. Undefined leaves it out too.
   */
  thinking?(part: JsonObject): T | undefined;
  /**
   * The provider takes `/v1/messages` documents as they came (title, context, citations, a
   * document of content blocks): its writers read the document extensions themselves. Without it,
   * a document's title and context go before it as a text part, and citations are refused
   * (document-parts.ts).
   */
  documents?: true;
}

/**
 * OpenAI message content (a string or an array of parts) → one provider's parts: an empty string
 * is none; a part the provider cannot carry is refused with its path (`messages.3.content.1`).
 */
export function contentParts<T>(content: unknown, param: string, write: PartWriter<T>): T[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content === '' ? [] : [write.text(content, {})];
  if (!Array.isArray(content)) throw new RequestTranslationError('content must be a string or an array of parts', param);
  const out: T[] = [];
  content.forEach((part: unknown, i) => {
    const p = isObject(part) ? part : {};
    if (typeof p.type === 'string' && THINKING_PARTS.has(p.type)) {
      const reasoning = write.thinking?.(p);
      if (reasoning !== undefined) out.push(reasoning);
      return;
    }
    if (write.documents !== true) {
      const header = documentHeader(p, `${param}.${i}`);
      if (header !== undefined) out.push(write.text(header, {}));
    }
    out.push(contentPart(p, `${param}.${i}`, write));
  });
  return out;
}

/**
 * A file part's inline data (`file.file_data`, a base64 data URI), for a provider that takes files
 * only inline: a file by id or URL (an OpenAI file id, a `/v1/messages` document's URL or Files
 * API id) is refused, naming what the client sent.
 */
export function inlineFile(file: JsonObject, param: string, part: JsonObject): { mediaType: string; data: string } {
  if (typeof file.file_data === 'string') {
    const data = base64DataUri(file.file_data);
    if (data === undefined) throw new RequestTranslationError('file_data must be a base64 data: URI', param);
    return data;
  }
  if (!isObject(part.document)) throw new RequestTranslationError('files by file_id are not supported by this provider', param);
  const source = typeof file.file_url === 'string' ? 'url' : 'file';
  throw new RequestTranslationError(`document blocks with a ${source} source are not supported by this provider`, param);
}

function contentPart<T>(p: JsonObject, param: string, write: PartWriter<T>): T {
  if (p.type === 'text' && typeof p.text === 'string') return write.text(p.text, p);
  if (p.type === 'refusal' && typeof p.refusal === 'string') return write.text(p.refusal, p);
  if (p.type === 'image_url' && isObject(p.image_url) && typeof p.image_url.url === 'string') return write.image(p.image_url.url, param, p);
  if (p.type === 'input_audio' && write.audio !== undefined && isObject(p.input_audio) && typeof p.input_audio.data === 'string') {
    return write.audio(p.input_audio.data, String(p.input_audio.format ?? 'wav'));
  }
  if (p.type === 'file' && write.file !== undefined && isObject(p.file)) return write.file(p.file, param, p);
  // A `/v1/messages` document arrives as a file part: name what the client sent.
  const what = isObject(p.document) ? 'document blocks are' : `content part type ${String(p.type)} is`;
  throw new RequestTranslationError(`${what} not supported by this provider`, param);
}
