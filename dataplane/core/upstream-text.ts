import type { JsonObject } from './canonical.js';

const texts = new WeakMap<JsonObject, string>();

/**
 * Remembers that `body` is exactly `JSON.parse(text)` of an upstream response, so that a reply
 * that writes this very object back can send the upstream's bytes instead of re-serialising them
 * (as unchanged stream chunks are). Whoever changes a body makes a new object (as every adapter,
 * dialect and guardrail does): a changed body is never this one, so it is always serialised.
 */
export function parsedFrom(body: JsonObject, text: string): JsonObject {
  texts.set(body, text);
  return body;
}

/** The upstream text `body` was parsed from, when it is that unchanged object. */
export function upstreamTextOf(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null ? texts.get(body as JsonObject) : undefined;
}
