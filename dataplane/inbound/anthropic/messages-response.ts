import { count, isObject } from '../../providers/shared/json-guards.js';
import type { JsonObject } from '../../providers/types.js';

export type StopReason = 'end_turn' | 'max_tokens' | 'tool_use' | 'refusal' | 'stop_sequence';

export function stopReasonFrom(finish: unknown): StopReason {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/** OpenAI usage (cache inside the prompt) → Anthropic usage (input_tokens excludes cache reads). */
export function anthropicUsage(usage: unknown): { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number } {
  const u = isObject(usage) ? usage : {};
  const cached = count(isObject(u.prompt_tokens_details) ? u.prompt_tokens_details.cached_tokens : 0);
  return { input_tokens: Math.max(0, count(u.prompt_tokens) - cached), output_tokens: count(u.completion_tokens), cache_read_input_tokens: cached, cache_creation_input_tokens: 0 };
}

export function parseInput(args: unknown): unknown {
  if (typeof args !== 'string' || args === '') return {};
  try {
    return JSON.parse(args);
  } catch {
    return {};
  }
}

export function messageId(id: unknown): string {
  const s = typeof id === 'string' && id !== '' ? id : 'gateway';
  return s.startsWith('msg_') ? s : `msg_${s}`;
}

/** OpenAI chat.completion → Anthropic message (first choice). */
export function toAnthropicMessage(body: JsonObject, model: string): JsonObject {
  const choices = Array.isArray(body.choices) ? body.choices : [];
  const choice = isObject(choices[0]) ? choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const content: JsonObject[] = [];
  const text = typeof message.content === 'string' ? message.content : typeof message.refusal === 'string' ? message.refusal : '';
  if (text !== '') content.push({ type: 'text', text });
  for (const call of Array.isArray(message.tool_calls) ? message.tool_calls : []) {
    if (!isObject(call) || !isObject(call.function)) continue;
    content.push({ type: 'tool_use', id: String(call.id), name: String(call.function.name), input: parseInput(call.function.arguments) });
  }
  return {
    id: messageId(body.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReasonFrom(choice.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(body.usage),
  };
}
