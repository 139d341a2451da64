import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import type { Caller } from '../core/caller.js';
import type { UsageRecord } from '../metering/usage-record.js';
import type { CanonicalRequest } from '../core/canonical.js';
import type { AdmissionDecision, DataPolicyReport, GuardrailDecisionRecord } from '../telemetry/gateway-observer.js';

/** What the stages report about one request, in the order it happens. Telemetry and the access log listen. */
export interface RequestEventMap {
  /** The verified caller (anonymous when identity is off). */
  caller: Caller;
  /** A route admits the request (again after a budget downgrade). */
  routed: { route: RouteConfig; request: CanonicalRequest; requestId: string };
  /** The rule of the route that decides the targets. */
  decided: { rule: string };
  /** A rate limit or budget refused (or downgraded) the request. */
  admission: AdmissionDecision;
  /** A response-cache lookup. */
  cache: { hit: boolean };
  /** An upstream answered: the target that serves and how many attempts it took. */
  served: { target: TargetConfig; attempts: number; upstreamRequestId?: string | undefined };
  /** The usage charged for the request, once. */
  metered: UsageRecord;
  /** Guardrail decisions (rules that found something or could not check), in order. */
  guardrails: readonly GuardrailDecisionRecord[];
  /** The DataPolicy that governs the request and its capture mode (never content). */
  dataPolicy: DataPolicyReport;
}

type Listener<K extends keyof RequestEventMap> = (event: RequestEventMap[K]) => void;

/** A subscriber: one handler per event it wants. A class with these as methods subscribes without allocating a closure per event. */
export type RequestEventSink = { [K in keyof RequestEventMap]?: Listener<K> };

/** A request's event stream: synchronous, typed, no subscriber = no cost beyond a property read. */
export class RequestEvents {
  private sinks: RequestEventSink[] | undefined;

  subscribe(sink: RequestEventSink): void {
    if (this.sinks === undefined) this.sinks = [sink];
    else this.sinks.push(sink);
  }

  on<K extends keyof RequestEventMap>(name: K, listener: Listener<K>): void {
    const sink: RequestEventSink = {};
    (sink as Record<K, Listener<K>>)[name] = listener;
    this.subscribe(sink);
  }

  emit<K extends keyof RequestEventMap>(name: K, event: RequestEventMap[K]): void {
    const sinks = this.sinks;
    if (sinks === undefined) return;
    for (const sink of sinks) (sink[name] as Listener<K> | undefined)?.call(sink, event);
  }
}
