import type { JsonObject } from '../../core/canonical.js';
import { RequestTranslationError } from '../types.js';
import { isObject } from './json-guards.js';

/** The function names an `allowed_tools` list names (each `{type:'function', function:{name}}`); a 400 for any other entry. */
function allowedNames(tools: unknown): Set<string> {
  if (!Array.isArray(tools) || tools.length === 0) throw new RequestTranslationError('tool_choice.allowed_tools.tools must list at least one function', 'tool_choice.allowed_tools.tools');
  const names = new Set<string>();
  tools.forEach((t: unknown, i) => {
    const fn = isObject(t) && t.type === 'function' && isObject(t.function) ? t.function : undefined;
    if (fn === undefined || typeof fn.name !== 'string') throw new RequestTranslationError('only function tools can be allowed by this provider', `tool_choice.allowed_tools.tools.${i}`);
    names.add(fn.name);
  });
  return names;
}

/**
 * OpenAI's `tool_choice: {type:'allowed_tools', allowed_tools:{mode, tools}}` in terms every
 * translated provider has: the tools on offer cut to the allowed ones, and `mode` (`auto` or
 * `required`) as the tool_choice. The model can then call only what the client allowed, as it can
 * on OpenAI (where the others stay in the prompt, cached; here they are not sent). The same body
 * when tool_choice is anything else. Before, Gemini and Bedrock ignored it (every tool callable)
 * and Anthropic refused it.
 */
export function withAllowedTools(body: JsonObject): JsonObject {
  const choice = body.tool_choice;
  if (!isObject(choice) || choice.type !== 'allowed_tools') return body;
  const spec = choice.allowed_tools;
  if (!isObject(spec)) throw new RequestTranslationError('tool_choice.allowed_tools is required', 'tool_choice.allowed_tools');
  if (spec.mode !== 'auto' && spec.mode !== 'required') throw new RequestTranslationError('tool_choice.allowed_tools.mode must be auto or required', 'tool_choice.allowed_tools.mode');
  const names = allowedNames(spec.tools);
  const offered = Array.isArray(body.tools) ? body.tools : [];
  const tools = offered.filter((t: unknown) => isObject(t) && isObject(t.function) && typeof t.function.name === 'string' && names.has(t.function.name));
  for (const name of names) {
    if (!tools.some((t: JsonObject) => isObject(t.function) && t.function.name === name)) throw new RequestTranslationError(`tool_choice allows ${name}, which is not in tools`, 'tool_choice.allowed_tools.tools');
  }
  return { ...body, tools, tool_choice: spec.mode };
}

/** A tool_choice the translated providers know after withAllowedTools: none, auto, required or a named function. */
export function checkToolChoice(choice: unknown): void {
  if (choice === undefined || choice === null || choice === 'none' || choice === 'auto' || choice === 'required') return;
  if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') return;
  throw new RequestTranslationError('unsupported tool_choice: this provider takes none, auto, required, a named function or allowed_tools', 'tool_choice');
}
