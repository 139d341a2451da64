import { usageWithCacheInPrompt } from '../shared/cache-usage.js';
import { count, isObject } from '../shared/json-guards.js';
import { finishWithJsonTool } from '../shared/json-response-tool.js';
import { toOpenAiUsage } from '../shared/openai-usage.js';
import type { JsonObject, Usage } from '../../core/canonical.js';
import type { AnthropicResponse, AnthropicStopReason, AnthropicUsage } from './anthropic-wire.js';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export function finishReasonFrom(stop: AnthropicStopReason | string | null | undefined): FinishReason {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn and anything newer.
      return 'stop';
  }
}

/** Anthropic counts uncached input only; OpenAI semantics put cache reads and writes inside the prompt. */
export function usageFromAnthropic(u: Partial<AnthropicUsage> | undefined): Usage {
  const creation = u?.cache_creation;
  const cacheWrite1h = isObject(creation) ? count(creation.ephemeral_1h_input_tokens) : 0;
  return usageWithCacheInPrompt({ uncachedInput: u?.input_tokens, output: u?.output_tokens, cacheRead: u?.cache_read_input_tokens, cacheWrite: u?.cache_creation_input_tokens, cacheWrite1h });
}

/**
 * The OpenAI choice of a message that ended on one of the request's stop sequences names it in
 * `stop_reason`, as vLLM's OpenAI server does; /v1/messages reads it back as `stop_sequence`.
 */
export function stopSequenceField(stopReason: string | null | undefined, stopSequence: string | null | undefined): { stop_reason?: string } {
  return stopReason === 'stop_sequence' && typeof stopSequence === 'string' ? { stop_reason: stopSequence } : {};
}

/**
 * Anthropic message → OpenAI chat.completion. `jsonTool` names the tool that carries a
 * response_format answer: its input becomes the content (see shared/json-response-tool.ts).
 */
export function fromAnthropicResponse(res: AnthropicResponse, created: number, jsonTool?: string): { body: JsonObject; usage: Usage } {
  let text = '';
  const toolCalls: JsonObject[] = [];
  const thinking: JsonObject[] = [];
  for (const block of Array.isArray(res.content) ? res.content : []) {
    if (block.type === 'text' && 'text' in block) text += block.text;
    else if (block.type === 'thinking' && 'thinking' in block) thinking.push({ type: 'thinking', thinking: block.thinking, signature: block.signature ?? '' });
    else if (block.type === 'redacted_thinking' && 'data' in block) thinking.push({ type: 'redacted_thinking', data: block.data });
    else if (block.type === 'tool_use' && 'id' in block && block.name === jsonTool) text += JSON.stringify(block.input ?? {});
    else if (block.type === 'tool_use' && 'id' in block) {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  const usage = usageFromAnthropic(res.usage);
  const message: JsonObject = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  // The model's reasoning, in order and signed (a canonical extension OpenAI clients ignore): /v1/messages returns it as blocks.
  if (thinking.length > 0) message.thinking_blocks = thinking;
  return {
    usage,
    body: {
      id: res.id,
      object: 'chat.completion',
      created,
      model: res.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishWithJsonTool(finishReasonFrom(res.stop_reason), toolCalls.length), ...stopSequenceField(res.stop_reason, res.stop_sequence) }],
      usage: toOpenAiUsage(usage),
    },
  };
}
