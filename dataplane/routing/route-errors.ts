import type { RouteConfig } from '../config/snapshot.js';
import { GatewayError } from '../core/gateway-error.js';
import type { CanonicalRequest, JsonObject, UpstreamFailure } from '../core/canonical.js';
import { isObject } from '../providers/shared/json-guards.js';

/** One target tried for a request, and how it failed (absent on the attempt that served). */
export interface AttemptRecord {
  providerId: string;
  model: string;
  failure?: UpstreamFailure;
}

/** What an upstream that refused the gateway's own side of a request refused (UpstreamFailure.refused). */
const REFUSED: Readonly<Record<NonNullable<UpstreamFailure['refused']>, string>> = {
  credentials: "refused the gateway's credentials",
  configuration: "refused the target's configuration",
};

function describe(a: AttemptRecord): string {
  const f = a.failure;
  if (f === undefined) return `${a.providerId} (${a.model})`;
  // A connection failure's message is already a sentence for people (attempt.ts): no class name in front.
  if (f.kind === 'ConnectionError' && f.status === 0) return `${a.providerId} (${a.model}): ${f.message}`;
  const status = f.status > 0 ? `HTTP ${f.status} ` : '';
  if (f.refused !== undefined) return `${a.providerId} (${a.model}): ${status}${REFUSED[f.refused]}: ${f.message}`;
  return `${a.providerId} (${a.model}): ${status}${f.kind}: ${f.message}`;
}

/** The most of an upstream's `innererror` relayed, as JSON text: it is detail, not a channel for megabytes. */
const MAX_INNER_ERROR_CHARS = 4096;

function relayed(body: JsonObject | undefined): { message?: string; type?: string; code?: string; param?: string; innererror?: JsonObject } {
  const e = body?.error;
  if (typeof e !== 'object' || e === null) return {};
  const o = e as JsonObject;
  const out: { message?: string; type?: string; code?: string; param?: string; innererror?: JsonObject } = {};
  if (typeof o.message === 'string') out.message = o.message;
  if (typeof o.type === 'string') out.type = o.type;
  if (typeof o.code === 'string') out.code = o.code;
  if (typeof o.param === 'string') out.param = o.param;
  // Azure OpenAI's content filter says which category fired (and at what severity) only here.
  if (isObject(o.innererror) && JSON.stringify(o.innererror).length <= MAX_INNER_ERROR_CHARS) out.innererror = o.innererror;
  return out;
}

/** Attempts that reached an upstream: a request the gateway refused itself (a local failure) is not one. */
export function upstreamAttempts(attempts: readonly AttemptRecord[]): number {
  return attempts.filter((a) => a.failure?.local !== true).length;
}

/**
 * `x-tollgate-attempts` (requests sent upstream, 0 when none was) and `x-tollgate-provider` (the last
 * provider tried, when one was), on every answer the router gives.
 */
export function attemptHeaders(attempts: readonly AttemptRecord[]): Record<string, string> {
  const tried = attempts.filter((a) => a.failure?.local !== true);
  const last = tried.at(-1);
  return { 'x-tollgate-attempts': String(tried.length), ...(last === undefined ? {} : { 'x-tollgate-provider': last.providerId }) };
}

/** Every attempt that reached an upstream was refused for the gateway's own side (its key, the target's configuration). */
function allRefused(attempts: readonly AttemptRecord[]): boolean {
  return attempts.every((a) => a.failure?.local === true || a.failure?.refused !== undefined);
}

/** The longest back-off relayed to a client: an upstream's date a year ahead is not a back-off. */
const MAX_RELAYED_RETRY_AFTER_MS = 3_600_000;

/**
 * The soonest retry-after the upstreams gave, in whole seconds (at least 1, at most an hour). Not
 * bounded by the route's maxRetryAfter: that is how long the gateway itself waits before retrying,
 * and a client told to come back sooner than the upstream said would only be refused again.
 */
function retryAfterSeconds(retryAfterMs: number): string {
  return String(Math.max(1, Math.ceil(Math.min(retryAfterMs, MAX_RELAYED_RETRY_AFTER_MS) / 1000)));
}

/**
 * The error a client gets when no target served its request. A client error from the upstream
 * (e.g. an invalid parameter) is relayed as is; otherwise the status says what went wrong last and
 * the message lists every attempt. `retryAfterMs`: the soonest retry-after of the upstreams' 429s
 * and 5xxs.
 */
export function noTargetLeft(route: RouteConfig, attempts: AttemptRecord[], retryAfterMs: number | undefined, skipped: readonly string[] = []): GatewayError {
  const headers = attemptHeaders(attempts);
  if (attempts.length === 0) {
    const reasons = [...route.unresolved, ...skipped.map((p) => `NoReadyEndpoints (${p})`)];
    const why = reasons.length > 0 ? reasons.join('; ') : 'the route has no targets';
    return new GatewayError(503, 'no_targets', 'service_unavailable_error', `model ${route.model} (route ${route.id}) has no usable target: ${why}`, {
      headers: { ...headers, 'retry-after': '5' },
    });
  }
  const last = attempts[attempts.length - 1]?.failure;
  if (last?.kind === 'ClientError' || last?.kind === 'ContextLengthExceeded') {
    const r = relayed(last.clientBody);
    const status = last.status >= 400 && last.status < 500 ? last.status : 400;
    const decision = last.kind === 'ContextLengthExceeded' ? 'context_length_exceeded' : 'upstream_rejected';
    return new GatewayError(status, r.code ?? decision, r.type ?? 'invalid_request_error', r.message ?? last.message, {
      param: r.param ?? null,
      headers,
      decision,
      ...(r.innererror === undefined ? {} : { innererror: r.innererror }),
    });
  }
  if (last?.kind === 'ResponseTooLarge' && last.overCapacity === true) {
    return new GatewayError(503, 'upstream_responses_over_capacity', 'service_unavailable_error', `${last.message}; model ${route.model} (route ${route.id})`, {
      headers: { ...headers, 'retry-after': retryAfterSeconds(last.retryAfterMs ?? 1000) },
    });
  }
  if (last?.kind === 'ResponseTooLarge') {
    // The gateway does not retry it (the same request is answered as large again, and each attempt
    // is charged its worst case): neither should the SDKs, which retry every 502 unless told not to.
    return new GatewayError(502, 'upstream_response_too_large', 'server_error', `${last.message}; model ${route.model} (route ${route.id})`, {
      headers: { ...headers, 'x-should-retry': 'false' },
    });
  }
  const tried = `tried ${attempts.map(describe).join('; ')}`;
  const message = `no upstream could serve model ${route.model} (route ${route.id}); ${tried}`;
  switch (last?.kind) {
    case 'Timeout':
      return new GatewayError(504, 'upstream_timeout', 'timeout_error', message, { headers });
    case 'RateLimited':
      // Out of quota: no retry-after would help, and OpenAI SDKs retry a 429 unless told not to.
      if (last.quotaExhausted === true) return new GatewayError(429, 'insufficient_quota', 'insufficient_quota', message, { headers: { ...headers, 'x-should-retry': 'false' } });
      return new GatewayError(429, 'upstream_rate_limited', 'rate_limit_error', message, { headers: { ...headers, 'retry-after': retryAfterSeconds(retryAfterMs ?? 1000) } });
    case 'ConnectionError':
      return new GatewayError(502, 'upstream_unreachable', 'server_error', message, { headers });
    default:
      if (last?.refused !== undefined) {
        // The operator's to fix, not the caller's (the message names the provider and its answer,
        // never the key): no retry-after, and a code that says where to look. When every target
        // that was tried refused the gateway's side, a client retry would only be refused again
        // (and send the refused key upstream again): SDKs retry every 502 unless told not to.
        const code = last.refused === 'credentials' ? 'upstream_credentials_refused' : 'upstream_target_misconfigured';
        return new GatewayError(502, code, 'server_error', message, { headers: allRefused(attempts) ? { ...headers, 'x-should-retry': 'false' } : headers });
      }
      if (last?.overloaded === true) {
        // 503, not 502: the upstream is up and said to come back (OpenAI's own status for an
        // overloaded engine; the Messages API renders it as overloaded_error).
        return new GatewayError(503, 'upstream_overloaded', 'service_unavailable_error', message, {
          headers: { ...headers, 'retry-after': retryAfterSeconds(retryAfterMs ?? 1000) },
        });
      }
      // An upstream that is down for a while (503 with retry-after) said when to come back: so does the 502.
      return new GatewayError(502, 'upstream_error', 'server_error', message, {
        headers: retryAfterMs === undefined ? headers : { ...headers, 'retry-after': retryAfterSeconds(retryAfterMs) },
      });
  }
}

/** No target of the route serves the client's API natively, and the request cannot be translated (400, naming the field). */
export function nativeOnly(route: RouteConfig, req: CanonicalRequest, providers: readonly string[]): GatewayError {
  const requires = req.native?.requires;
  const what = requires?.message ?? 'the request can only be served in its own API';
  return new GatewayError(400, 'unsupported_by_route', 'invalid_request_error', `${what} (route ${route.id} has no such target: ${[...new Set(providers)].join(', ')})`, {
    param: requires?.param ?? null,
    headers: attemptHeaders([]),
  });
}
