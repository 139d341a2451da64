import { askedOutputCap } from '../metering/output-bound.js';
import type { JsonObject } from '../core/canonical.js';

/** What rules may ask about a request, computed once per request without copying the body. */
export interface RequestFeatures {
  /** Estimated prompt tokens (metering/token-estimate). */
  promptTokens: number;
  /** The client's cap per completion (metering/output-bound askedOutputCap); undefined when it sets none. */
  maxTokens: number | undefined;
  tools: boolean;
  images: boolean;
  jsonSchema: boolean;
  stream: boolean;
}

const IMAGE_PART_TYPES = new Set(['image_url', 'input_image', 'image']);

function nonEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

function hasImage(messages: unknown): boolean {
  if (!Array.isArray(messages)) return false;
  for (const m of messages) {
    if (typeof m !== 'object' || m === null) continue;
    const content = (m as JsonObject).content;
    if (!Array.isArray(content)) continue;
    for (const part of content) {
      if (typeof part === 'object' && part !== null && IMAGE_PART_TYPES.has(String((part as JsonObject).type))) return true;
    }
  }
  return false;
}

/** The features of an OpenAI-shaped request body (the canonical form). */
export function requestFeatures(body: JsonObject, stream: boolean, promptTokens: number): RequestFeatures {
  const format = body.response_format;
  return {
    promptTokens,
    maxTokens: askedOutputCap(body),
    tools: nonEmptyArray(body.tools) || nonEmptyArray(body.functions),
    images: hasImage(body.messages),
    jsonSchema: typeof format === 'object' && format !== null && (format as JsonObject).type === 'json_schema',
    stream,
  };
}
