import type { RequestHandler, Response } from 'express';
import type { RuntimeProvider } from '../runtime/runtime-snapshot.js';
import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import type { UsageRecord } from '../metering/usage-record.js';
import type { CanonicalRequest } from '../core/canonical.js';
import type { AttemptResult } from '../core/canonical.js';

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

/**
 * One public request. Found with `requestTelemetry(res)` before routing and with
 * `requestTelemetry(canonical)` once `routed` linked the canonical request to it.
 */
export interface RequestTelemetry {
  routed(route: RouteConfig, canonical: CanonicalRequest, requestId: string): void;
  /** One upstream attempt (numbered 1, 2, … per request, over all targets, retries included). */
  attempt(target: TargetConfig, provider: RuntimeProvider, baseUrl: string): AttemptTelemetry;
  /** The metered usage of the served request (reported or estimated), once. */
  metered(record: UsageRecord): void;
  /** Governance hooks: the verified caller, each admission decision, response-cache lookups. */
  caller(caller: CallerIdentity): void;
  admission(decision: AdmissionDecision): void;
  cache(hit: boolean): void;
}

/** All instrumentation of the data plane (traces, metrics, access log) behind one interface. */
export interface GatewayObserver {
  /** Express middleware: creates one RequestTelemetry per request and finishes it when the response closes. */
  readonly middleware: RequestHandler;
  /** Health checking reports target state here (the gauge stays closed until it does). */
  circuitState(providerId: string, model: string, state: CircuitState): void;
}

const NOOP_ATTEMPT: AttemptTelemetry = {
  inject: () => undefined,
  settle: (result) => result,
};

export const NOOP_REQUEST_TELEMETRY: RequestTelemetry = {
  routed: () => undefined,
  attempt: () => NOOP_ATTEMPT,
  metered: () => undefined,
  caller: () => undefined,
  admission: () => undefined,
  cache: () => undefined,
};

export const NOOP_OBSERVER: GatewayObserver = {
  middleware: (_req, _res, next) => next(),
  circuitState: () => undefined,
};

// Keys are the express Response (set by the middleware) and the CanonicalRequest (set by `routed`),
// so that the hot path passes nothing new through its signatures.
const byKey = new WeakMap<Response | CanonicalRequest, RequestTelemetry>();

export function bindRequestTelemetry(key: Response | CanonicalRequest, telemetry: RequestTelemetry): void {
  byKey.set(key, telemetry);
}

/** The request's telemetry, or a no-op when the request is not observed. */
export function requestTelemetry(key: Response | CanonicalRequest): RequestTelemetry {
  return byKey.get(key) ?? NOOP_REQUEST_TELEMETRY;
}
