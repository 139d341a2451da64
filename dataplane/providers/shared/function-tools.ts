import { RequestTranslationError } from '../types.js';
import type { JsonObject } from '../../core/canonical.js';
import { isObject } from './json-guards.js';

/** One OpenAI function tool, checked; providers shape it their own way. */
export interface FunctionTool {
  name: string;
  description?: string;
  /** The JSON Schema of the arguments, when the client sent one. */
  parameters?: JsonObject;
}

/** OpenAI `tools` → function tools; an empty or absent list is []; any other tool type is a 400. */
export function functionTools(value: unknown): FunctionTool[] {
  if (!Array.isArray(value)) return [];
  return value.map((t: unknown, i): FunctionTool => {
    const fn = isObject(t) && t.type === 'function' && isObject(t.function) ? t.function : undefined;
    if (fn === undefined || typeof fn.name !== 'string') throw new RequestTranslationError('only function tools are supported', `tools.${i}`);
    const tool: FunctionTool = { name: fn.name };
    if (typeof fn.description === 'string') tool.description = fn.description;
    if (isObject(fn.parameters)) tool.parameters = fn.parameters;
    return tool;
  });
}

