import type { SseEvent } from '../../sse/sse-parser.js';
import type { StreamTransformer } from '../types.js';
import type { JsonObject, StreamStep, UpstreamFailure } from '../../core/canonical.js';
import { usageChunk } from '../shared/openai-usage.js';
import { type GeminiServiceTier, geminiTieredUsage } from './gemini-service-tier.js';
import { candidateContent, finishReasonFrom, promptBlockReason, readGrounding, searchesBilled, usageFromGemini } from './gemini-response.js';
import { promptBlockedFailure } from './gemini-blocked.js';
import type { GeminiErrorBody, GeminiResponse, GeminiUsageMetadata } from './gemini-wire.js';
import { candidatesProblem } from './gemini-response.js';
import { openAiLogprobs } from './gemini-logprobs.js';

interface CandidateState {
  tools: number;
  finished: boolean;
  /** The distinct search queries its grounding showed so far; set once an event carries groundingMetadata. */
  grounding: Set<string> | undefined;
}

/**
 * streamGenerateContent?alt=sse → OpenAI chunks. Every event is a whole GenerateContentResponse with
 * only the new parts; there is no terminal event, so the usage chunk is sent when the stream ends.
 */
export class GeminiStreamTransformer implements StreamTransformer {
  private id: string | undefined;
  private modelName: string;
  private usage: GeminiUsageMetadata | undefined;
  private readonly candidates = new Map<number, CandidateState>();

  constructor(
    model: string,
    private readonly clientWantsUsage: boolean,
    private readonly created: number,
    /** toolCallLimit of the request: calls past it are not relayed. */
    private readonly maxToolCalls = Infinity,
    /** The tier the request asked for, which prices its usage (the stream's headers are not read here). */
    private readonly tier?: GeminiServiceTier,
  ) {
    this.modelName = model;
  }

  private chunk(index: number, delta: JsonObject, finishReason: string | null = null, logprobs: JsonObject | null = null): JsonObject {
    return {
      id: this.id ?? 'gemini',
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.modelName,
      choices: [{ index, delta, logprobs, finish_reason: finishReason }],
    };
  }

  /** Grounded candidates so far, and their searches added up (each its distinct queries, at least one): kept as they change, not recounted at each event. */
  private groundedCandidates = 0;
  private groundedQueries = 0;

  /** The grounding searches the stream showed (groundedSearches), 0 when none was grounded. */
  private groundedSearches(): number {
    return searchesBilled(this.groundedCandidates, this.groundedQueries, this.modelName);
  }

  onEvent(event: SseEvent): StreamStep {
    let res: GeminiResponse & Partial<GeminiErrorBody>;
    try {
      res = JSON.parse(event.data) as GeminiResponse & Partial<GeminiErrorBody>;
    } catch {
      return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream sent a stream event that is not JSON' } };
    }
    if (typeof res !== 'object' || res === null) return { chunks: [] };
    if (res.error !== undefined) {
      const failure: UpstreamFailure = {
        kind: res.error.code === 429 ? 'RateLimited' : res.error.code === 504 ? 'Timeout' : 'ServerError',
        status: 200,
        message: `${res.error.status}: ${res.error.message}`,
      };
      return { chunks: [], failure };
    }
    const blocked = promptBlockReason(res);
    if (blocked !== undefined) return { chunks: [], failure: promptBlockedFailure(blocked) };
    const tooMany = candidatesProblem(res.candidates);
    if (tooMany !== undefined) return { chunks: [], failure: { kind: 'ServerError', status: 200, message: tooMany } };
    this.id ??= res.responseId;
    if (res.modelVersion !== undefined) this.modelName = res.modelVersion;
    if (res.usageMetadata !== undefined) this.usage = res.usageMetadata;
    const chunks: JsonObject[] = [];
    let grounded = false;
    for (const [i, c] of (res.candidates ?? []).entries()) {
      const index = c.index ?? i;
      let state = this.candidates.get(index);
      if (state === undefined) {
        state = { tools: 0, finished: false, grounding: undefined };
        this.candidates.set(index, state);
        chunks.push(this.chunk(index, { role: 'assistant', content: '' }));
      }
      const { text, reasoning, toolCalls } = candidateContent(c, this.id, state.tools, this.maxToolCalls);
      // Thoughts come before the answer they led to (Gemini streams them in their own events first).
      if (reasoning !== '') chunks.push(this.chunk(index, { reasoning_content: reasoning }));
      // The event's tokens' logprobs go with the text they produced.
      if (text !== '') chunks.push(this.chunk(index, { content: text }, null, openAiLogprobs(c.logprobsResult)));
      // Gemini sends each function call whole: id, name and complete arguments in one delta.
      if (toolCalls.length > 0) chunks.push(this.chunk(index, { tool_calls: toolCalls }));
      state.tools += toolCalls.length;
      // Grounding metadata may come in more than one event: its queries are kept as a set, not added up.
      if (c.groundingMetadata !== undefined) {
        const before = state.grounding === undefined ? 0 : Math.max(1, state.grounding.size);
        const queries = state.grounding ?? new Set<string>();
        if (readGrounding(c.groundingMetadata, queries)) {
          if (state.grounding === undefined) this.groundedCandidates++;
          state.grounding = queries;
          this.groundedQueries += Math.max(1, queries.size) - before;
          grounded = true;
        }
      }
      if (c.finishReason !== undefined && !state.finished) {
        state.finished = true;
        chunks.push(this.chunk(index, {}, finishReasonFrom(c.finishReason, state.tools > 0)));
      }
    }
    // Counts so far (hidden thinking included): what the stream has used at least, if it is cut.
    const step: StreamStep = res.usageMetadata === undefined ? { chunks } : { chunks, partialUsage: geminiTieredUsage(usageFromGemini(res.usageMetadata), this.tier) };
    // Searches are billed once run: a stream cut after its grounding showed is charged them too.
    if (grounded) step.toolsSeen = { webSearchCalls: this.groundedSearches() };
    return step;
  }

  onEnd(): StreamStep {
    const unfinished = this.candidates.size === 0 || [...this.candidates.values()].some((s) => !s.finished);
    if (unfinished) return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream stream ended without a finish reason' } };
    const usage = geminiTieredUsage(usageFromGemini(this.usage), this.tier);
    const searches = this.groundedSearches();
    if (searches > 0) usage.webSearchCalls = searches;
    const chunks = this.clientWantsUsage
      ? [usageChunk(this.id ?? 'gemini', this.created, this.modelName, usage, this.usage?.thoughtsTokenCount ?? 0)]
      : [];
    return this.usage === undefined ? { chunks, done: true } : { chunks, usage, done: true };
  }
}
