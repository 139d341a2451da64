import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeProvider } from '../runtime/runtime-snapshot.js';
import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import type { UsageRecord } from '../metering/usage-record.js';
import type { CanonicalRequest } from '../core/canonical.js';
import type { AttemptResult } from '../core/canonical.js';
import type { PassThroughEndpoint } from '../config/pass-through-endpoints.js';

/**
 * Who called, as governance verified it. Structural, so that telemetry does not depend on the
 * governance module: only kind, namespace and name are recorded (spans and logs, never metrics).
 */
export interface CallerIdentity {
  kind: string;
  namespace?: string;
  name?: string;
  id: string;
}

/** An admission decision (rate limits, budgets), as governance reports it. */
/**
 * A guardrail rule's decision, as the policy layer reports it (structural, so that telemetry does
 * not depend on it): names what was found, never the content.
 */
export interface GuardrailDecisionRecord {
  policy: string;
  rule: string;
  phase: string;
  action: string;
  detector: string;
  findings?: Record<string, number>;
  categories?: string[];
  reason?: string;
  error?: string;
}

/**
 * The DataPolicy that governs a request (structural, as the policy layer reports it): its id, the
 * capture mode that applies to this request, and whether a record is made. Never content.
 */
export interface DataPolicyReport {
  policy: string;
  mode: string;
  /** Sampled, with a destination to receive it (false in mode None). */
  recorded: boolean;
  /** The caller's opt-out header was honoured: metadata only. */
  optedOut?: true;
}

/** The ids of a request's SERVER span, joining capture records to traces. */
export interface TraceIds {
  traceId: string;
  spanId: string;
}

export type AdmissionDecision =
  | { result: 'allowed' }
  | { result: 'rate_limited'; limit: 'requests' | 'tokens' | 'concurrency' }
  | { result: 'budget_exceeded'; budget: string; action: 'reject' | 'downgrade' }
  | { result: 'guardrail_blocked' };

/** Circuit-breaker state of one target; 0 = closed, 1 = open, 2 = half-open (the gauge's value). */
export type CircuitState = 'closed' | 'open' | 'half_open';

/** One upstream attempt. */
export interface AttemptTelemetry {
  /** Adds trace context (W3C traceparent) to the upstream request's headers. */
  inject(headers: Record<string, string>): void;
  /**
   * The attempt's result, returned as is, except that a stream is wrapped so that its end (usage,
   * finish reasons, failures) is observed.
   */
  settle(result: AttemptResult): AttemptResult;
}

/** Telemetry of the upstream attempts of one request. */
export interface AttemptObserver {
  /** One upstream attempt (numbered 1, 2, … per request, over all targets, retries included). */
  attempt(target: TargetConfig, provider: RuntimeProvider, baseUrl: string): AttemptTelemetry;
}

/** One public request, from the HTTP layer; the pipeline reports to it through its events (pipeline/report-to.ts). */
export interface RequestTelemetry extends AttemptObserver {
  routed(route: RouteConfig, canonical: CanonicalRequest, requestId: string): void;
  /** The rule of the route that decides the targets. */
  decided(rule: string): void;
  /** The target that serves, after `attempts` upstream attempts. */
  /** `upstreamRequestId`: the upstream's own id of the request, when it named one (a pass-through answer tells it later, through upstreamAnswered). */
  served(target: TargetConfig, attempts: number, upstreamRequestId?: string): void;
  /** The upstream's own id of a pass-through request, read from its answer. */
  upstreamAnswered(upstreamRequestId: string): void;
  /** The metered usage of the served request (reported or estimated), once. */
  metered(record: UsageRecord): void;
  /** Governance hooks: the verified caller, each admission decision, response-cache lookups. */
  caller(caller: CallerIdentity): void;
  admission(decision: AdmissionDecision): void;
  /** Guardrail decisions (rules that found something, or could not check), in order. */
  guardrails(decisions: readonly GuardrailDecisionRecord[]): void;
  cache(hit: boolean): void;
  /** The DataPolicy that governs the request (span attributes and the access log; never content). */
  dataPolicy(report: DataPolicyReport): void;
  /** The request's trace and span id, when it is traced. */
  traceIds(): TraceIds | undefined;
  /**
   * The gateway answered the request itself before its upstream did (its pod's drain ended): it
   * counts as cancelled, and is recorded once its upstream attempt has been metered, or `released`.
   */
  cutShort(): void;
  /** The request's handling has ended (after `cutShort`): recorded now if it is not yet. */
  released(): void;
  /**
   * Pass-through: the client left, and its answer is read on (or awaited) without it. The request
   * ends (its span, metrics and log line) once it is settled, with what it was charged.
   */
  answerReadOn(): void;
  /** Pass-through: a request whose answer was read on is settled (charged through metered, or with nothing). */
  answerSettled(): void;
}

/** A pass-through request's endpoint, as the server matched it (structural: telemetry does not import the server). */
export interface PassThroughRequest {
  /** The endpoint family (`moderations`, `images`, …): a fixed set, the `operation` of its metrics. */
  endpoint: PassThroughEndpoint;
  /** Its path with ids as `{id}`: the SERVER span's http.route. */
  route: string;
}

/**
 * One Realtime WebSocket connection (`GET /v1/realtime`), from its upgrade to its close: counted as
 * one request of operation `realtime`, its responses' usage as it is metered.
 */
export interface RealtimeTelemetry {
  /** The route the connection asked for, once it matched. */
  routed(route: RouteConfig): void;
  caller(caller: CallerIdentity): void;
  /** The admission decision at the upgrade (connection limits, rate limits, Budgets, a guardrail's refusal), as a request's. */
  admission(decision: AdmissionDecision): void;
  /** The guardrail decisions about the connection (policies that cannot read a session: Block refuses it, Allow lets it through). */
  guardrails(decisions: readonly GuardrailDecisionRecord[]): void;
  /** One upstream connection attempt: `success` or a failure kind, and how long it took to be decided. */
  attempt(target: TargetConfig, outcome: string, ms: number): void;
  /** The client's side was upgraded: `target` serves the connection from here on. */
  upgraded(target: TargetConfig): void;
  /** One response's usage as metered (a `response.done`, or the estimate of one a close cut short). */
  metered(record: UsageRecord): void;
  /**
   * The connection closed (`status` 101), or its upgrade was refused with `status` and the error's
   * `code`. Once; nothing is recorded after it.
   */
  closed(status: number, code?: string): void;
}

/** All instrumentation of the data plane (traces, metrics, access log) behind one interface. */
export interface GatewayObserver {
  /**
   * Starts observing one HTTP request (`path`: its URL path); finished when the response closes.
   * `passThrough`: the endpoint is forwarded untranslated (its request is observed like an inference one).
   */
  request(req: IncomingMessage, res: ServerResponse, path: string, passThrough?: PassThroughRequest): RequestTelemetry;
  /** Starts observing one Realtime upgrade (it has no response object: a WebSocket replaces it). */
  realtime(): RealtimeTelemetry;
  /** Health checking reports target state here (the gauge stays closed until it does). */
  circuitState(providerId: string, model: string, state: CircuitState): void;
}

const NOOP_ATTEMPT: AttemptTelemetry = {
  inject: () => undefined,
  settle: (result) => result,
};

export const NOOP_ATTEMPTS: AttemptObserver = { attempt: () => NOOP_ATTEMPT };

export const NOOP_REQUEST_TELEMETRY: RequestTelemetry = {
  routed: () => undefined,
  decided: () => undefined,
  served: () => undefined,
  upstreamAnswered: () => undefined,
  attempt: () => NOOP_ATTEMPT,
  metered: () => undefined,
  caller: () => undefined,
  admission: () => undefined,
  guardrails: () => undefined,
  cache: () => undefined,
  dataPolicy: () => undefined,
  traceIds: () => undefined,
  cutShort: () => undefined,
  released: () => undefined,
  answerReadOn: () => undefined,
  answerSettled: () => undefined,
};

export const NOOP_REALTIME_TELEMETRY: RealtimeTelemetry = {
  routed: () => undefined,
  caller: () => undefined,
  admission: () => undefined,
  guardrails: () => undefined,
  attempt: () => undefined,
  upgraded: () => undefined,
  metered: () => undefined,
  closed: () => undefined,
};

export const NOOP_OBSERVER: GatewayObserver = {
  request: () => NOOP_REQUEST_TELEMETRY,
  realtime: () => NOOP_REALTIME_TELEMETRY,
  circuitState: () => undefined,
};
