import type { SseEvent } from '../../sse/sse-parser.js';
import type { AdapterTarget, ProviderAdapter, StreamTransformer } from '../types.js';
import type { CanonicalRequest, HeaderMap, JsonObject, Operation, ParseResult, StreamStep, ToolFees, UpstreamHttpRequest } from '../../core/canonical.js';
import { parsedFrom } from '../../core/upstream-text.js';
import { isObject } from '../shared/json-guards.js';
import { withNativeResponses } from '../shared/native-responses.js';
import { toOpenAiWire } from '../shared/openai-wire.js';
import { classifyOpenAiError, classifyOpenAiStreamError } from './openai-errors.js';
import { forOpenAiPlatform } from './openai-platform.js';
import { openAiReasonsUnseen } from '../shared/openai-reasoning.js';
import { asksWebSearch, citesWeb, usageFromOpenAi, withChatSearch } from './openai-usage.js';

const PATHS: Record<Operation, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
};

const DONE: StreamStep = { chunks: [], done: true };
const NO_CHOICE = Symbol('no choice');

/**
 * OpenAI streams end with `data: [DONE]`. A stream that ends without it is complete only if every
 * choice it started reported a finish_reason (some compatible servers omit [DONE]); otherwise the
 * upstream was cut off and the stream is a failure, never shown as complete nor cached.
 */
class OpenAiStreamTransformer implements StreamTransformer {
  // Choices by index: the first in fields, any other in a Map made when one appears (a stream usually
  // has one choice, and two Sets per held stream were ~0.3 KB of heap). A choice maps to "finished".
  private first: unknown = NO_CHOICE;
  private firstFinished = false;
  private others: Map<unknown, boolean> | undefined;

  /**
   * @param searched the request asked a search model to search (`web_search_options`); set too when
   * a delta cites the web: the usage is then billed a search.
   */
  /** The stream's steps have said it searched (StreamStep.toolsSeen), so that a cut is charged the search. */
  private toldSearch = false;

  constructor(
    private readonly clientWantsUsage: boolean,
    private searched: boolean,
  ) {}

  private track(choices: unknown): void {
    if (!Array.isArray(choices)) return;
    for (const c of choices) {
      if (!isObject(c)) continue;
      if (!this.searched && isObject(c.delta) && c.delta.annotations !== undefined) this.searched = citesWeb(c.delta);
      const index = c.index ?? 0;
      const finished = typeof c.finish_reason === 'string' && c.finish_reason !== '';
      if (this.first === NO_CHOICE) this.first = index;
      if (index === this.first) this.firstFinished ||= finished;
      else {
        this.others ??= new Map();
        this.others.set(index, this.others.get(index) === true || finished);
      }
    }
  }

  onEvent(event: SseEvent): StreamStep {
    if (event.data === '[DONE]') return DONE;
    let chunk: unknown;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream sent a stream event that is not JSON' } };
    }
    if (!isObject(chunk)) return { chunks: [] };
    if (event.event === 'error' || isObject(chunk.error)) {
      return { chunks: [], failure: classifyOpenAiStreamError(isObject(chunk.error) ? chunk.error : chunk) };
    }
    this.track(chunk.choices);
    const usage = usageFromOpenAi(chunk.usage, chunk.service_tier);
    const step: StreamStep = { chunks: [chunk] };
    // A search model searches before it answers, and is billed the search once it ran.
    if (this.searched && !this.toldSearch) {
      this.toldSearch = true;
      step.toolsSeen = SEARCHED;
    }
    if (usage !== undefined) step.usage = withChatSearch(usage, this.searched);
    // `"usage":null` (on every chunk before the usage chunk) hides nothing: such chunks pass through as they came.
    if (!this.clientWantsUsage && chunk.usage !== undefined && chunk.usage !== null) {
      // The gateway asked for usage on the client's behalf; hide what the client did not ask for.
      const choices = chunk.choices;
      if (isObject(chunk.usage) && Array.isArray(choices) && choices.length === 0) step.chunks = [];
      else delete chunk.usage;
      return step;
    }
    // Unchanged: the upstream's bytes go to the client as they came (a multi-line data field is rebuilt on one line).
    if (!event.data.includes('\n') && !event.data.includes('\r')) step.raw = [event.data];
    return step;
  }

  onEnd(): StreamStep {
    const complete = this.first !== NO_CHOICE && this.firstFinished && (this.others === undefined || [...this.others.values()].every(Boolean));
    if (complete) return DONE;
    return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream stream ended before [DONE] or a finish reason' } };
  }
}

/** What a chat search model's stream shows once it searched (one object, never written to). */
const SEARCHED: ToolFees = Object.freeze({ webSearchCalls: 1 });

/** Whether a chat answer's choices cite the web (a search model searched). */
function answerCitesWeb(choices: unknown): boolean {
  if (!Array.isArray(choices)) return false;
  for (const c of choices as unknown[]) if (isObject(c) && citesWeb(c.message)) return true;
  return false;
}

/** OpenAI wire format; reused as-is by openai-compatible, vllm and mock providers. */
export const openAiAdapter: ProviderAdapter = {
  buildRequest(req: CanonicalRequest, target: AdapterTarget): UpstreamHttpRequest {
    const body: JsonObject = { ...(req.extended === true && req.op === 'chat' ? toOpenAiWire(req.body, target.model) : req.body), model: target.model };
    if (req.stream && req.op !== 'embeddings') {
      const clientOptions = isObject(req.body.stream_options) ? req.body.stream_options : {};
      body.stream_options = { ...clientOptions, include_usage: true };
    }
    const headers: Record<string, string> = {
      ...target.headers,
      'content-type': 'application/json',
      accept: req.stream ? 'text/event-stream' : 'application/json',
    };
    if (target.apiKey !== undefined && target.apiKey !== '') headers.authorization = `Bearer ${target.apiKey}`;
    return { url: target.baseUrl + PATHS[req.op], method: 'POST', headers, body: JSON.stringify(body) };
  },

  parseResponse(req: CanonicalRequest, status: number, headers: HeaderMap, bodyText: string): ParseResult {
    if (status < 200 || status >= 300) return { ok: false, failure: classifyOpenAiError(status, headers, bodyText) };
    let body: unknown;
    try {
      body = JSON.parse(bodyText);
    } catch {
      return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned a body that is not JSON' } };
    }
    if (!isObject(body)) return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned a non-object body' } };
    // Some servers (proxies, overloaded OpenAI-compatible backends) answer an error with status 200:
    // an error object and nothing else is a failure, as it is mid-stream. Taken as an answer, it went
    // to the client unscrubbed, was cached, and was never failed over.
    if (isObject(body.error) && body.choices === undefined && body.data === undefined && body.object === undefined) {
      return { ok: false, failure: classifyOpenAiError(502, headers, bodyText) };
    }
    parsedFrom(body, bodyText);
    const usage = usageFromOpenAi(body.usage, body.service_tier);
    return usage === undefined ? { ok: true, body } : { ok: true, body, usage: req.op === 'chat' ? withChatSearch(usage, asksWebSearch(req.body) || answerCitesWeb(body.choices)) : usage };
  },

  classifyError: classifyOpenAiError,

  createStreamTransformer(req: CanonicalRequest): StreamTransformer {
    return new OpenAiStreamTransformer(req.clientWantsUsage, req.op === 'chat' && asksWebSearch(req.body));
  },

  reasonsUnseen: (req, model) => req.op !== 'embeddings' && openAiReasonsUnseen(req, model),
};

/** OpenAI's own API: the OpenAI mappers with the request cut to what the platform takes (openai-platform.ts). */
const openAiPlatformAdapter: ProviderAdapter = {
  ...openAiAdapter,
  buildRequest: (req, target) => openAiAdapter.buildRequest(forOpenAiPlatform(req, true, target.model), target),
};

/** OpenAI itself: the chat adapter, and POST /responses forwarded natively (its state, `previous_response_id` and `store`, kept by OpenAI). */
export const openAiResponsesAdapter: ProviderAdapter = withNativeResponses(openAiPlatformAdapter, (target) => ({
  url: `${target.baseUrl}/responses`,
  model: target.model,
  headers: target.apiKey === undefined || target.apiKey === '' ? { ...target.headers } : { ...target.headers, authorization: `Bearer ${target.apiKey}` },
}));
