import { type Attributes, type Context, defaultTextMapSetter, type Span, SpanKind, SpanStatusCode, type TextMapSetter, trace, type Tracer } from '@opentelemetry/api';
import type { RuntimeProvider } from '../runtime/runtime-snapshot.js';
import type { TargetConfig } from '../config/snapshot.js';
import type { StreamStep, UpstreamFailure, Usage } from '../core/canonical.js';
import type { AttemptResult } from '../core/canonical.js';
import type { AttemptTelemetry } from './gateway-observer.js';
import { GENAI, ResponseFacts } from './genai-attributes.js';
import type { LeanSpan, LeanTracer } from './lean-tracer.js';
import type { TargetSeries } from './target-series.js';
import type { TelemetryContext } from './telemetry-context.js';

type Stream = AsyncGenerator<StreamStep, void, undefined>;

/** The name of the error a stream ends with when the client went away (routing's ClientGone). */
export const CLIENT_GONE = 'ClientGone';

/** What the request learns from its attempts. */
export interface AttemptOwner {
  readonly operationName: string;
  readonly routeId: string;
  readonly stream: boolean;
  /** Trace context of the SERVER span; undefined when tracing is off. */
  readonly traceContext: Context | undefined;
  /** The SERVER span; undefined when tracing is off. */
  readonly serverSpan: Span | undefined;
  attemptDecided(attempt: AttemptRecorder, outcome: string, ms: number): void;
  streamStarted(attempt: AttemptRecorder): void;
  streamEnded(attempt: AttemptRecorder, failure: string | undefined): void;
}

/** What a stream's observer tells its attempt: every step, and the end once. */
interface StreamWatcher {
  streamStep(step: StreamStep): void;
  streamEnd(failure: string | undefined): void;
}

/**
 * Writes what a propagator injects but tracestate: any the gateway has is the caller's, which does
 * not go to a provider (as LeanSpan.injectInto).
 */
const TRACEPARENT_ONLY: TextMapSetter<Record<string, string>> = {
  set(carrier, key, value) {
    if (key !== 'tracestate') defaultTextMapSetter.set(carrier, key, value);
  },
};

function failureOf(err: unknown): string {
  const cause = err instanceof Error && err.name === 'AbortError' && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.name : 'Error';
}

/**
 * Observes the end of a stream without changing what it yields; return() and throw() reach the
 * upstream. One object with its two callbacks for then(), not a closure per method: a held stream
 * keeps it for as long as it is held.
 */
class ObservedStream implements Stream {
  private ended = false;

  constructor(
    private readonly inner: Stream,
    private readonly watcher: StreamWatcher,
  ) {}

  private end(failure: string | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.watcher.streamEnd(failure);
  }

  private readonly onResult = (r: IteratorResult<StreamStep, void>): IteratorResult<StreamStep, void> => {
    if (r.done === true) this.end(undefined);
    else {
      this.watcher.streamStep(r.value);
      if (r.value.failure !== undefined) this.end(r.value.failure.kind);
      else if (r.value.done === true) this.end(undefined);
    }
    return r;
  };

  private readonly onFailure = (err: unknown): never => {
    this.end(failureOf(err));
    throw err;
  };

  // Not an async function: a held stream waits here between chunks, and a suspended async frame
  // (its generator, registers and await closures) costs several times the one promise of then().
  next(): Promise<IteratorResult<StreamStep, void>> {
    return this.inner.next().then(this.onResult, this.onFailure);
  }

  async return(value: void | PromiseLike<void>): Promise<IteratorResult<StreamStep, void>> {
    this.end(undefined);
    return this.inner.return(value);
  }

  async throw(err: unknown): Promise<IteratorResult<StreamStep, void>> {
    this.end(failureOf(err));
    return this.inner.throw(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** One upstream attempt: its CLIENT span, its metrics, and what the request learns from it. */
export class AttemptRecorder implements AttemptTelemetry, StreamWatcher {
  readonly started = performance.now();
  /** Its target's labels on the route's metrics (bounded or folded: target-labels.ts). */
  readonly labels: { readonly route: string; readonly provider: string; readonly upstream_model: string };
  readonly facts = new ResponseFacts();
  /** Usage as the provider reported it (never an estimate). */
  usage: Usage | undefined;
  private readonly span: Span | undefined;

  constructor(
    private readonly ctx: TelemetryContext,
    private readonly owner: AttemptOwner,
    readonly target: TargetConfig,
    readonly provider: RuntimeProvider,
    baseUrl: string,
    n: number,
    /** The target's metric series on the owner's route. */
    readonly series: TargetSeries,
  ) {
    this.labels = series.labels;
    const tracer = ctx.tracer;
    const parentSpan = owner.serverSpan;
    if (tracer === undefined || parentSpan === undefined) return;
    const server = ctx.addresses.of(baseUrl);
    const attributes: Attributes = {
      [GENAI.operation]: owner.operationName,
      [GENAI.provider]: provider.telemetryName,
      [GENAI.requestModel]: target.model,
      'tollgate.route': owner.routeId,
      'tollgate.provider': target.providerId,
      'tollgate.attempt': n,
    };
    if (owner.stream) attributes[GENAI.requestStream] = true;
    if (server !== undefined) {
      attributes['server.address'] = server.address;
      attributes['server.port'] = server.port;
    }
    const name = `${owner.operationName} ${target.model}`;
    const options = { kind: SpanKind.CLIENT, attributes };
    // The data plane's own tracer starts a child of its own SERVER span without a Context (known by
    // their methods, as in inject: no import of lean-tracer.ts here).
    const lean: Tracer & Partial<Pick<LeanTracer, 'startChildSpan'>> = tracer;
    const parent: Span & Partial<Pick<LeanSpan, 'injectInto'>> = parentSpan;
    this.span =
      lean.startChildSpan !== undefined && parent.injectInto !== undefined
        ? lean.startChildSpan(name, options, parent as LeanSpan, () => owner.traceContext as Context)
        : tracer.startSpan(name, options, owner.traceContext);
  }

  inject(headers: Record<string, string>): void {
    if (this.span === undefined) return;
    // The data plane's own spans (LeanSpan) write their headers themselves. Known by the method, not
    // by instanceof: importing lean-tracer.ts here loaded the SDK's samplers at start with tracing off.
    const span: Span & Partial<Pick<LeanSpan, 'injectInto'>> = this.span;
    if (span.injectInto !== undefined) span.injectInto(headers);
    else this.ctx.propagator.inject(trace.setSpan(this.owner.traceContext as Context, span), headers, TRACEPARENT_ONLY);
  }

  settle(result: AttemptResult): AttemptResult {
    const ms = performance.now() - this.started;
    if (!result.ok) {
      if ('clientGone' in result) {
        this.owner.attemptDecided(this, 'client_gone', ms);
        this.span?.setAttribute('tollgate.client_gone', true);
        this.span?.end();
        return result;
      }
      this.owner.attemptDecided(this, result.failure.kind, ms);
      this.fail(result.failure);
      this.span?.end();
      return result;
    }
    this.owner.attemptDecided(this, 'success', ms);
    this.span?.setAttribute('http.response.status_code', 'status' in result ? result.status : 200);
    if (result.kind === 'response') {
      this.facts.observe(result.body);
      this.usage = result.usage;
      this.end(undefined);
      return result;
    }
    this.span?.setAttribute(GENAI.timeToFirstChunk, ms / 1000);
    this.owner.streamStarted(this);
    for (const step of result.first) this.streamStep(step);
    const firstFailure = result.first.find((s) => s.failure !== undefined)?.failure;
    if (firstFailure !== undefined || result.first.some((s) => s.done === true)) {
      this.streamEnd(firstFailure?.kind);
      return result;
    }
    return { ...result, rest: new ObservedStream(result.rest, this) };
  }

  /** A step of the stream this attempt started (its ObservedStream calls it). */
  streamStep(step: StreamStep): void {
    for (const chunk of step.chunks) this.facts.observe(chunk);
    if (step.usage !== undefined) this.usage = step.usage;
  }

  /** The stream this attempt started ended (once). */
  streamEnd(failure: string | undefined): void {
    this.owner.streamEnded(this, failure);
    this.end(failure);
  }

  private fail(failure: UpstreamFailure): void {
    if (this.span === undefined) return;
    this.span.setAttribute('error.type', failure.kind);
    if (failure.status > 0) this.span.setAttribute('http.response.status_code', failure.status);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: spanStatusMessage(failure) });
  }

  private end(failure: string | undefined): void {
    const span = this.span;
    if (span === undefined) return;
    if (span.isRecording()) {
      if (this.facts.model !== undefined) span.setAttribute(GENAI.responseModel, this.facts.model);
      if (this.facts.id !== undefined) span.setAttribute(GENAI.responseId, this.facts.id);
      const reasons = this.facts.finishReasons;
      if (reasons.length > 0) span.setAttribute(GENAI.finishReasons, reasons);
      if (this.usage !== undefined) {
        span.setAttribute(GENAI.inputTokens, this.usage.inputTokens);
        span.setAttribute(GENAI.outputTokens, this.usage.outputTokens);
        if (this.usage.cachedInputTokens > 0) span.setAttribute(GENAI.cacheReadTokens, this.usage.cachedInputTokens);
        const written = this.usage.cacheWriteTokens;
        if (written !== undefined && written > 0) span.setAttribute(GENAI.cacheCreationTokens, written);
      }
      if (failure === CLIENT_GONE) span.setAttribute('tollgate.client_gone', true);
      else if (failure !== undefined) {
        span.setAttribute('error.type', failure);
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'stream failed after the first chunk' });
      }
    }
    span.end();
  }
}

/**
 * The gateway's own words only: an upstream's error text can quote the request (a 422 echoing its
 * input, "Invalid value: '…'"), and content goes nowhere a DataPolicy does not send it. Timeouts and
 * connection failures with no answer are described by the gateway (routing/attempt.ts).
 */
function spanStatusMessage(failure: UpstreamFailure): string {
  if (failure.status === 0 && (failure.kind === 'Timeout' || failure.kind === 'ConnectionError')) return failure.message.slice(0, 256);
  return failure.status === 0 ? `${failure.kind}: the upstream failed` : `${failure.kind}: the upstream answered ${failure.status}`;
}
