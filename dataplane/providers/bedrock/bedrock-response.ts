import { count } from '../shared/json-guards.js';
import { finishWithJsonTool } from '../shared/json-response-tool.js';
import { toOpenAiUsage } from '../shared/openai-usage.js';
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

/** inputTokens counts uncached input only; OpenAI semantics include cache reads and writes in the prompt. */
export function usageFromBedrock(u: BedrockUsage | undefined): Usage {
  const cacheRead = count(u?.cacheReadInputTokens);
  return { inputTokens: count(u?.inputTokens) + cacheRead + count(u?.cacheWriteInputTokens), outputTokens: count(u?.outputTokens), cachedInputTokens: cacheRead };
}

/** Converse response → OpenAI chat.completion; a call of `jsonTool` (response_format) is the content. */
export function fromConverseResponse(res: BedrockConverseResponse, model: string, id: string, created: number, jsonTool?: string): { body: JsonObject; usage: Usage } {
  let text = '';
  const toolCalls: JsonObject[] = [];
  for (const block of res.output?.message?.content ?? []) {
    if ('text' in block) text += block.text;
    else if ('toolUse' in block && block.toolUse.name === jsonTool) text += JSON.stringify(block.toolUse.input ?? {});
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
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishWithJsonTool(finishReasonFrom(res.stopReason), toolCalls.length) }],
      usage: toOpenAiUsage(usage),
    },
  };
}
