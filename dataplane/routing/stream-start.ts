import type { JsonObject, StreamStep } from '../core/canonical.js';

/**
 * How many steps without content an attempt reads before it calls its stream started anyway: a
 * stream's opening carries at most a role chunk or two (and Anthropic's ping), so this bounds the
 * wait on an upstream that sends empty chunks and never anything else.
 */
export const MAX_EMPTY_OPENING_STEPS = 8;

function isEmptyValue(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

/** A delta that holds at most a role, its other fields empty (`content: ""`, `refusal: null`). */
function isEmptyDelta(delta: unknown): boolean {
  if (isEmptyValue(delta)) return true;
  if (typeof delta !== 'object') return false;
  for (const [key, value] of Object.entries(delta as JsonObject)) if (key !== 'role' && !isEmptyValue(value)) return false;
  return true;
}

/** A choice with nothing but its index and an empty delta (chat) or empty text (completions): no finish reason, no logprobs. */
function isEmptyChoice(choice: unknown): boolean {
  if (typeof choice !== 'object' || choice === null) return true;
  for (const [key, value] of Object.entries(choice as JsonObject)) {
    if (key === 'index') continue;
    if (key === 'delta' ? !isEmptyDelta(value) : !isEmptyValue(value)) return false;
  }
  return true;
}

/**
 * Whether a canonical chunk says anything a client could act on: content, a tool call, a refusal, a
 * finish reason or usage. The opening role chunk (OpenAI's first, Anthropic's message_start as
 * `{role: 'assistant', content: ''}`) says nothing: the request can still go elsewhere after it.
 */
export function chunkHasContent(chunk: JsonObject): boolean {
  if (!isEmptyValue(chunk.usage)) return true;
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return true;
  return !choices.every(isEmptyChoice);
}

/** Whether a step carries a chunk with content (chunkHasContent). */
export function stepHasContent(step: StreamStep): boolean {
  for (const chunk of step.chunks) if (chunkHasContent(chunk)) return true;
  return false;
}
