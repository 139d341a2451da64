import type { RequestTelemetry } from '../telemetry/gateway-observer.js';
import type { RequestEventMap, RequestEvents, RequestEventSink } from './request-events.js';

/** Forwards a request's events to its telemetry: one object per request, its handlers shared on the prototype. */
class TelemetrySink implements RequestEventSink {
  constructor(private readonly telemetry: RequestTelemetry) {}
  caller(caller: RequestEventMap['caller']): void {
    this.telemetry.caller(caller);
  }
  routed(e: RequestEventMap['routed']): void {
    this.telemetry.routed(e.route, e.request, e.requestId);
  }
  decided(e: RequestEventMap['decided']): void {
    this.telemetry.decided(e.rule);
  }
  admission(decision: RequestEventMap['admission']): void {
    this.telemetry.admission(decision);
  }
  cache(e: RequestEventMap['cache']): void {
    this.telemetry.cache(e.hit);
  }
  served(e: RequestEventMap['served']): void {
    this.telemetry.served(e.target, e.attempts, e.upstreamRequestId);
  }
  metered(record: RequestEventMap['metered']): void {
    this.telemetry.metered(record);
  }
  guardrails(decisions: RequestEventMap['guardrails']): void {
    this.telemetry.guardrails(decisions);
  }
  dataPolicy(report: RequestEventMap['dataPolicy']): void {
    this.telemetry.dataPolicy(report);
  }
}

/** Subscribes a request's telemetry (span, metrics, access log) to its events. */
export function reportTo(events: RequestEvents, telemetry: RequestTelemetry): void {
  events.subscribe(new TelemetrySink(telemetry));
}
