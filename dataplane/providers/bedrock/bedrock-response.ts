import { restateOutputConfig } from '../shared/output-config.js';
import { usageWithCacheInPrompt } from '../shared/cache-usage.js';
import { count, isObject } from '../shared/json-guards.js';
import { finishWithJsonTool, jsonToolOf } from '../shared/json-response-tool.js';
import { toOpenAiUsage } from '../shared/openai-usage.js';
import { stopSequences } from '../shared/stop-sequences.js';
import type { JsonObject, Usage } from '../../core/canonical.js';
import type { BedrockConverseResponse, BedrockReasoningContent, BedrockUsage } from './bedrock-wire.js';
import { withTier } from '../shared/service-tier.js';

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
  return usageWithCacheInPrompt({ uncachedInput: u?.inputTokens, output: u?.outputTokens, cacheRead: u?.cacheReadInputTokens, cacheWrite: u?.cacheWriteInputTokens, cacheWrite1h: hourWrites(u?.cacheDetails) });
}

/** The TTLs Bedrock reports writes for (5m, 1h): entries past them are not read. */
const MAX_CACHE_DETAILS = 4;

/** The cache writes kept for an hour, from `cacheDetails` (0 when absent or malformed). */
function hourWrites(details: unknown): number {
  if (!Array.isArray(details)) return 0;
  let tokens = 0;
  for (let i = 0; i < Math.min(details.length, MAX_CACHE_DETAILS); i++) {
    const d: unknown = details[i];
    if (isObject(d) && d.ttl === '1h') tokens += count(d.inputTokens);
  }
  return tokens;
}

/** What reading a response needs to know of the request. */
export interface ConverseReading {
  /** The tier the request asked for (its serviceTier), which prices an answer that does not say. */
  askedTier?: 'flex' | 'priority';
  /** The response_format tool, whose call is the content. */
  jsonTool?: string;
  /** The request's stop sequences. */
  stopSequences?: string[];
  /**
   * The request said `parallel_tool_calls: false`, which Converse has no setting for: the model may
   * still call several tools at once, and only the first call is relayed, as a target that honours
   * the flag would have answered.
   */
  singleToolCall?: true;
}

/**
 * OpenAI's `service_tier` as Converse's `serviceTier`: `flex` and `priority` are tiers Bedrock sells
 * under the same names (a discount for slower answers; a premium for faster ones). `auto`,
 * `default` and `scale` are left out: the standard tier, Bedrock's default. Bedrock answers 400 to
 * a tier the model or region does not offer, as OpenAI does to `flex` on a model without it.
 * Before, the field was dropped, and a caller asking for flex was billed the standard price.
 */
export function converseServiceTier(value: unknown): 'flex' | 'priority' | undefined {
  return value === 'flex' || value === 'priority' ? value : undefined;
}

/**
 * Usage at the price of the tier the answer says it ran at (Converse's `serviceTier`), else the
 * one the request asked for: an answer that does not say is charged the dearer tier it may have
 * had, never less (`flex` is metered at the Provider's prices, as on OpenAI).
 */
export function tieredUsage(usage: Usage, served: { type?: unknown } | undefined, reading: ConverseReading): Usage {
  return withTier(usage, isObject(served) && typeof served.type === 'string' ? served.type : reading.askedTier);
}

export function readingOf(body: JsonObject): ConverseReading {
  const reading: ConverseReading = {};
  // output_config.format was sent as the JSON tool too (bedrock-request.ts).
  const json = jsonToolOf(restateOutputConfig(body));
  if (json !== undefined) reading.jsonTool = json;
  const stop = stopSequences(body.stop);
  if (stop !== undefined) reading.stopSequences = stop;
  if (body.parallel_tool_calls === false) reading.singleToolCall = true;
  const tier = converseServiceTier(body.service_tier);
  if (tier !== undefined) reading.askedTier = tier;
  return reading;
}

/**
 * Converse says that a stop sequence ended the message, not which one: with a single stop sequence
 * in the request it can only be that one (named in the choice's `stop_reason`, as vLLM does); with
 * several it stays unknown.
 */
export function stopSequenceField(stopReason: string | undefined, reading: ConverseReading): { stop_reason?: string } {
  const only = reading.stopSequences?.length === 1 ? reading.stopSequences[0] : undefined;
  return stopReason === 'stop_sequence' && only !== undefined ? { stop_reason: only } : {};
}

/** A reasoningContent block as the canonical thinking block (Claude's thinking or redacted_thinking); undefined when malformed. */
function thinkingBlock(r: BedrockReasoningContent | undefined): JsonObject | undefined {
  if (!isObject(r)) return undefined;
  if ('reasoningText' in r && isObject(r.reasoningText) && typeof r.reasoningText.text === 'string') {
    return { type: 'thinking', thinking: r.reasoningText.text, signature: typeof r.reasoningText.signature === 'string' ? r.reasoningText.signature : '' };
  }
  if ('redactedContent' in r && typeof r.redactedContent === 'string' && r.redactedContent !== '') return { type: 'redacted_thinking', data: r.redactedContent };
  return undefined;
}

/** Converse response → OpenAI chat.completion; a call of the response_format tool is the content. */
export function fromConverseResponse(res: BedrockConverseResponse, model: string, id: string, created: number, reading: ConverseReading = {}): { body: JsonObject; usage: Usage } {
  const jsonTool = reading.jsonTool;
  let text = '';
  const toolCalls: JsonObject[] = [];
  const thinking: JsonObject[] = [];
  for (const block of res.output?.message?.content ?? []) {
    if ('text' in block) text += block.text;
    else if ('reasoningContent' in block) {
      const reasoning = thinkingBlock(block.reasoningContent);
      if (reasoning !== undefined) thinking.push(reasoning);
    }
    else if ('toolUse' in block && block.toolUse.name === jsonTool) text += JSON.stringify(block.toolUse.input ?? {});
    else if ('toolUse' in block && (reading.singleToolCall !== true || toolCalls.length === 0)) {
      toolCalls.push({ id: block.toolUse.toolUseId, type: 'function', function: { name: block.toolUse.name, arguments: JSON.stringify(block.toolUse.input ?? {}) } });
    }
  }
  const usage = tieredUsage(usageFromBedrock(res.usage), res.serviceTier, reading);
  const message: JsonObject = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  // The model's reasoning, in order and signed (a canonical extension OpenAI clients ignore), as an anthropic target's: /v1/messages returns it as blocks.
  if (thinking.length > 0) message.thinking_blocks = thinking;
  return {
    usage,
    body: {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishWithJsonTool(finishReasonFrom(res.stopReason), toolCalls.length), ...stopSequenceField(res.stopReason, reading) }],
      usage: toOpenAiUsage(usage),
    },
  };
}
