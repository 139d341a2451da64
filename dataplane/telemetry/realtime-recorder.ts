import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import { MAX_GUARDRAIL_DECISIONS, outcomeClass, type RequestEnd, type RequestUsage } from '../config/request-usage.js';
import type { UsageRecord } from '../metering/usage-record.js';
import { NONE, statusClass } from './gateway-metrics.js';
import type { AdmissionDecision, CallerIdentity, GuardrailDecisionRecord, RealtimeTelemetry } from './gateway-observer.js';
import type { TargetSeries } from './target-series.js';
import { meterUsage } from './request-recorder.js';
import type { TelemetryContext } from './telemetry-context.js';

/** The `operation` label of a Realtime connection's metrics. */
export const REALTIME_OPERATION = 'realtime';

/**
 * The admission outcome of a connection (usage history's outcome class): the decision reported, else
 * what a refused upgrade's error code stands for.
 */
function admissionOf(decision: AdmissionDecision | undefined, code: string | undefined): RequestEnd['admission'] {
  if (decision !== undefined) return decision.result === 'budget_exceeded' ? 'budget_rejected' : decision.result;
  if (code === 'rate_limit_exceeded' || code === 'too_many_connections') return 'rate_limited';
  if (code === 'budget_exceeded') return 'budget_rejected';
  if (code === 'guardrail_uninspected') return 'guardrail_blocked';
  return undefined;
}

const GUARDRAIL_ACTIONS = new Set(['Block', 'Mask', 'Monitor', 'Allow']);

function isGuardrailAction(action: string): action is 'Block' | 'Mask' | 'Monitor' | 'Allow' {
  return GUARDRAIL_ACTIONS.has(action);
}

function namespaceOf(routeId: string): string {
  const slash = routeId.indexOf('/');
  return slash < 0 ? routeId : routeId.slice(0, slash);
}

/**
 * One Realtime connection's metrics and usage-history record. A connection is one request of
 * operation `realtime` (status 101 once upgraded), counted when it closes; its tokens and cost are
 * added to tollgate_tokens_total and tollgate_cost_usd_total as each response is metered, so that a
 * session of an hour is visible while it runs; usage history gets one record at the close, with
 * the connection's summed tokens and cost. Budgets are settled apart (by the proxy, at the close).
 */
export class RealtimeRecorder implements RealtimeTelemetry {
  private readonly started = performance.now();
  private route: RouteConfig | undefined;
  private who: CallerIdentity | undefined;
  private serving: TargetSeries | undefined;
  private attempts = 0;
  private failovers = 0;
  private lastFailure: string | undefined;
  private lastTarget: TargetSeries | undefined;
  private inputTokens = 0;
  private outputTokens = 0;
  private cachedInputTokens = 0;
  private costUsd = 0;
  private done = false;
  private decision: AdmissionDecision | undefined;
  private readonly guardrailDecisions: GuardrailDecisionRecord[] = [];

  constructor(private readonly ctx: TelemetryContext) {}

  private get routeId(): string {
    return this.route?.id ?? NONE;
  }

  routed(route: RouteConfig): void {
    this.route = route;
  }

  caller(caller: CallerIdentity): void {
    this.who = caller;
  }

  /** Counted as a request's: a refusal in tollgate_rate_limit_rejections_total or tollgate_budget_rejections_total. */
  admission(decision: AdmissionDecision): void {
    if (this.done) return;
    this.decision = decision;
    const { metrics } = this.ctx;
    if (decision.result === 'rate_limited') metrics.rateLimitRejections.inc({ route: this.routeId, limit: decision.limit });
    else if (decision.result === 'budget_exceeded') metrics.budgetRejections.inc({ route: this.routeId, budget: decision.budget, action: decision.action });
  }

  /** Counted in tollgate_guardrail_decisions_total as a pass-through request's, and kept for the usage-history record. */
  guardrails(decisions: readonly GuardrailDecisionRecord[]): void {
    if (this.done) return;
    for (const d of decisions) {
      this.guardrailDecisions.push(d);
      this.ctx.metrics.guardrailDecisions.inc({ policy: d.policy, rule: d.rule, phase: d.phase, action: d.action });
    }
  }

  attempt(target: TargetConfig, outcome: string, ms: number): void {
    const last = this.lastTarget;
    const series = this.seriesOf(target);
    if (last !== undefined && (last.target.providerId !== target.providerId || last.target.model !== target.model)) {
      this.failovers++;
      this.ctx.metrics.failovers.inc(last.labels);
    }
    this.lastTarget = series;
    this.attempts++;
    const attempt = series.attempt(outcome);
    attempt.count.inc();
    attempt.duration.observe(ms / 1000);
    if (outcome !== 'success') this.lastFailure = outcome;
  }

  upgraded(target: TargetConfig): void {
    if (this.done) return;
    this.serving = this.seriesOf(target);
    this.ctx.metrics.realtimeConnections.inc({ route: this.routeId });
  }

  metered(record: UsageRecord): void {
    if (this.done) return;
    const { metrics } = this.ctx;
    const target = meterUsage(metrics, this.serving, record);
    if (record.estimated) metrics.estimated.inc({ ...target, reason: record.estimateReason ?? 'missing' });
    this.inputTokens += record.inputTokens;
    this.outputTokens += record.outputTokens;
    this.cachedInputTokens += record.cachedInputTokens;
    this.costUsd += record.costUsd;
  }

  closed(status: number, code?: string): void {
    if (this.done) return;
    this.done = true;
    const durationMs = performance.now() - this.started;
    const { metrics } = this.ctx;
    const cls = statusClass(status);
    const model = this.route?.model ?? NONE;
    const served = this.serving;
    if (served !== undefined) {
      metrics.realtimeConnections.dec({ route: this.routeId });
      const request = served.request(REALTIME_OPERATION, cls);
      request.count.inc();
      request.duration.observe(durationMs / 1000);
    } else {
      metrics.requests.inc({ operation: REALTIME_OPERATION, route: this.routeId, model, provider: NONE, upstream_model: NONE, status_class: cls });
      metrics.requestDuration.observe({ route: this.routeId, model, provider: NONE, status_class: cls }, durationMs / 1000);
    }
    this.report(status, code, durationMs);
  }

  /** The connection as usage history counts it: one request, its responses' tokens and cost summed. */
  private report(status: number, code: string | undefined, durationMs: number): void {
    const onRequest = this.ctx.onRequest;
    const namespace = this.route === undefined ? this.who?.namespace : namespaceOf(this.route.id);
    if (onRequest === undefined || namespace === undefined || namespace.length === 0) return;
    const record: RequestUsage = {
      namespace,
      outcome: outcomeClass({ status, clientLeft: false, admission: admissionOf(this.decision, code), attempts: this.attempts, lastFailure: this.lastFailure }),
      failovers: this.failovers,
      cacheHit: false,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      cachedInputTokens: this.cachedInputTokens,
      latencyMs: Math.round(durationMs),
    };
    if (this.route !== undefined) {
      record.route = this.route.id;
      record.model = this.route.model;
    }
    if (this.serving !== undefined) record.provider = this.serving.target.providerId;
    if (this.who !== undefined) record.caller = this.who.id;
    const guardrails = this.guardrailDecisions.slice(0, MAX_GUARDRAIL_DECISIONS).flatMap((d) => (isGuardrailAction(d.action) ? [{ policy: d.policy, rule: d.rule, action: d.action }] : []));
    if (guardrails.length > 0) record.guardrails = guardrails;
    onRequest(record, Math.round(this.costUsd * 1e8) / 1e8);
  }

  private seriesOf(target: TargetConfig): TargetSeries {
    return this.ctx.series.of(this.routeId, this.route?.model ?? NONE, target);
  }
}
