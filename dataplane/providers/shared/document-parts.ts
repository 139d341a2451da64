import type { JsonObject } from '../../core/canonical.js';
import { isObject } from './json-guards.js';

/**
 * A part's `document` extension, when it is (the first part of) a `/v1/messages` document: the
 * block's members other than its source (title, context, citations, as the client sent them).
 * Every part of a document made of content blocks (`source.type: "content"`) also carries
 * `document_part`, its index in that document (openai-wire.ts lists the extensions).
 */
export function documentOf(part: JsonObject): JsonObject | undefined {
  return isObject(part.document) ? part.document : undefined;
}

/** A part without the document extensions (for a wire that refuses members it does not know). */
export function withoutDocument(part: JsonObject): JsonObject {
  if (part.document === undefined && part.document_part === undefined) return part;
  const { document: _document, document_part: _index, ...rest } = part;
  return rest;
}
