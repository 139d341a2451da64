import type { SseEvent } from '../../sse/sse-parser.js';
import type { CanonicalRequest, HeaderMap, JsonObject, ParseResult, StreamStep, ToolFees, Usage } from '../../core/canonical.js';
import type { AdapterTarget, ProviderAdapter, StreamTransformer } from '../types.js';
import { billedOutputTokens } from './billed-output.js';
import { count, isObject } from './json-guards.js';
import { scrubJson } from '../scrub-credentials.js';
import { withTier } from './service-tier.js';
import { codeInterpreterAsk, containerGbOfResponse, type CodeInterpreterAsk } from '../../metering/container-sessions.js';

/** Where a target's POST /responses goes: its URL, the model it names, and its credential headers. */
export type ResponsesEndpoint = (target: AdapterTarget) => { url: string; model: string; headers: Record<string, string> };

/** A Response object's `usage` (input_tokens with cached ones inside, output_tokens) as canonical usage. */
export function usageFromResponse(value: unknown, serviceTier?: unknown): Usage | undefined {
  if (!isObject(value)) return undefined;
  const details = isObject(value.input_tokens_details) ? value.input_tokens_details : undefined;
  const input = count(value.input_tokens);
  const outputDetails = isObject(value.output_tokens_details) ? value.output_tokens_details : undefined;
  // Never less than the total less the input, nor than reasoning the output cannot hold (shared/billed-output.ts).
  const output = billedOutputTokens(input, value.output_tokens, value.total_tokens, outputDetails?.reasoning_tokens) ?? 0;
  return withTier({ inputTokens: input, outputTokens: output, cachedInputTokens: count(details?.cached_tokens) }, serviceTier);
}

/** Output items a Response may hold that are read for tool calls: past them the count stops (the answer is bounded in bytes anyway). */
const MAX_COUNTED_ITEMS = 10_000;

/**
 * A Response's usage with its built-in tool calls, billed per call (web_search_call, file_search_call
 * items), and the code interpreter containers it ran in or asked for (metering/container-sessions.ts;
 * `request`: the body sent, whose code_interpreter tools say which containers were named and which auto).
 */
export function billedUsageOfResponse(response: JsonObject, request?: JsonObject): Usage | undefined {
  const usage = usageFromResponse(response.usage, response.service_tier);
  if (usage === undefined) return usage;
  const ask = codeInterpreterAsk(request);
  if (!Array.isArray(response.output)) return withContainers(usage, ask, undefined);
  let web = 0;
  let file = 0;
  // Only a Response that ran code holds a list: the ordinary one allocates nothing here.
  let containers: string[] | undefined;
  const items: unknown[] = response.output;
  for (let i = 0; i < Math.min(items.length, MAX_COUNTED_ITEMS); i++) {
    const item = items[i];
    if (!isObject(item)) continue;
    if (item.type === 'web_search_call') web++;
    else if (item.type === 'file_search_call') file++;
    else if (item.type === 'code_interpreter_call') (containers ??= []).push(typeof item.container_id === 'string' ? item.container_id : '');
  }
  if (web > 0) usage.webSearchCalls = web;
  if (file > 0) usage.fileSearchCalls = file;
  return withContainers(usage, ask, containers);
}

/** `usage` with the container sessions of a Response that asked for or ran a code interpreter. */
function withContainers(usage: Usage, ask: CodeInterpreterAsk | undefined, containers: string[] | undefined): Usage {
  if (ask === undefined && containers === undefined) return usage;
  const gb = containerGbOfResponse(ask, containers);
  if (gb > 0) usage.containerGb = gb;
  return usage;
}

/**
 * A Response that carries an `error` (status `failed`) with that error's strings (message, code)
 * scrubbed; undefined for any other. The Response is relayed as the API's own answer, not reported
 * as a failure, so the attempt's scrub of failures never sees the upstream's words in it.
 */
function scrubbedFailedResponse(response: JsonObject, secrets: readonly string[]): JsonObject | undefined {
  if (!isObject(response.error)) return undefined;
  return { ...response, error: scrubJson(response.error, secrets) as JsonObject };
}

/** Events after which a Responses stream has nothing more to say. */
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * The built-in tool calls a Response stream has shown in its output_item.added/done events, each
 * counted once (an item shows in both), and their fees as billedUsageOfResponse counts them of a
 * whole Response: a stream cut before `response.completed` is charged these. Kept as running counts,
 * so that each event costs the same however many calls came before (an upstream may send up to
 * MAX_COUNTED_ITEMS of them: recounting at each was quadratic).
 */
export class ToolCallsSeen {
  /** Each call's container ('' not said yet, or not a code interpreter call), by output index or item id. */
  private readonly calls = new Map<unknown, string | undefined>();
  /** Code interpreter calls by the container they ran in ('' not said yet). */
  private readonly containers = new Map<string, number>();
  private readonly named: ReadonlySet<string>;
  private web = 0;
  private file = 0;
  /** Containers in `containers` the request did not name: made by the Response. */
  private made = 0;

  constructor(private readonly ask: CodeInterpreterAsk | undefined) {
    this.named = new Set(ask?.named);
  }

  /** Notes an output item; true when the fees it shows changed. */
  see(item: unknown, outputIndex: unknown): boolean {
    if (!isObject(item) || (item.type !== 'web_search_call' && item.type !== 'file_search_call' && item.type !== 'code_interpreter_call')) return false;
    const key = typeof outputIndex === 'number' ? outputIndex : item.id;
    const container = item.type === 'code_interpreter_call' ? (typeof item.container_id === 'string' ? item.container_id : '') : undefined;
    if (this.calls.has(key)) {
      // The same call again (its done event): only a container it now names may change the fees.
      const known = this.calls.get(key);
      if (known !== '' || container === undefined || container === '') return false;
      this.calls.set(key, container);
      this.leave('');
      this.enter(container);
      return true;
    }
    if (this.calls.size >= MAX_COUNTED_ITEMS) return false;
    this.calls.set(key, container);
    if (item.type === 'web_search_call') this.web++;
    else if (item.type === 'file_search_call') this.file++;
    else this.enter(container ?? '');
    return true;
  }

  private enter(container: string): void {
    const n = this.containers.get(container) ?? 0;
    this.containers.set(container, n + 1);
    if (n === 0 && !this.named.has(container)) this.made++;
  }

  private leave(container: string): void {
    const n = this.containers.get(container) ?? 0;
    if (n > 1) this.containers.set(container, n - 1);
    else {
      this.containers.delete(container);
      if (n === 1 && !this.named.has(container)) this.made--;
    }
  }

  fees(): ToolFees {
    const fees: ToolFees = {};
    if (this.web > 0) fees.webSearchCalls = this.web;
    if (this.file > 0) fees.fileSearchCalls = this.file;
    if (this.ask !== undefined || this.containers.size > 0) {
      // As containerGbOfResponse counts them.
      const gb = Math.max(this.made, this.ask?.autoTools ?? 0) * Math.max(1, this.ask?.autoGb ?? 0);
      if (gb > 0) fees.containerGb = gb;
    }
    return fees;
  }
}

/**
 * The upstream's Responses events relayed as they are (each one chunk, its own bytes kept), with
 * the usage of the terminal event for metering. An `error` event is a failure the gateway reports
 * in its own words (scrubbed); an event whose Response failed (`response.failed`) is relayed with
 * its error scrubbed, re-serialised; a stream that stops before a terminal event was cut off.
 */
class ResponsesEventRelay implements StreamTransformer {
  private ended = false;
  /**
   * The built-in tool calls the stream has shown (output items), for a stream cut before its
   * Response's usage: made only once one shows (or the request asks for an auto container).
   */
  private tools: ToolCallsSeen | undefined;

  /** Whether the request offers tools: only then are its events read for tool calls. */
  private readonly offersTools: boolean;

  constructor(
    private readonly secrets: readonly string[],
    private readonly request: JsonObject,
  ) {
    this.offersTools = Array.isArray(request.tools) && request.tools.length > 0;
  }

  /** The tool fees `step` shows that the stream had not shown yet, on the step; nothing for most events. */
  private watchTools(data: JsonObject, step: StreamStep): void {
    if (this.tools === undefined) {
      // OpenAI makes an auto container when the Response starts, whether or not the model runs code.
      const ask = codeInterpreterAsk(this.request);
      this.tools = new ToolCallsSeen(ask);
      if (ask !== undefined && ask.autoTools > 0) step.toolsSeen = this.tools.fees();
    }
    if (data.type !== 'response.output_item.added' && data.type !== 'response.output_item.done') return;
    if (this.tools.see(data.item, data.output_index)) step.toolsSeen = this.tools.fees();
  }

  onEvent(event: SseEvent): StreamStep {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream sent a stream event that is not JSON' } };
    }
    if (!isObject(data) || typeof data.type !== 'string') return { chunks: [] };
    if (data.type === 'error') {
      const message = typeof data.message === 'string' ? data.message : 'upstream reported an error mid-stream';
      return { chunks: [], failure: { kind: 'ServerError', status: 200, message } };
    }
    const failed = isObject(data.response) ? scrubbedFailedResponse(data.response, this.secrets) : undefined;
    if (failed !== undefined) data.response = failed;
    const step: StreamStep = { chunks: [data] };
    if (this.tools !== undefined || this.offersTools) this.watchTools(data, step);
    // A failed Response's upstream bytes hold its unscrubbed error: never relayed.
    if (failed === undefined && !event.data.includes('\n') && !event.data.includes('\r')) step.raw = [event.data];
    if (TERMINAL.has(data.type)) {
      this.ended = true;
      step.done = true;
      const usage = isObject(data.response) ? billedUsageOfResponse(data.response, this.request) : undefined;
      if (usage !== undefined) step.usage = usage;
    }
    return step;
  }

  onEnd(): StreamStep {
    if (this.ended) return { chunks: [], done: true };
    return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream stream ended before response.completed' } };
  }
}

function parseResponse(base: ProviderAdapter, request: JsonObject, status: number, headers: HeaderMap, bodyText: string, secrets: readonly string[]): ParseResult {
  if (status < 200 || status >= 300) return { ok: false, failure: base.classifyError(status, headers, bodyText) };
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned a body that is not JSON' } };
  }
  if (!isObject(body) || body.object !== 'response') return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned something other than a Response object' } };
  const response = scrubbedFailedResponse(body, secrets) ?? body;
  const usage = billedUsageOfResponse(response, request);
  return usage === undefined ? { ok: true, body: response } : { ok: true, body: response, usage };
}

const isNative = (req: CanonicalRequest): req is CanonicalRequest & { native: { body: JsonObject } } => req.native?.api === 'responses';

/**
 * `base` plus OpenAI's Responses API spoken natively: a request that carries its Responses form is
 * forwarded as the client sent it (the target's model in place of the public one) to `endpoint`,
 * and the Response object or its events come back untranslated; anything else goes to `base`.
 */
export function withNativeResponses(base: ProviderAdapter, endpoint: ResponsesEndpoint): ProviderAdapter {
  return {
    ...base,
    nativeApis: ['responses'],
    buildRequest(req, target) {
      if (!isNative(req)) return base.buildRequest(req, target);
      const { url, model, headers } = endpoint(target);
      return {
        url,
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', accept: req.stream ? 'text/event-stream' : 'application/json' },
        body: JSON.stringify({ ...req.native.body, model }),
      };
    },
    parseResponse(req, status, headers, bodyText, secrets = []) {
      return isNative(req) ? parseResponse(base, req.native.body, status, headers, bodyText, secrets) : base.parseResponse(req, status, headers, bodyText, secrets);
    },
    createStreamTransformer(req, secrets = []) {
      return isNative(req) ? new ResponsesEventRelay(secrets, req.native.body) : base.createStreamTransformer(req, secrets);
    },
  };
}
