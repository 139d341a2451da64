import type { ClientRequest } from 'node:http';
import type { FailureKind } from '../../config/snapshot.js';
import type { UsageRecord } from '../../metering/usage-record.js';
import type { AttemptTelemetry, RequestTelemetry } from '../../telemetry/gateway-observer.js';
import type { ForwardTarget } from './passthrough-route.js';

/**
 * The caller's trace context and baggage: never forwarded as they came. Baggage is the caller's
 * key-value pairs (user ids, tenant names) for its own services, not for a provider; the trace
 * context upstream is the gateway's attempt (as on the inference path), or none with tracing off.
 */
export const CALLER_TRACE_HEADERS = ['traceparent', 'tracestate', 'baggage'] as const;

/** The failure class of an upstream status, as the inference path names it (a relayed 4xx is a ClientError). */
export function failureOf(status: number): FailureKind | 'ClientError' | undefined {
  if (status < 400) return undefined;
  if (status === 429) return 'RateLimited';
  if (status === 408 || status === 504) return 'Timeout';
  return status >= 500 ? 'ServerError' : 'ClientError';
}

/**
 * One forwarded attempt of a pass-through request, as its request's telemetry sees it: a CLIENT
 * span (and tollgate_upstream_attempts_total) from the moment it is sent to the moment its answer's
 * status is known, or it failed, or the client left. Settled once; the request's usage is reported
 * through it when the answer is metered.
 */
export class ForwardedAttempt {
  private readonly attempt: AttemptTelemetry;
  private settled = false;

  constructor(
    private readonly telemetry: RequestTelemetry,
    to: ForwardTarget,
    url: URL,
  ) {
    this.attempt = telemetry.attempt(to.target, to.provider, url.origin);
  }

  /** Replaces the caller's trace context with this attempt's (none with tracing off). */
  traceHeaders(proxyReq: ClientRequest): void {
    for (const name of CALLER_TRACE_HEADERS) proxyReq.removeHeader(name);
    const headers: Record<string, string> = {};
    this.attempt.inject(headers);
    for (const [name, value] of Object.entries(headers)) proxyReq.setHeader(name, value);
  }

  /** The upstream answered: a success below 400, else the failure its status is (failed over or relayed). */
  answered(status: number): void {
    if (this.settled) return;
    this.settled = true;
    const kind = failureOf(status);
    if (kind === undefined) this.attempt.settle({ ok: true, kind: 'response', body: {}, status });
    else this.attempt.settle({ ok: false, failure: { kind, status, message: `the upstream answered ${status}` } });
  }

  /** No answer: the connection failed, or the upstream sent nothing for the timeout (the gateway's own words on the span, never the error's). */
  failed(kind: 'Timeout' | 'ConnectionError', timeoutMs: number): void {
    if (this.settled) return;
    this.settled = true;
    const message = kind === 'Timeout' ? `the upstream sent nothing for ${timeoutMs} ms` : 'the upstream could not be reached';
    this.attempt.settle({ ok: false, failure: { kind, status: 0, message } });
  }

  /** The client left before the answer's status was known. */
  clientGone(sent: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.attempt.settle({ ok: false, clientGone: true, sent });
  }

  /** The request's metered usage (once per request: the request's telemetry keeps the first). */
  metered(record: UsageRecord): void {
    this.telemetry.metered(record);
  }
}
