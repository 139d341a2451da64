import type { JsonObject } from '../../core/canonical.js';
import { isObject } from './json-guards.js';
import { RequestTranslationError } from '../types.js';

/**
 * A part's `document` extension, when it is (the first part of) a `/v1/messages` document: the
 * block's members other than its source (title, context, citations, as the client sent them).
 * Every part of a document made of content blocks (`source.type: "content"`) also carries
 * `document_part`, its index in that document (openai-wire.ts lists the extensions).
 */
export function documentOf(part: JsonObject): JsonObject | undefined {
  return isObject(part.document) ? part.document : undefined;
}

/**
 * What a target without documents reads before a document's content: its title and context, one
 * line each (`Document title: …`, `Document context: …`), as the model would otherwise not see them;
 * undefined without either. A document asking for citations is refused (400 naming its `citations`):
 * only Anthropic answers with cited passages, and an answer without them is not what was asked for;
 * a route goes on to a target that has them. Before, all three were dropped silently.
 */
export function documentHeader(part: JsonObject, param: string): string | undefined {
  const document = documentOf(part);
  if (document === undefined) return undefined;
  if (isObject(document.citations) && document.citations.enabled === true) {
    throw new RequestTranslationError('document citations are not supported by this provider', `${param}.citations`);
  }
  let header = '';
  if (typeof document.title === 'string' && document.title !== '') header += `Document title: ${document.title}\n`;
  if (typeof document.context === 'string' && document.context !== '') header += `Document context: ${document.context}\n`;
  return header === '' ? undefined : header;
}

/** A part without the document extensions (for a wire that refuses members it does not know). */
export function withoutDocument(part: JsonObject): JsonObject {
  if (part.document === undefined && part.document_part === undefined) return part;
  const { document: _document, document_part: _index, ...rest } = part;
  return rest;
}
