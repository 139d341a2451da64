import { RequestTranslationError } from '../types.js';
import type { JsonObject } from '../../core/canonical.js';
import { isObject } from './json-guards.js';

/** An OpenAI tool call's `arguments` (a JSON string) → the value providers take as tool input; '' and absent mean {}. */
export function parseToolArguments(args: unknown, param: string): unknown {
  if (args === undefined || args === null || args === '') return {};
  if (typeof args !== 'string') throw new RequestTranslationError('tool call arguments must be a JSON string', param);
  try {
    return JSON.parse(args);
  } catch {
    throw new RequestTranslationError('tool call arguments are not valid JSON', param);
  }
}

/** One tool call of an assistant message, checked, with its arguments parsed. */
export interface AssistantToolCall {
  /** Absent only when the provider does not need ids (`needsId` false). */
  id?: string;
  name: string;
  input: unknown;
  /** Where the call is in the request, for errors: `messages.{i}.tool_calls.{j}`. */
  param: string;
}

/**
 * The tool calls of the OpenAI assistant message at `messages[messageIndex]`. Providers that match
 * tool results to calls by id need the id (`needsId`); Gemini matches by function name.
 */
export function assistantToolCalls(msg: JsonObject, messageIndex: number, needsId: true): (AssistantToolCall & { id: string })[];
export function assistantToolCalls(msg: JsonObject, messageIndex: number, needsId: false): AssistantToolCall[];
export function assistantToolCalls(msg: JsonObject, messageIndex: number, needsId: boolean): AssistantToolCall[] {
  const calls = Array.isArray(msg.tool_calls) ? msg.tool_calls : [];
  return calls.map((c: unknown, j): AssistantToolCall => {
    const call = isObject(c) ? c : {};
    const fn = isObject(call.function) ? call.function : {};
    const param = `messages.${messageIndex}.tool_calls.${j}`;
    if (typeof fn.name !== 'string' || (needsId && typeof call.id !== 'string')) {
      throw new RequestTranslationError(needsId ? 'tool call without id or function name' : 'tool call without function name', param);
    }
    const out: AssistantToolCall = { name: fn.name, input: parseToolArguments(fn.arguments, `${param}.function.arguments`), param };
    if (typeof call.id === 'string') out.id = call.id;
    return out;
  });
}
