import type { JsonObject } from '../../core/canonical.js';

/** The fields of an OpenAI request the dialect reads once it is valid. */
export interface RequestFields {
  model: string;
  stream?: boolean | null | undefined;
  stream_options?: { include_usage?: boolean | undefined } | null | undefined;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What `z.number().int().positive().nullish()` accepts of a JSON value. */
function countOrNothing(value: unknown): boolean {
  return value === undefined || value === null || (Number.isSafeInteger(value) && (value as number) > 0);
}

/**
 * The chat body most clients send, checked by hand: the request schema's `safeParse` (zod) allocates
 * a result, a payload and a copy of every object it walks, which showed in the gateway's profile.
 * Only a body the chat schema (request-schemas.ts) accepts is accepted here, read the same way;
 * anything else is undefined and goes to the schema, whose messages the client then gets. The body
 * is a parsed JSON value (no functions, no NaN).
 */
export function commonChat(body: JsonObject): RequestFields | undefined {
  const { model, messages } = body;
  if (typeof model !== 'string' || model.length === 0 || !Array.isArray(messages) || messages.length === 0) return undefined;
  for (const message of messages) {
    if (!isObject(message)) return undefined;
    const role = message.role;
    if (typeof role !== 'string' || role.length === 0) return undefined;
  }
  const { stream, stream_options: options } = body;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') return undefined;
  if (options !== undefined && options !== null) {
    if (!isObject(options)) return undefined;
    if (options.include_usage !== undefined && typeof options.include_usage !== 'boolean') return undefined;
  }
  if (!countOrNothing(body.max_tokens) || !countOrNothing(body.max_completion_tokens) || !countOrNothing(body.n)) return undefined;
  return body as unknown as RequestFields;
}
