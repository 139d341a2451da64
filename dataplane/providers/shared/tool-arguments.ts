import { RequestTranslationError } from '../types.js';

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
