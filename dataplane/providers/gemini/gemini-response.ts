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

/** Models that bill grounding with Google Search per grounded prompt (Gemini 2.5 and older); later ones bill each search query. */
const GROUNDED_PER_PROMPT = /^(models\/)?gemini-(1|2)\./;
/** Queries read of one candidate's grounding: past them the count stops (a bound on the work, not on the charge's honesty: Gemini runs a few). */
const MAX_COUNTED_QUERIES = 64;

/**
 * The searches one candidate's `groundingMetadata` shows: its distinct non-empty `webSearchQueries`
 * (Gemini ignores empty ones when it counts), added to `queries`; true when the candidate was
 * grounded at all (queries, sources or a search entry point), even without a query to count.
 */
export function readGrounding(metadata: unknown, queries: Set<string>): boolean {
  if (!isObject(metadata)) return false;
  const asked = metadata.webSearchQueries;
  if (Array.isArray(asked)) {
    for (let i = 0; i < Math.min(asked.length, MAX_COUNTED_QUERIES); i++) {
      const q: unknown = asked[i];
      if (typeof q === 'string' && q.trim() !== '') queries.add(q);
    }
  }
  const chunks = metadata.groundingChunks;
  return queries.size > 0 || metadata.searchEntryPoint !== undefined || (Array.isArray(chunks) && chunks.length > 0) || (Array.isArray(asked) && asked.length > 0);
}

/**
 * The grounding searches an answer is billed, as Gemini prices them: one per grounded prompt on
 * Gemini 2.5 and older (`modelVersion`), else one per distinct search query of each candidate (at
 * least one per grounded candidate). An answer that does not say its model is counted per query
 * (never fewer than per prompt). `perCandidate`: each grounded candidate's distinct queries.
 */
export function groundedSearches(perCandidate: readonly Set<string>[], modelVersion: unknown): number {
  let searches = 0;
  for (const queries of perCandidate) searches += Math.max(1, queries.size);
  return searchesBilled(perCandidate.length, searches, modelVersion);
}

/** groundedSearches of `candidates` grounded candidates whose `searches` (each its queries, at least one) are already added up. */
export function searchesBilled(candidates: number, searches: number, modelVersion: unknown): number {
  if (candidates === 0) return 0;
  if (typeof modelVersion === 'string' && GROUNDED_PER_PROMPT.test(modelVersion)) return 1;
  return searches;
}

/** `usage` with the grounding searches of a whole answer's candidates (none read unless one carries groundingMetadata). */
function withGrounding(usage: Usage, candidates: GeminiResponse['candidates'], modelVersion: unknown): Usage {
  let grounded: Set<string>[] | undefined;
  for (const c of candidates ?? []) {
    if (c.groundingMetadata === undefined) continue;
    const queries = new Set<string>();
    if (readGrounding(c.groundingMetadata, queries)) (grounded ??= []).push(queries);
  }
  const searches = grounded === undefined ? 0 : groundedSearches(grounded, modelVersion);
  if (searches > 0) usage.webSearchCalls = searches;
  return usage;
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
  const usage = withGrounding(usageFromGemini(res.usageMetadata), res.candidates, res.modelVersion);
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
