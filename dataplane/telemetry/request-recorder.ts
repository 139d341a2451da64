import { type Attributes, type Context, defaultTextMapGetter, isSpanContextValid, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeProvider } from '../runtime/runtime-snapshot.js';
import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import { MAX_GUARDRAIL_DECISIONS, outcomeClass, type RequestEnd, type RequestUsage } from '../config/request-usage.js';
import type { UsageRecord } from '../metering/usage-record.js';
import type { CanonicalRequest, JsonObject } from '../core/canonical.js';
import { boundedNames } from '../core/bounded-names.js';
import { type AttemptOwner, AttemptRecorder, CLIENT_GONE } from './attempt-recorder.js';
import { type GatewayMetrics, NONE, statusClass } from './gateway-metrics.js';
import type { TargetSeries } from './target-series.js';
import type { AdmissionDecision, AttemptTelemetry, CallerIdentity, DataPolicyReport, GuardrailDecisionRecord, RequestTelemetry, TraceIds } from './gateway-observer.js';
import { GENAI } from './genai-attributes.js';
import type { TelemetryContext } from './telemetry-context.js';
import { answerIdOf } from './answer-id.js';

// The finding type the guardrail layer reports for text past a cap or its scan budget (policy/guardrail/compiled-rule.ts).
const UNSCANNED_FINDING = 'Unscanned';
const GUARDRAIL_ACTIONS = new Set(['Block', 'Mask', 'Monitor', 'Allow']);
function isGuardrailAction(action: string): action is 'Block' | 'Mask' | 'Monitor' | 'Allow' {
  return GUARDRAIL_ACTIONS.has(action);
}

/** Logged (and counted) for a request whose client left before any response was sent. */
const CLIENT_CLOSED_REQUEST = 499;

function admissionOf(decision: AdmissionDecision | undefined): RequestEnd['admission'] {
  if (decision === undefined) return undefined;
  if (decision.result === 'budget_exceeded') return decision.action === 'reject' ? 'budget_rejected' : 'budget_downgraded';
  return decision.result;
}

/** The namespace part of a route id (`<namespace>/<name>`), without splitting it into an array. */
function namespaceOf(routeId: string): string {
  const slash = routeId.indexOf('/');
  return slash < 0 ? routeId : routeId.slice(0, slash);
}

function numberParam(body: JsonObject, name: string): number | undefined {
  const v = body[name];
  return typeof v === 'number' ? v : undefined;
}

/** Characters of a path the access log and url.path keep: a path may be as long as the header limit allows. */
const MAX_LOGGED_PATH = 256;

function loggedPath(path: string): string {
  return path.length <= MAX_LOGGED_PATH ? path : `${path.slice(0, MAX_LOGGED_PATH)}…`;
}

/** A request id as the gateway would take it (at most 128 characters), else none. */
function loggableRequestId(given: unknown): string | undefined {
  return typeof given === 'string' && given.length > 0 && given.length <= 128 ? given : undefined;
}

/** The labels of the target a usage record names, on its route's metrics (target-labels.ts). */
function targetLabelsOf(metrics: GatewayMetrics, record: UsageRecord): { route: string; provider: string; upstream_model: string } {
  const shown = metrics.targetLabels.of(record.routeId, { providerId: record.providerId, model: record.upstreamModel });
  return { route: record.routeId, provider: shown.provider, upstream_model: shown.upstream_model };
}

/**
 * A usage record's tokens and cost added to its target's series (the cached ones of `series` when
 * the record names that target); returns the target's labels, for the metrics keyed by target.
 */
export function meterUsage(metrics: GatewayMetrics, series: TargetSeries | undefined, record: UsageRecord): { route: string; provider: string; upstream_model: string } {
  if (series !== undefined && series.routeId === record.routeId && series.model === record.model && series.target.providerId === record.providerId && series.target.model === record.upstreamModel) {
    const usage = series.usage();
    usage.input.inc(record.inputTokens);
    usage.output.inc(record.outputTokens);
    usage.cachedInput.inc(record.cachedInputTokens);
    usage.cost.inc(record.costUsd);
    return series.labels;
  }
  const target = targetLabelsOf(metrics, record);
  const labels = { route: record.routeId, model: record.model, provider: target.provider, upstream_model: target.upstream_model };
  metrics.tokens.inc({ ...labels, type: 'input' }, record.inputTokens);
  metrics.tokens.inc({ ...labels, type: 'output' }, record.outputTokens);
  metrics.tokens.inc({ ...labels, type: 'cached_input' }, record.cachedInputTokens);
  metrics.cost.inc(labels, record.costUsd);
  return target;
}

/** How a counted request is named: its metrics' `operation` label, its spans' gen_ai.operation.name. */
export interface RequestKind {
  metric: string;
  genAi: string;
  /** A pass-through endpoint (forwarded untranslated). */
  passThrough: boolean;
}

/**
 * One public request: its SERVER span, its metrics and its access-log line, finished when the
 * response has closed and (for served requests) its usage has been metered.
 */
export class RequestRecorder implements RequestTelemetry, AttemptOwner {
  private readonly started = performance.now();
  private readonly span: Span | undefined;
  /** The caller's trace context (extracted from the headers), the SERVER span's parent. */
  private readonly parentContext: Context = ROOT_CONTEXT;
  private context: Context | undefined;
  private route: RouteConfig | undefined;
  private requestId: string | undefined;
  stream = false;
  private attempts = 0;
  private retries = 0;
  private failovers = 0;
  private upstreamMs = 0;
  /** The series of the target last attempted (its labels name a failover's origin). */
  private lastTarget: TargetSeries | undefined;
  private lastFailure: string | undefined;
  private serving: AttemptRecorder | undefined;
  private firstChunkAt: number | undefined;
  private streamEndAt: number | undefined;
  private streamFailure: string | undefined;
  private usage: UsageRecord | undefined;
  private who: CallerIdentity | undefined;
  private decision: AdmissionDecision | undefined;
  private cacheHit: boolean | undefined;
  /** The rule of the route that served. */
  private rule: string | undefined;
  /** Upstream attempts of the answer that served (the router's count, as in x-tollgate-attempts). */
  private servedAttempts: number | undefined;
  /** The upstream's own id of the request that served (x-upstream-request-id). */
  private upstreamRequestId: string | undefined;
  private readonly guardrailDecisions: GuardrailDecisionRecord[] = [];
  private capture: DataPolicyReport | undefined;
  private awaitingMeter = false;
  private closed = false;
  /** The connection closed before the response was complete (read at 'close': a later res.end() would hide it). */
  private clientLeft = false;
  /** Answered by the gateway before its upstream (a drain ended): cancelled, whatever the status said. */
  private cut = false;
  private finished = false;

  /** The `operation` label of the request's metrics; undefined for requests that are not counted (probes, model lists). */
  private readonly operation: string | undefined;
  /** gen_ai.operation.name of its spans. */
  private readonly genAiOperation: string | undefined;
  /** Forwarded untranslated: its answer may be metered or not (no estimate), and is metered as the response closes. */
  private readonly passThrough: boolean;

  constructor(
    private readonly ctx: TelemetryContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly path: string,
    /**
     * The endpoint the path names, in the one form the server matches it by (endpointPath), or a
     * pass-through path with its ids as `{id}`: the span's http.route, so that neither the caller's
     * spelling of the path (case, a trailing slash) nor an id is a new value of it (spans-to-metrics
     * keep one series per value).
     */
    endpoint: string,
    /** How an inference or pass-through request is named; undefined for the others (probes, model lists). */
    kind: RequestKind | undefined,
  ) {
    this.operation = kind?.metric;
    this.genAiOperation = kind?.genAi;
    this.passThrough = kind?.passThrough === true;
    if (kind === undefined) return;
    ctx.metrics.inflight.inc();
    if (ctx.tracer === undefined) return;
    const parent = ctx.propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    this.parentContext = parent;
    const attributes: Attributes = { [GENAI.operation]: kind.genAi, 'http.request.method': req.method ?? 'POST', 'http.route': endpoint, 'url.path': loggedPath(path) };
    if (kind.passThrough) attributes['tollgate.pass_through'] = kind.metric;
    this.span = ctx.tracer.startSpan(kind.genAi, { kind: SpanKind.SERVER, attributes }, parent);
  }

  /** The SERVER span, parent of the attempts' CLIENT spans; undefined when tracing is off. */
  get serverSpan(): Span | undefined {
    return this.span;
  }

  /** Trace context of the SERVER span (made when first asked: a lean tracer's attempts do without). */
  get traceContext(): Context | undefined {
    if (this.span === undefined) return undefined;
    this.context ??= trace.setSpan(this.parentContext, this.span);
    return this.context;
  }

  get operationName(): string {
    return this.genAiOperation ?? 'chat';
  }

  /**
   * The id the answer named, for a request refused before it was routed (the public server names
   * every response), else the client's own x-request-id.
   */
  private answeredRequestId(): string | undefined {
    return loggableRequestId(answerIdOf(this.res)) ?? loggableRequestId(this.req.headers['x-request-id']);
  }

  get routeId(): string {
    return this.route?.id ?? NONE;
  }

  routed(route: RouteConfig, canonical: CanonicalRequest, requestId: string): void {
    this.route = route;
    this.requestId = requestId;
    this.stream = canonical.stream;
    const span = this.span;
    if (span === undefined || !span.isRecording()) return;
    span.updateName(`${this.operationName} ${route.model}`);
    // One call per attribute, in the order an object of them would list them: no object to build and walk.
    span.setAttribute(GENAI.requestModel, route.model);
    span.setAttribute('tollgate.route', route.id);
    span.setAttribute('tollgate.request_id', requestId);
    if (canonical.stream) span.setAttribute(GENAI.requestStream, true);
    const maxTokens = numberParam(canonical.body, 'max_completion_tokens') ?? numberParam(canonical.body, 'max_tokens');
    if (maxTokens !== undefined) span.setAttribute(GENAI.requestMaxTokens, maxTokens);
    const temperature = numberParam(canonical.body, 'temperature');
    if (temperature !== undefined) span.setAttribute(GENAI.requestTemperature, temperature);
    const topP = numberParam(canonical.body, 'top_p');
    if (topP !== undefined) span.setAttribute(GENAI.requestTopP, topP);
  }

  decided(rule: string): void {
    this.rule = rule;
  }

  served(_target: TargetConfig, attempts: number, upstreamRequestId?: string): void {
    this.servedAttempts = attempts;
    this.upstreamRequestId = upstreamRequestId;
  }

  upstreamAnswered(upstreamRequestId: string): void {
    this.upstreamRequestId = upstreamRequestId;
  }

  attempt(target: TargetConfig, provider: RuntimeProvider, baseUrl: string): AttemptTelemetry {
    const { metrics } = this.ctx;
    const last = this.lastTarget;
    const series = this.ctx.series.of(this.routeId, this.route?.model ?? NONE, target);
    if (last !== undefined) {
      if (last.target.providerId === target.providerId && last.target.model === target.model) {
        this.retries++;
        metrics.retries.inc(series.labels);
      } else {
        this.failovers++;
        metrics.failovers.inc(last.labels);
      }
    }
    this.lastTarget = series;
    this.attempts++;
    return new AttemptRecorder(this.ctx, this, target, provider, baseUrl, this.attempts, series);
  }

  attemptDecided(attempt: AttemptRecorder, outcome: string, ms: number): void {
    const series = attempt.series.attempt(outcome);
    series.count.inc();
    series.duration.observe(ms / 1000);
    this.upstreamMs += ms;
    if (outcome === 'success') {
      this.serving = attempt;
      // A pass-through answer may be metered or not: it is never waited for (see close).
      this.awaitingMeter = !this.passThrough;
    } else if (outcome !== 'client_gone') this.lastFailure = outcome;
  }

  streamStarted(attempt: AttemptRecorder): void {
    this.firstChunkAt = performance.now();
    this.ctx.metrics.ttft.observe(attempt.labels, (this.firstChunkAt - this.started) / 1000);
  }

  streamEnded(attempt: AttemptRecorder, failure: string | undefined): void {
    this.streamEndAt = performance.now();
    if (failure === undefined || failure === CLIENT_GONE) return;
    this.streamFailure = failure;
    this.ctx.metrics.streamErrors.inc({ ...attempt.labels, kind: failure });
  }

  metered(record: UsageRecord): void {
    if (this.usage !== undefined) return;
    this.usage = record;
    const { metrics } = this.ctx;
    const target = meterUsage(metrics, this.serving?.series, record);
    if (record.estimated) metrics.estimated.inc({ ...target, reason: record.estimateReason ?? 'missing' });
    if (record.stream && this.firstChunkAt !== undefined && this.streamEndAt !== undefined && record.outputTokens > 1) {
      metrics.tpot.observe(target, (this.streamEndAt - this.firstChunkAt) / 1000 / (record.outputTokens - 1));
    }
    this.awaitingMeter = false;
    if (this.closed) this.finish();
  }

  caller(caller: CallerIdentity): void {
    this.who = caller;
    const span = this.span;
    if (span === undefined) return;
    span.setAttribute('tollgate.caller.kind', caller.kind);
    if (caller.namespace !== undefined) span.setAttribute('tollgate.caller.namespace', caller.namespace);
    if (caller.name !== undefined) span.setAttribute('tollgate.caller.name', caller.name);
  }

  admission(decision: AdmissionDecision): void {
    this.decision = decision;
    this.span?.setAttribute('tollgate.admission', decision.result);
    if (decision.result === 'rate_limited') {
      this.ctx.metrics.rateLimitRejections.inc({ route: this.routeId, limit: decision.limit });
      this.span?.setAttribute('tollgate.rate_limit.limit', decision.limit);
    } else if (decision.result === 'budget_exceeded') {
      this.ctx.metrics.budgetRejections.inc({ route: this.routeId, budget: decision.budget, action: decision.action });
      this.span?.setAttributes({ 'tollgate.budget.id': decision.budget, 'tollgate.budget.action': decision.action });
    }
  }

  guardrails(decisions: readonly GuardrailDecisionRecord[]): void {
    for (const d of decisions) {
      this.guardrailDecisions.push(d);
      this.ctx.metrics.guardrailDecisions.inc({ policy: d.policy, rule: d.rule, phase: d.phase, action: d.action });
      // Apart from real findings: a cap or budget too small for the traffic shows here, not as hits.
      if ((d.findings?.[UNSCANNED_FINDING] ?? 0) > 0) this.ctx.metrics.guardrailUnscanned.inc({ policy: d.policy, rule: d.rule, phase: d.phase });
      const attributes: Attributes = {
        'tollgate.guardrail.policy': d.policy,
        'tollgate.guardrail.rule': d.rule,
        'tollgate.guardrail.phase': d.phase,
        'tollgate.guardrail.action': d.action,
        'tollgate.guardrail.detector': d.detector,
      };
      if (d.findings !== undefined) attributes['tollgate.guardrail.findings'] = boundedNames(Object.entries(d.findings).map(([k, v]) => `${k}=${v}`));
      if (d.categories !== undefined) attributes['tollgate.guardrail.categories'] = boundedNames(d.categories);
      if (d.error !== undefined) attributes['tollgate.guardrail.error'] = d.error;
      this.span?.addEvent('tollgate.guardrail.decision', attributes);
    }
  }

  cache(hit: boolean): void {
    this.cacheHit = hit;
    this.ctx.metrics.cacheLookups.inc({ route: this.routeId, result: hit ? 'hit' : 'miss' });
  }

  dataPolicy(report: DataPolicyReport): void {
    this.capture = report;
    this.span?.setAttributes({ 'tollgate.data_policy': report.policy, 'tollgate.capture.mode': report.mode, 'tollgate.capture.recorded': report.recorded });
  }

  traceIds(): TraceIds | undefined {
    const context = this.span?.spanContext();
    return context === undefined || !isSpanContextValid(context) ? undefined : { traceId: context.traceId, spanId: context.spanId };
  }

  cutShort(): void {
    this.cut = true;
    // Its attempt may still be metered (answered in the drain's last second, or cut and charged its
    // worst case): the history record waits for that cost rather than say $0.
    if (this.attempts > 0 && this.usage === undefined && !this.passThrough) this.awaitingMeter = true;
  }

  released(): void {
    this.awaitingMeter = false;
    if (this.closed) this.finish();
  }

  /** The response closed (finished, or the client went away). */
  close(): void {
    this.closed = true;
    this.clientLeft = !this.res.writableFinished;
    // A pass-through request is metered when its answer ends, or by its handler's own 'close'
    // listener (a client that left): one turn later, every listener of this 'close' has run, and
    // one that reads the answer on without the client has said so (answerReadOn).
    if (this.passThrough) queueMicrotask(() => this.finishUnlessAwaited());
    else if (!this.awaitingMeter) this.finish();
  }

  private finishUnlessAwaited(): void {
    if (!this.awaitingMeter) this.finish();
  }

  /**
   * The client left and the pass-through answer is read on without it: the request ends when it is
   * charged (metered) or settled with nothing (answerSettled). Before, its span ended as the client
   * left, without the usage and cost it was then charged, and so did its log line and usage history.
   */
  answerReadOn(): void {
    if (this.finished) return;
    this.awaitingMeter = true;
    this.span?.addEvent('tollgate.client_gone', { 'tollgate.answer.read_on': true });
  }

  answerSettled(): void {
    if (!this.awaitingMeter) return;
    this.awaitingMeter = false;
    if (this.closed) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    // Nothing was sent to a client that left: 499 (nginx's "client closed request"), not express's default 200.
    const status = this.clientLeft && !this.res.headersSent ? CLIENT_CLOSED_REQUEST : this.res.statusCode;
    const durationMs = performance.now() - this.started;
    const served = this.serving;
    const provider = served?.target.providerId ?? NONE;
    const upstreamModel = served?.target.model ?? NONE;
    const model = this.route?.model ?? NONE;
    const cls = statusClass(status);
    if (this.operation !== undefined) {
      const { metrics } = this.ctx;
      metrics.inflight.dec();
      const series = served?.series;
      if (series !== undefined && series.routeId === this.routeId && series.model === model) {
        const request = series.request(this.operation, cls);
        request.count.inc();
        request.duration.observe(durationMs / 1000);
      } else {
        const shown = served === undefined ? { provider, upstream_model: upstreamModel } : metrics.targetLabels.of(this.routeId, served.target);
        metrics.requests.inc({ operation: this.operation, route: this.routeId, model, provider: shown.provider, upstream_model: shown.upstream_model, status_class: cls });
        metrics.requestDuration.observe({ route: this.routeId, model, provider: shown.provider, status_class: cls }, durationMs / 1000);
      }
    }
    const errorType = this.streamFailure ?? (status >= 500 ? (this.lastFailure ?? String(status)) : undefined);
    this.endSpan(status, errorType);
    this.log(status, durationMs, errorType);
    if (this.operation !== undefined) this.report(status, durationMs);
  }

  /** The request as usage history counts it; not counted when no namespace is known (no route, no verified caller). */
  private report(status: number, durationMs: number): void {
    const onRequest = this.ctx.onRequest;
    const namespace = this.route === undefined ? this.who?.namespace : namespaceOf(this.route.id);
    if (onRequest === undefined || namespace === undefined || namespace.length === 0) return;
    const usage = this.usage;
    const end: RequestEnd = {
      status,
      clientLeft: this.clientLeft || this.cut,
      admission: admissionOf(this.decision),
      attempts: this.attempts,
      lastFailure: this.streamFailure ?? this.lastFailure,
    };
    const record: RequestUsage = {
      namespace,
      outcome: outcomeClass(end),
      failovers: this.failovers,
      cacheHit: this.cacheHit === true,
      inputTokens: usage?.inputTokens ?? 0,
      outputTokens: usage?.outputTokens ?? 0,
      cachedInputTokens: usage?.cachedInputTokens ?? 0,
      latencyMs: Math.round(durationMs),
    };
    if (this.route !== undefined) {
      record.route = this.route.id;
      record.model = this.route.model;
    }
    const provider = this.serving?.target.providerId;
    if (provider !== undefined) record.provider = provider;
    if (this.who !== undefined) record.caller = this.who.id;
    if (this.firstChunkAt !== undefined) record.ttftMs = Math.round(this.firstChunkAt - this.started);
    if (this.guardrailDecisions.length > 0) {
      const guardrails = this.guardrailDecisions.slice(0, MAX_GUARDRAIL_DECISIONS).flatMap((d) => (isGuardrailAction(d.action) ? [{ policy: d.policy, rule: d.rule, action: d.action }] : []));
      if (guardrails.length > 0) record.guardrails = guardrails;
    }
    onRequest(record, usage?.costUsd ?? 0);
  }

  private endSpan(status: number, errorType: string | undefined): void {
    const span = this.span;
    if (span === undefined) return;
    if (span.isRecording()) {
      const served = this.serving;
      span.setAttribute('http.response.status_code', status);
      span.setAttribute('tollgate.attempts', this.attempts);
      span.setAttribute('tollgate.cache_hit', this.cacheHit ?? false);
      const rule = this.rule;
      if (rule !== undefined) span.setAttribute('tollgate.rule', rule);
      if (this.clientLeft) span.setAttribute('tollgate.client_gone', true);
      if (served !== undefined) {
        span.setAttribute('tollgate.provider', served.target.providerId);
        span.setAttribute(GENAI.provider, served.provider.telemetryName);
        if (served.facts.model !== undefined) span.setAttribute(GENAI.responseModel, served.facts.model);
        const reasons = served.facts.finishReasons;
        if (reasons.length > 0) span.setAttribute(GENAI.finishReasons, reasons);
      }
      const usage = this.usage;
      if (usage !== undefined) {
        span.setAttribute('tollgate.cost_usd', usage.costUsd);
        span.setAttribute('tollgate.usage.estimated', usage.estimated);
        if (!usage.estimated) {
          span.setAttribute(GENAI.inputTokens, usage.inputTokens);
          span.setAttribute(GENAI.outputTokens, usage.outputTokens);
          if (usage.cachedInputTokens > 0) span.setAttribute(GENAI.cacheReadTokens, usage.cachedInputTokens);
          // Not in the usage record (metering prices it as input): as the serving attempt's provider reported it.
          const written = served?.usage?.cacheWriteTokens;
          if (written !== undefined && written > 0) span.setAttribute(GENAI.cacheCreationTokens, written);
        }
      }
      if (errorType !== undefined) {
        span.setAttribute('error.type', errorType);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    span.end();
  }

  /** One JSON line per request (docs/observability.md, the field order is the line's); never prompt or completion content. */
  private log(status: number, durationMs: number, errorType: string | undefined): void {
    const served = this.serving;
    const usage = this.usage;
    const log = this.ctx.accessLog;
    const line = log.fields();
    line.json('requestId', this.requestId ?? this.answeredRequestId());
    line.str('method', this.req.method);
    line.str('path', loggedPath(this.path));
    line.num('status', status);
    line.num('durationMs', Math.round(durationMs * 1000) / 1000);
    line.bool('completed', !this.clientLeft);
    line.str('caller', this.who?.id);
    // Pass-through requests (no operation) have one too.
    line.str('upstreamRequestId', this.upstreamRequestId);
    if (this.operation !== undefined) {
      line.str('operation', this.operation);
      line.str('route', this.route?.id);
      line.str('rule', this.rule);
      line.str('model', this.route?.model);
      line.bool('stream', this.stream);
      line.str('provider', served?.target.providerId);
      line.str('upstreamModel', served?.target.model);
      line.num('attempts', this.servedAttempts ?? this.attempts);
      if (this.retries > 0) line.num('retries', this.retries);
      if (this.failovers > 0) line.num('failovers', this.failovers);
      line.num('upstreamMs', Math.round(this.upstreamMs * 1000) / 1000);
      if (this.firstChunkAt !== undefined) line.num('ttftMs', Math.round((this.firstChunkAt - this.started) * 1000) / 1000);
      if (usage !== undefined) {
        line.num('inputTokens', usage.inputTokens);
        line.num('outputTokens', usage.outputTokens);
        line.num('cachedInputTokens', usage.cachedInputTokens);
        line.num('costUsd', usage.costUsd);
        line.bool('usageEstimated', usage.estimated);
        line.str('usageEstimateReason', usage.estimateReason);
      }
      line.str('errorType', errorType);
      line.json('admission', this.decision);
      line.bool('cacheHit', this.cacheHit);
      if (this.guardrailDecisions.length > 0) line.outsideJson('guardrails', this.guardrailDecisions);
      line.json('dataPolicy', this.capture);
      line.str('traceId', this.span?.spanContext().traceId);
    }
    log.write(line);
  }
}
