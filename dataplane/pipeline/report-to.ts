import type { RequestTelemetry } from '../telemetry/gateway-observer.js';
import type { RequestEvents } from './request-events.js';

/** Subscribes a request's telemetry (span, metrics, access log) to its events. */
export function reportTo(events: RequestEvents, telemetry: RequestTelemetry): void {
  events.on('caller', (caller) => telemetry.caller(caller));
  events.on('routed', (e) => telemetry.routed(e.route, e.request, e.requestId));
  events.on('decided', (e) => telemetry.decided(e.rule));
  events.on('admission', (decision) => telemetry.admission(decision));
  events.on('cache', (e) => telemetry.cache(e.hit));
  events.on('served', (e) => telemetry.served(e.target, e.attempts));
  events.on('metered', (record) => telemetry.metered(record));
  events.on('guardrails', (decisions) => telemetry.guardrails(decisions));
  events.on('dataPolicy', (report) => telemetry.dataPolicy(report));
}
