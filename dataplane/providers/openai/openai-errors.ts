import { parseRetryAfterMs, rateLimitResetMs } from '../retry-after.js';
import type { HeaderMap, JsonObject, UpstreamFailure } from '../../core/canonical.js';

function parseErrorBody(bodyText: string): { message?: string; code?: string; type?: string; body?: JsonObject } {
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (typeof parsed !== 'object' || parsed === null) return {};
    const error = (parsed as JsonObject).error;
    if (typeof error === 'object' && error !== null) {
      const e = error as JsonObject;
      const out: { message?: string; code?: string; type?: string; body?: JsonObject } = { body: parsed as JsonObject };
      if (typeof e.message === 'string') out.message = e.message;
      if (typeof e.code === 'string') out.code = e.code;
      if (typeof e.type === 'string') out.type = e.type;
      return out;
    }
    // vLLM and other servers sometimes return {"message": ...} or {"detail": ...}
    const p = parsed as JsonObject;
    const message = typeof p.message === 'string' ? p.message : typeof p.detail === 'string' ? p.detail : undefined;
    return message === undefined ? {} : { message };
  } catch {
    return {};
  }
}

const CONTEXT_LENGTH = /context[ _]length|maximum context|too many tokens|prompt is too long/i;

/** OpenAI's codes (and types) for an account out of quota or credit: no wait makes them pass. */
const QUOTA = new Set(['insufficient_quota', 'billing_hard_limit_reached', 'billing_not_active']);

/** Maps an OpenAI-style error response to the gateway's failure classes. */
export function classifyOpenAiError(status: number, headers: HeaderMap, bodyText: string): UpstreamFailure {
  const parsed = parseErrorBody(bodyText);
  const message = parsed.message ?? (bodyText.slice(0, 200) || `HTTP ${status}`);
  const failure: UpstreamFailure = { kind: 'ServerError', status, message };
  const retryAfter = parseRetryAfterMs(headers);
  if (retryAfter !== undefined) failure.retryAfterMs = retryAfter;

  if (status === 429) {
    failure.kind = 'RateLimited';
    // Without retry-after, the reset of the limit that was hit says how long to wait (bounded by
    // the route's maxRetryAfter, as retry-after is): before, the retry came after a blind backoff.
    if (failure.retryAfterMs === undefined) {
      const reset = rateLimitResetMs(headers);
      if (reset !== undefined) failure.retryAfterMs = reset;
    }
    if (QUOTA.has(parsed.code ?? '') || QUOTA.has(parsed.type ?? '')) failure.quotaExhausted = true;
  } else if (status >= 500 || status === 408) {
    failure.kind = status === 408 || status === 504 ? 'Timeout' : 'ServerError';
  } else if (status === 400 || status === 413 || status === 422) {
    const contextLength = parsed.code === 'context_length_exceeded' || CONTEXT_LENGTH.test(message);
    failure.kind = contextLength ? 'ContextLengthExceeded' : 'ClientError';
    if (parsed.body !== undefined) failure.clientBody = parsed.body;
  } else {
    // 401, 403, 404 from upstream are the gateway's configuration problem, not the client's: a
    // 404 (no such model or deployment at this target) would be answered 404 again on a retry.
    failure.kind = 'ServerError';
    if (status === 401 || status === 403) failure.refused = 'credentials';
    else if (status === 404) failure.refused = 'configuration';
  }
  return failure;
}

/** The HTTP status an error sent inside a stream stands for: its numeric `code` (vLLM's), else what its type or code names. */
function inStreamStatus(error: JsonObject): number {
  const code = typeof error.code === 'number' ? error.code : typeof error.code === 'string' && /^\d{3}$/.test(error.code) ? Number(error.code) : undefined;
  if (code !== undefined && code >= 400 && code <= 599) return code;
  const names = [error.type, error.code];
  if (names.includes('rate_limit_error') || names.includes('rate_limit_exceeded')) return 429;
  if (names.includes('overloaded_error')) return 529;
  if (names.includes('timeout_error')) return 504;
  return 500;
}

/**
 * An `error` event inside an OpenAI-style stream (OpenAI, vLLM, proxies in front of other
 * providers), classified as the same error answered over HTTP would be: a rate limit is RateLimited,
 * an overload (`overloaded_error`, as Anthropic's) is marked so, a 404 is the target's configuration.
 * Before its first content it is retried and failed over like that answer; after, it ends the stream.
 */
export function classifyOpenAiStreamError(error: JsonObject): UpstreamFailure {
  const status = inStreamStatus(error);
  const failure = classifyOpenAiError(status, {}, JSON.stringify({ error }));
  if (status === 529) failure.overloaded = true;
  if (typeof error.message !== 'string') failure.message = 'upstream reported an error mid-stream';
  // The stream's own status: the equivalent one is in the kind (and in spans, 200 is what arrived).
  return { ...failure, status: 200 };
}
