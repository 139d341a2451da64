import { count, isObject } from '../../providers/shared/json-guards.js';
import type { JsonObject, Usage } from '../../core/canonical.js';

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

/**
 * How an OpenAI choice ended, the Anthropic way. `stop_sequence` needs the upstream to say which
 * stop sequence matched: the adapters put it in the choice's `stop_reason` (vLLM's field, which
 * vLLM itself fills) when they know it; it must be one of the request's. When nobody knows (OpenAI,
 * Gemini, Bedrock with several stop sequences), a stop is `end_turn`.
 */
export function stopOf(choice: JsonObject, stopSequences: readonly string[]): { stop_reason: StopReason; stop_sequence: string | null } {
  const matched = choice.stop_reason;
  if (choice.finish_reason === 'stop' && typeof matched === 'string' && stopSequences.includes(matched)) return { stop_reason: 'stop_sequence', stop_sequence: matched };
  return { stop_reason: stopReasonFrom(choice.finish_reason), stop_sequence: null };
}

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  /** The writes by how long they are kept, where there were any. */
  cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

/**
 * Usage, the Anthropic way (input_tokens excludes cache reads and writes). The canonical usage
 * the adapter reported is preferred: it keeps cache writes apart; the OpenAI `usage` object cannot.
 */
export function anthropicUsage(usage: unknown, canonical?: Usage): AnthropicUsage {
  if (canonical !== undefined) {
    const write = canonical.cacheWriteTokens ?? 0;
    const usage: AnthropicUsage = {
      input_tokens: Math.max(0, canonical.inputTokens - canonical.cachedInputTokens - write),
      output_tokens: canonical.outputTokens,
      cache_read_input_tokens: canonical.cachedInputTokens,
      cache_creation_input_tokens: write,
    };
    const hour = Math.min(canonical.cacheWrite1hTokens ?? 0, write);
    if (write > 0) usage.cache_creation = { ephemeral_5m_input_tokens: write - hour, ephemeral_1h_input_tokens: hour };
    return usage;
  }
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

/** What the request and the adapter tell beyond the OpenAI body. */
export interface MessageContext {
  /** The request's stop_sequences. */
  stopSequences?: readonly string[];
  /** The canonical usage the adapter reported. */
  usage?: Usage | undefined;
}

/**
 * The answer's reasoning as Anthropic blocks, first as the API puts them: an Anthropic upstream's
 * `thinking_blocks` (signed, in order; a canonical extension), else the reasoning text other
 * servers return (vLLM's `reasoning_content`) as one unsigned thinking block.
 */
function thinkingBlocks(message: JsonObject): JsonObject[] {
  const blocks: JsonObject[] = [];
  if (Array.isArray(message.thinking_blocks)) {
    for (const b of message.thinking_blocks) {
      if (!isObject(b)) continue;
      if (b.type === 'thinking' && typeof b.thinking === 'string') blocks.push({ type: 'thinking', thinking: b.thinking, signature: typeof b.signature === 'string' ? b.signature : '' });
      else if (b.type === 'redacted_thinking' && typeof b.data === 'string') blocks.push({ type: 'redacted_thinking', data: b.data });
    }
    return blocks;
  }
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === 'string' && reasoning !== '') blocks.push({ type: 'thinking', thinking: reasoning, signature: '' });
  return blocks;
}

/** OpenAI chat.completion → Anthropic message (first choice). A refusal (OpenAI's `refusal`) is its text, stop_reason `refusal`. */
export function toAnthropicMessage(body: JsonObject, model: string, context: MessageContext = {}): JsonObject {
  const choices = Array.isArray(body.choices) ? body.choices : [];
  const choice = isObject(choices[0]) ? choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const content: JsonObject[] = thinkingBlocks(message);
  const refusal = typeof message.content !== 'string' || message.content === '' ? (typeof message.refusal === 'string' ? message.refusal : '') : '';
  const text = typeof message.content === 'string' && message.content !== '' ? message.content : refusal;
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
    ...(refusal !== '' ? { stop_reason: 'refusal', stop_sequence: null } : stopOf(choice, context.stopSequences ?? [])),
    usage: anthropicUsage(body.usage, context.usage),
  };
}
