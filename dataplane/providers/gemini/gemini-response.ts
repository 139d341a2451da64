import { count, isObject } from '../shared/json-guards.js';
import { toOpenAiUsage } from '../shared/openai-usage.js';
import type { JsonObject, Usage } from '../../core/canonical.js';
import type { GeminiCandidate, GeminiResponse, GeminiUsageMetadata } from './gemini-wire.js';
import { indexInRange, MAX_STREAM_CHOICES } from '../../core/choice-bounds.js';
import { idWithSignature } from './thought-signature.js';
import { openAiLogprobs } from './gemini-logprobs.js';

const FILTERED = new Set(['SAFETY', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'RECITATION', 'IMAGE_RECITATION', 'LANGUAGE']);

/** Gemini says STOP for tool calls too; a function call in the answer makes it tool_calls. */
export function finishReasonFrom(reason: string | undefined, hasToolCalls: boolean): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  if (reason !== undefined && FILTERED.has(reason)) return 'content_filter';
  if (reason === 'MAX_TOKENS') return 'length';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/** promptTokenCount already includes cached content; thoughts are output the model was billed for. */
export function usageFromGemini(u: GeminiUsageMetadata | undefined): Usage {
  const usage: Usage = {
    inputTokens: count(u?.promptTokenCount) + count(u?.toolUsePromptTokenCount),
    outputTokens: count(u?.candidatesTokenCount) + count(u?.thoughtsTokenCount),
    cachedInputTokens: count(u?.cachedContentTokenCount),
  };
  if (u === undefined) return usage;
  // Audio prompts are billed above text (2.5 Flash: 3.3×) and generated images far above (gemini-2.5-flash-image):
  // priced apart; cached ones are not uncached input.
  const audioIn = modalityTokens(u.promptTokensDetails, 'AUDIO') - modalityTokens(u.cacheTokensDetails, 'AUDIO');
  const imageIn = modalityTokens(u.promptTokensDetails, 'IMAGE') - modalityTokens(u.cacheTokensDetails, 'IMAGE');
  const audioOut = modalityTokens(u.candidatesTokensDetails, 'AUDIO');
  const imageOut = modalityTokens(u.candidatesTokensDetails, 'IMAGE');
  if (audioIn > 0) usage.audioInputTokens = audioIn;
  if (imageIn > 0) usage.imageInputTokens = imageIn;
  if (audioOut > 0) usage.audioOutputTokens = audioOut;
  if (imageOut > 0) usage.imageOutputTokens = imageOut;
  return usage;
}

/** Modalities Gemini reports (TEXT, IMAGE, VIDEO, AUDIO, DOCUMENT, and the unspecified one): entries past them are not read. */
const MAX_MODALITY_ENTRIES = 8;

/** The tokens of one modality in a usage metadata's per-modality list (0 when absent or malformed). */
function modalityTokens(details: unknown, modality: string): number {
  if (!Array.isArray(details)) return 0;
  let tokens = 0;
  for (let i = 0; i < Math.min(details.length, MAX_MODALITY_ENTRIES); i++) {
    const entry: unknown = details[i];
    if (isObject(entry) && entry.modality === modality) tokens += count(entry.tokenCount);
  }
  return tokens;
}

/** A synthesised tool call id: Gemini has none. Deterministic per response and position. */
export function toolCallId(responseId: string | undefined, index: number): string {
  return `call_${responseId ?? 'gemini'}_${index}`;
}

/**
 * Text, thoughts and tool calls of one candidate. Thought parts (`thought: true`, returned when the
 * request set includeThoughts) are the reasoning, relayed as `reasoning_content` (a canonical
 * extension: /v1/messages makes it a thinking block). A functionCall's thoughtSignature rides in
 * its tool-call id, to be put back on the part when the client sends the call back; other parts'
 * signatures are not carried (Gemini does not require them back, and an Anthropic target would
 * refuse one as a thinking block's signature). Calls past `maxToolCalls` are left out (see toolCallLimit).
 */
export function candidateContent(c: GeminiCandidate, responseId: string | undefined, firstToolIndex = 0, maxToolCalls = Infinity): { text: string; reasoning: string; toolCalls: JsonObject[] } {
  let text = '';
  let reasoning = '';
  const toolCalls: JsonObject[] = [];
  for (const part of c.content?.parts ?? []) {
    if (part.thought === true) {
      if (typeof part.text === 'string') reasoning += part.text;
      continue;
    }
    if (typeof part.text === 'string') text += part.text;
    if (part.functionCall !== undefined && firstToolIndex + toolCalls.length < maxToolCalls) {
      const index = firstToolIndex + toolCalls.length;
      toolCalls.push({
        index,
        id: idWithSignature(part.functionCall.id ?? toolCallId(responseId, index), part.thoughtSignature),
        type: 'function',
        function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
      });
    }
  }
  return { text, reasoning, toolCalls };
}

/**
 * How many tool calls a candidate may carry: one when the request said `parallel_tool_calls: false`,
 * which Gemini has no setting for, so the model may still call several at once; the first is kept
 * and the rest left out, as a target that honours the flag would have answered.
 */
export function toolCallLimit(body: JsonObject): number {
  return body.parallel_tool_calls === false ? 1 : Infinity;
}

/**
 * Why an answer's candidates cannot be taken, before anything is made of them: each becomes a
 * choice (and, streamed, state kept for the stream), and a tenant's endpoint can answer millions
 * of `{}` in a few megabytes.
 */
export function candidatesProblem(candidates: GeminiResponse['candidates']): string | undefined {
  if (candidates === undefined) return undefined;
  if (!Array.isArray(candidates)) return 'upstream answer has candidates that are not a list';
  if (candidates.length > MAX_STREAM_CHOICES) return `upstream answer has ${candidates.length} candidates; the gateway accepts at most ${MAX_STREAM_CHOICES}`;
  for (const c of candidates) {
    const index: unknown = (c as { index?: unknown } | null)?.index;
    if (!indexInRange(index, MAX_STREAM_CHOICES)) return `upstream answer names candidate index ${String(index)}; the gateway accepts integers 0 to ${MAX_STREAM_CHOICES - 1}`;
  }
  return undefined;
}

/** The prompt was blocked before any candidate was generated. */
export function promptBlockReason(res: GeminiResponse): string | undefined {
  const reason = res.promptFeedback?.blockReason;
  return reason !== undefined && reason !== 'BLOCK_REASON_UNSPECIFIED' && (res.candidates ?? []).length === 0 ? reason : undefined;
}

export function fromGeminiResponse(res: GeminiResponse, model: string, created: number, maxToolCalls = Infinity): { body: JsonObject; usage: Usage } {
  const usage = usageFromGemini(res.usageMetadata);
  const choices = (res.candidates ?? []).map((c, i) => {
    const { text, reasoning, toolCalls } = candidateContent(c, res.responseId, 0, maxToolCalls);
    const message: JsonObject = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, refusal: null };
    if (reasoning !== '') message.reasoning_content = reasoning;
    if (toolCalls.length > 0) message.tool_calls = toolCalls.map(({ index: _index, ...call }) => call);
    return { index: c.index ?? i, message, logprobs: openAiLogprobs(c.logprobsResult), finish_reason: finishReasonFrom(c.finishReason, toolCalls.length > 0) };
  });
  return {
    usage,
    body: {
      id: res.responseId ?? 'gemini',
      object: 'chat.completion',
      created,
      model: res.modelVersion ?? model,
      choices,
      usage: toOpenAiUsage(usage, count(res.usageMetadata?.thoughtsTokenCount)),
    },
  };
}
