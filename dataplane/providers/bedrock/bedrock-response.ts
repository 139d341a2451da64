import type { JsonObject, Usage } from '../types.js';
import type { BedrockConverseResponse, BedrockUsage } from './bedrock-wire.js';

export function finishReasonFrom(stop: string | undefined): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      return 'stop';
  }
}

function n(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** inputTokens counts uncached input only; OpenAI semantics include cache reads and writes in the prompt. */
export function usageFromBedrock(u: BedrockUsage | undefined): Usage {
  const cacheRead = n(u?.cacheReadInputTokens);
  return { inputTokens: n(u?.inputTokens) + cacheRead + n(u?.cacheWriteInputTokens), outputTokens: n(u?.outputTokens), cachedInputTokens: cacheRead };
}

export function openAiUsage(usage: Usage): JsonObject {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
  };
}

export function fromConverseResponse(res: BedrockConverseResponse, model: string, id: string, created: number): { body: JsonObject; usage: Usage } {
  let text = '';
  const toolCalls: JsonObject[] = [];
  for (const block of res.output?.message?.content ?? []) {
    if ('text' in block) text += block.text;
    else if ('toolUse' in block) {
      toolCalls.push({ id: block.toolUse.toolUseId, type: 'function', function: { name: block.toolUse.name, arguments: JSON.stringify(block.toolUse.input ?? {}) } });
    }
  }
  const usage = usageFromBedrock(res.usage);
  const message: JsonObject = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return {
    usage,
    body: {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReasonFrom(res.stopReason) }],
      usage: openAiUsage(usage),
    },
  };
}
