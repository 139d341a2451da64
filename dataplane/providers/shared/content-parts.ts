import { RequestTranslationError } from '../types.js';
import { isObject } from './json-guards.js';

/** How one provider writes the content parts it can carry. */
export interface PartWriter<T> {
  /** Text, and a refusal the assistant gave earlier (sent back as text). */
  text(text: string): T;
  /** An image_url part; `param` is the part's path for errors. */
  image(url: string, param: string): T;
  /** An input_audio part (base64 data, format such as wav); absent = the provider refuses audio. */
  audio?(data: string, format: string): T;
}

/**
 * OpenAI message content (a string or an array of parts) → one provider's parts: an empty string
 * is none; a part the provider cannot carry is refused with its path (`messages.3.content.1`).
 */
export function contentParts<T>(content: unknown, param: string, write: PartWriter<T>): T[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content === '' ? [] : [write.text(content)];
  if (!Array.isArray(content)) throw new RequestTranslationError('content must be a string or an array of parts', param);
  return content.map((part: unknown, i): T => {
    const p = isObject(part) ? part : {};
    if (p.type === 'text' && typeof p.text === 'string') return write.text(p.text);
    if (p.type === 'refusal' && typeof p.refusal === 'string') return write.text(p.refusal);
    if (p.type === 'image_url' && isObject(p.image_url) && typeof p.image_url.url === 'string') return write.image(p.image_url.url, `${param}.${i}`);
    if (p.type === 'input_audio' && write.audio !== undefined && isObject(p.input_audio) && typeof p.input_audio.data === 'string') {
      return write.audio(p.input_audio.data, String(p.input_audio.format ?? 'wav'));
    }
    throw new RequestTranslationError(`content part type ${String(p.type)} is not supported by this provider`, `${param}.${i}`);
  });
}
