import { MAX_ERROR_BODY_BYTES, MAX_RESPONSE_JSON_DEPTH, type RouteLimits } from '../config/route-limits.js';
import type { ByteBudget } from '../core/byte-budget.js';
import { type JsonShapeLimits, jsonTextShapeProblem, upstreamShapeFailure } from '../core/json-shape.js';
import type { TargetConfig } from '../config/snapshot.js';
import type { RuntimeProvider } from '../runtime/runtime-snapshot.js';
import { type SseEvent, SseEventTooLarge, SseParser } from '../sse/sse-parser.js';
import { Readable } from 'node:stream';
import { isAnswerCut, readWhole, sendForWhole } from '../upstream/read-capped.js';
import { upstreamRequestId } from '../upstream/upstream-request-id.js';
import { connectionErrorCode, connectionFailureText } from '../upstream/connection-failure.js';
import type { UpstreamResponse, WholeResponse } from '../upstream/transport.js';
import type { UpstreamSignal } from '../upstream/attempt-signal.js';
import type { ClientLink } from './client-link.js';
import { streamIndexFailure } from './stream-bounds.js';
import { MAX_EMPTY_OPENING_STEPS, stepHasContent } from './stream-start.js';
import { scrubFailure, scrubStep } from '../providers/scrub-credentials.js';
import { type AttemptObserver, type AttemptTelemetry, NOOP_ATTEMPTS } from '../telemetry/gateway-observer.js';
import { adapterTarget, providerSecrets } from '../providers/registry.js';
import { RequestTranslationError, type StreamTransformer } from '../providers/types.js';
import type { AttemptResult, CanonicalRequest, JsonObject, StreamStep, UpstreamFailure, UpstreamHttpRequest, Usage } from '../core/canonical.js';

/** Aborted by the router when an attempt runs out of time. */
export class AttemptTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no response within ${ms} ms`);
    this.name = 'AttemptTimeout';
  }
}

/** A response or stream event past the route's limits: the request asked for more than the route allows. */
function tooLarge(status: number, what: string, limitBytes: number, setting: string): UpstreamFailure {
  return { kind: 'ResponseTooLarge', status, message: `upstream ${what} exceeds the route's limit of ${limitBytes} bytes (limits.${setting})` };
}

/** The route's bounds on the shape of what an upstream sends back (config/route-limits.ts). */
const shapeLimits = (limits: RouteLimits): JsonShapeLimits => ({ maxDepth: MAX_RESPONSE_JSON_DEPTH, maxElements: limits.maxResponseJsonElements });

/**
 * Upstream JSON (an answer or one stream event's data) is checked for its shape before any adapter
 * parses it: here, once for all of them. Its byte limits bound memory but not the event loop's time,
 * which every route shares: 25 MiB of `{},` kept another tenant's request waiting 7 s, 40 MiB ran
 * the pod out of heap. Checking costs about 1 µs for a 2 KB answer (under half of JSON.parse's).
 */
function shapeFailure(text: string, shape: JsonShapeLimits, what: string, status: number): UpstreamFailure | undefined {
  const problem = jsonTextShapeProblem(text, shape.maxDepth, shape.maxElements);
  return problem === undefined ? undefined : upstreamShapeFailure(problem, shape, what, status);
}

/** What a stream's last bytes are replaced with once they are parsed (see streamSteps). */
const NO_BYTES = new Uint8Array(0);

/**
 * The upstream stream as steps. A step that carries a failure (upstream error text) is scrubbed
 * here, where it is made, so the stream needs no second generator around it (see scrubbed).
 */
async function* streamSteps(
  res: UpstreamResponse,
  req: CanonicalRequest,
  provider: RuntimeProvider,
  limits: RouteLimits,
  secrets: readonly string[],
): AsyncGenerator<StreamStep, void, undefined> {
  // Once the stream is complete its body is let go with discard() (which reads what is left, the
  // chunked terminator, and gives the connection back), not destroyed: leaving a `for await` over a
  // Node stream destroys it with a new AbortError (a captured stack), once at the end of every stream.
  // discard() comes before the loop is left: a body that is not a Node stream drops its connection
  // when its reader leaves before the end, unless it was discarded.
  const body = res.body instanceof Readable ? res.body.iterator({ destroyOnReturn: false }) : res.body;
  let complete = false;
  const clean = (step: StreamStep): StreamStep => {
    if (step.failure === undefined) {
      // Indexes out of bounds end the stream here, before the guard, the meter or capture keep state by them.
      const failure = streamIndexFailure(step);
      if (failure !== undefined) return { chunks: [], failure };
    }
    if (step.done === true && !complete) {
      complete = true;
      res.discard();
    }
    return step.failure === undefined ? step : scrubStep(step, secrets);
  };
  // While it waits for the next bytes, a suspended generator keeps every local it has set, dead or
  // not: the last bytes read, their events, the last step and the loop's iterator would stay for as
  // long as the stream is held. So they are cleared after use, and taken by index (no iterator).
  let bytes = NO_BYTES;
  let steps: StreamStep[] | undefined;
  let step: StreamStep | undefined;
  let events: SseEvent[] | undefined;
  try {
    const shape = shapeLimits(limits);
    const binary = provider.adapter.createByteStreamTransformer?.(req, res.headers, shape);
    if (binary !== undefined) {
      // Providers that do not stream SSE (AWS event-stream framing) decode the bytes themselves.
      for await (bytes of body) {
        steps = binary.onBytes(bytes);
        bytes = NO_BYTES;
        for (let i = 0; i < steps.length; i++) {
          step = clean(steps[i] as StreamStep);
          yield step;
          if (step.done === true || step.failure !== undefined) return;
        }
        steps = undefined;
        step = undefined;
      }
      yield clean(binary.onEnd());
      return;
    }
    const parser = new SseParser(limits.maxStreamEventBytes);
    const transformer = provider.adapter.createStreamTransformer(req, secrets);
    for await (bytes of body) {
      try {
        events = parser.push(bytes);
      } catch (err) {
        if (!(err instanceof SseEventTooLarge)) throw err;
        // Leaving the loop stops reading the upstream. The upstream produced (and billed) at least
        // this much: before the first chunk it is a lost attempt charged its worst case, as a whole
        // answer too large to read is; later, the stream's meter charges what was streamed.
        yield clean({ chunks: [], failure: { ...tooLarge(200, 'stream event', err.limitBytes, 'maxStreamEventBytes'), billed: 'worstCase' } });
        return;
      }
      bytes = NO_BYTES;
      for (let i = 0; i < events.length; i++) {
        step = clean(onEvent(transformer, events[i] as SseEvent, shape));
        yield step;
        if (step.done === true || step.failure !== undefined) return;
      }
      events = undefined;
      step = undefined;
    }
    for (const event of parser.end()) {
      const step = clean(onEvent(transformer, event, shape));
      yield step;
      if (step.done === true || step.failure !== undefined) return;
    }
    yield clean(transformer.onEnd());
  } finally {
    if (!complete && res.body instanceof Readable) {
      // The iterator no longer listens for 'error', and undici's body destroys itself with an
      // AbortError: without a listener that error is an uncaught exception that ends the process.
      res.body.on('error', ignoreError);
      res.body.destroy();
    }
  }
}

/** One event to the adapter, unless its shape is past the route's bounds (a failure that ends the stream, charged as a whole). */
function onEvent(transformer: StreamTransformer, event: SseEvent, shape: JsonShapeLimits): StreamStep {
  const failure = shapeFailure(event.data, shape, 'stream event', 200);
  return failure === undefined ? transformer.onEvent(event) : { chunks: [], failure };
}

function ignoreError(): void {
  // The stream is being let go; its error has no reader.
}

/**
 * Building the upstream request failed: nothing was sent, so this is never the target's fault. A
 * request the adapter cannot express (which another target's may: the route fails over), or one
 * too deep or too large to re-serialise (the engine's RangeError, the same everywhere), is the
 * client's (400); anything else is the gateway's own bug. Either way the failure is local: passive
 * health ignores it and the same target is not retried.
 */
function translationFailure(err: unknown): UpstreamFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RequestTranslationError) {
    return {
      kind: 'ClientError',
      status: 400,
      message,
      local: true,
      untranslatable: true,
      clientBody: { error: { message, type: 'invalid_request_error', param: err.param, code: 'unsupported_by_provider' } },
    };
  }
  if (err instanceof RangeError) {
    const text = 'the request is too deeply nested or too large to be sent upstream';
    return { kind: 'ClientError', status: 400, message: text, local: true, clientBody: { error: { message: text, type: 'invalid_request_error', param: null, code: 'request_too_complex' } } };
  }
  return { kind: 'ServerError', status: 0, message: `cannot build the upstream request: ${message}`, local: true };
}

/**
 * One attempt against one target. Resolves once the attempt is decided: a full response, a stream
 * whose first event has arrived (the point of no return), or a classified failure.
 */
export async function runAttempt(
  req: CanonicalRequest,
  target: TargetConfig,
  provider: RuntimeProvider,
  baseUrl: string,
  signal: UpstreamSignal,
  client: ClientLink,
  limits: RouteLimits,
  observer: AttemptObserver = NOOP_ATTEMPTS,
  /** The process's budget for large answers read whole (WholeOptions.budget); none: unbounded. */
  responseBudget?: ByteBudget,
): Promise<AttemptResult> {
  const telemetry = observer.attempt(target, provider, baseUrl);
  const minted: { token?: string } = {};
  const result = await attemptUpstream(req, target, provider, baseUrl, signal, client, limits, telemetry, minted, responseBudget);
  return telemetry.settle(scrubbed(result, attemptSecrets(provider, minted.token)));
}

/**
 * The credentials one attempt holds: the provider's own and the access token minted for it (a
 * Vertex service-account key's). That token's endpoint comes from the key, so the token need not
 * look like one (ya29.…): only knowing it lets an upstream or proxy that echoes it be scrubbed.
 */
function attemptSecrets(provider: RuntimeProvider, accessToken: string | undefined): readonly string[] {
  const own = providerSecrets(provider.config);
  return accessToken === undefined || accessToken === '' ? own : [...own, accessToken];
}

/**
 * Upstream error text leaves the attempt only scrubbed (credentials the upstream echoed back, and
 * anything shaped like one), so that clients, spans, logs and the error after failover never see it.
 * A stream's steps (first and rest) come scrubbed from streamSteps.
 */
function scrubbed(result: AttemptResult, secrets: readonly string[]): AttemptResult {
  if (result.ok || !('failure' in result)) return result;
  return { ...result, failure: scrubFailure(result.failure, secrets) };
}

/**
 * A whole answer read (a response, or an error of a stream that never started) as the attempt's
 * result. A large answer keeps its bytes of the process's budget (CappedText.held) only when it
 * becomes the response: it is held, parsed and then written, until the reply has been written
 * (pipeline/stages/serve.ts); a failure gives them back at once.
 */
function complete(req: CanonicalRequest, provider: RuntimeProvider, res: WholeResponse, limits: RouteLimits, secrets: readonly string[]): AttemptResult {
  const held = res.body.held;
  if (held === undefined) return completed(req, provider, res, limits, secrets);
  let result: AttemptResult;
  try {
    result = completed(req, provider, res, limits, secrets);
  } catch (err) {
    held();
    throw err;
  }
  if (result.ok && result.kind === 'response') result.held = held;
  else held();
  return result;
}

function completed(req: CanonicalRequest, provider: RuntimeProvider, res: WholeResponse, limits: RouteLimits, secrets: readonly string[]): AttemptResult {
  const success = res.status >= 200 && res.status < 300;
  if (success && !res.body.complete) return { ok: false, failure: { ...unread(res, limits), billed: 'worstCase' } };
  const text = res.body.text();
  // An error body is read to 16 KiB at most (MAX_ERROR_BODY_BYTES), and its walks are bounded (scrub-credentials.ts).
  const refused = success ? shapeFailure(text, shapeLimits(limits), 'response', res.status) : undefined;
  if (refused !== undefined) return { ok: false, failure: refused };
  const parsed = provider.adapter.parseResponse(req, res.status, res.headers, text, secrets);
  if (!parsed.ok) return { ok: false, failure: parsed.failure };
  const upstreamId = upstreamRequestId(res.headers, provider.requestIdHeaders);
  return parsed.usage === undefined
    ? { ok: true, kind: 'response', body: parsed.body, status: res.status, upstreamRequestId: upstreamId }
    : { ok: true, kind: 'response', body: parsed.body, usage: parsed.usage, status: res.status, upstreamRequestId: upstreamId };
}

/**
 * Why a successful answer was not read whole. The upstream made (and billed) it either way. Out of
 * room in the process's budget, a retry soon may fit: 503 with retry-after, not retried here nor
 * failed over (another target's answer would need the same room). Larger than the whole budget, it
 * never fits: as too large as one past the route's limit.
 */
function unread(res: WholeResponse, limits: RouteLimits): UpstreamFailure {
  switch (res.body.noRoom) {
    case 'busy':
      return {
        kind: 'ResponseTooLarge',
        status: res.status,
        message: 'the gateway already holds its maximum of large upstream answers (--max-inflight-response-bytes); retry shortly',
        overCapacity: true,
        retryAfterMs: 1000,
      };
    case 'never':
      return { kind: 'ResponseTooLarge', status: res.status, message: "upstream response exceeds all the gateway may hold of upstream answers at once (--max-inflight-response-bytes)" };
    default:
      return tooLarge(res.status, 'response', limits.maxResponseBytes, 'maxResponseBytes');
  }
}

/**
 * What an attempt that timed out after its request was sent may have been billed. An upstream
 * finishes a non-streaming request whose caller hung up and bills all of it (answer included), so
 * such an attempt is its worst case: the prompt estimate plus the output cap. A stream stops
 * upstream with its connection: its prompt (the work before the first chunk, which never came).
 */
function timedOutBilled(req: CanonicalRequest): 'prompt' | 'worstCase' {
  return req.stream ? 'prompt' : 'worstCase';
}

async function attemptUpstream(
  req: CanonicalRequest,
  target: TargetConfig,
  provider: RuntimeProvider,
  baseUrl: string,
  signal: UpstreamSignal,
  client: ClientLink,
  limits: RouteLimits,
  telemetry: AttemptTelemetry,
  /** Where the access token minted for this attempt is left, for the scrub of its result. */
  minted: { token?: string },
  budget: ByteBudget | undefined,
): Promise<AttemptResult> {
  let sent = false;
  const fail = (err: unknown): AttemptResult => {
    const timedOut = signal.reason instanceof AttemptTimeout;
    // A successful answer whose body broke off: the upstream did (and billed) all of it.
    const cut = !req.stream && isAnswerCut(err);
    // A non-streaming attempt is not cut by its client (it is read on for its usage): when it then
    // times out or its answer breaks off, it is the lost attempt below, not a client gone with its prompt estimate.
    if (client.aborted && !(sent && !req.stream && (timedOut || cut))) return { ok: false, clientGone: true, sent };
    if (signal.reason instanceof AttemptTimeout) return { ok: false, failure: { kind: 'Timeout', status: 0, message: signal.reason.message, ...(sent ? { billed: timedOutBilled(req) } : {}) } };
    if (cut) return { ok: false, failure: { kind: 'ConnectionError', status: 0, message: 'the upstream closed the connection in the middle of its answer', billed: 'worstCase' } };
    return { ok: false, failure: { kind: 'ConnectionError', status: 0, message: connectionFailureText(err) } };
  };
  let accessToken: string | undefined;
  if (provider.tokenSource !== undefined) {
    try {
      accessToken = await provider.tokenSource.token(signal);
      minted.token = accessToken;
    } catch (err) {
      const failed = fail(err);
      if (!failed.ok && 'failure' in failed) {
        // The token source's own errors (no code) say what its token endpoint answered; a connection failure is said as any other.
        const own = failed.failure.kind === 'ConnectionError' && err instanceof Error && connectionErrorCode(err) === undefined;
        failed.failure.message = `could not obtain an access token: ${own ? err.message : failed.failure.message}`;
      }
      return failed;
    }
  }
  const secrets = attemptSecrets(provider, accessToken);
  let upstreamReq: UpstreamHttpRequest;
  try {
    upstreamReq = provider.adapter.buildRequest(req, adapterTarget(provider, baseUrl, target.model, Date.now(), accessToken));
  } catch (err) {
    return { ok: false, failure: translationFailure(err) };
  }
  telemetry.inject(upstreamReq.headers);
  try {
    sent = true;
    // Counted as it arrives: an error body is read only as far as any error message goes, a
    // response only up to the route's limit (checked first against a declared length), and past
    // RESERVE_FROM_BYTES only as far as the process's budget for large answers has room.
    const sending = { signal, connectTimeoutMs: provider.config.connectTimeoutMs, limitBytes: limits.maxResponseBytes, errorLimitBytes: MAX_ERROR_BODY_BYTES, budget };
    if (!req.stream) return complete(req, provider, await sendForWhole(provider.transport, upstreamReq, sending), limits, secrets);
    const res = await provider.transport.send(upstreamReq, sending);
    if (res.status < 200 || res.status >= 300) return complete(req, provider, await readWhole(res, sending), limits, secrets);
    const steps = streamSteps(res, req, provider, limits, secrets);
    const first: StreamStep[] = [];
    // The stream starts (and can no longer go elsewhere) at its first step with content: steps that
    // carry only an opening role chunk are held, so that an error right after them (Anthropic's
    // overloaded_error after message_start) is still a failure to retry or fail over. Bounded by
    // the attempt timeout (still running) and by a count; a first step with content costs nothing.
    let empty = 0;
    for (;;) {
      const next = await steps.next();
      if (next.done === true) break;
      const step = next.value;
      if (step.failure !== undefined && !first.some(stepHasContent)) {
        // Ends the generator where it yielded, which ends its read of the body: left suspended, it
        // kept the upstream connection open (and the transport could not close) until the upstream quit.
        await steps.return(undefined);
        // The upstream had opened its answer (Anthropic's message_start, which reports the prompt's
        // tokens): it had taken the prompt and may bill it, though the request goes elsewhere. Before,
        // such an attempt was charged nothing.
        const opened = first.length > 0 && step.failure.billed === undefined;
        return { ok: false, failure: opened ? { ...step.failure, billed: 'prompt' } : step.failure };
      }
      first.push(step);
      if (step.done === true || step.failure !== undefined) break;
      if (step.chunks.length > 0 && (stepHasContent(step) || ++empty >= MAX_EMPTY_OPENING_STEPS)) break;
    }
    return { ok: true, kind: 'stream', first, rest: steps, upstreamRequestId: upstreamRequestId(res.headers, provider.requestIdHeaders) };
  } catch (err) {
    return fail(err);
  }
}
