import { parseRetryAfterMs } from '../retry-after.js';
import type { HeaderMap, JsonObject, UpstreamFailure } from '../../core/canonical.js';

const CONTEXT_LENGTH = /prompt is too long|context window|too many (input )?tokens|maximum context/i;

function parse(bodyText: string): { type?: string; message?: string } {
  try {
    const body: unknown = JSON.parse(bodyText);
    const error = typeof body === 'object' && body !== null ? (body as JsonObject).error : undefined;
    if (typeof error !== 'object' || error === null) return {};
    const e = error as JsonObject;
    const out: { type?: string; message?: string } = {};
    if (typeof e.type === 'string') out.type = e.type;
    if (typeof e.message === 'string') out.message = e.message;
    return out;
  } catch {
    return {};
  }
}

/** Anthropic error type → failure kind; `overloaded_error` (HTTP 529) is retryable like any 5xx. */
export function classifyAnthropicError(status: number, headers: HeaderMap, bodyText: string): UpstreamFailure {
  const { type, message = bodyText.slice(0, 200) || `HTTP ${status}` } = parse(bodyText);
  const failure: UpstreamFailure = { kind: 'ServerError', status, message: type === undefined ? message : `${type}: ${message}` };
  const retryAfter = parseRetryAfterMs(headers);
  if (retryAfter !== undefined) failure.retryAfterMs = retryAfter;
  if (status === 429 || type === 'rate_limit_error') failure.kind = 'RateLimited';
  else if (status === 408 || status === 504 || type === 'timeout_error') failure.kind = 'Timeout';
  else if (status >= 500 || type === 'overloaded_error' || type === 'api_error') failure.kind = 'ServerError';
  if (status === 529 || type === 'overloaded_error') failure.overloaded = true;
  else if (status === 400 || status === 413 || status === 422) {
    const contextLength = CONTEXT_LENGTH.test(message);
    failure.kind = contextLength ? 'ContextLengthExceeded' : 'ClientError';
    failure.clientBody = {
      error: {
        message,
        type: 'invalid_request_error',
        param: null,
        code: contextLength ? 'context_length_exceeded' : status === 413 ? 'request_too_large' : null,
      },
    };
  }
  // 401, 402, 403, 404: the gateway's credentials or configuration, not the client's request.
  if (status === 401 || status === 403) failure.refused = 'credentials';
  // 404 not_found_error: the target's model is not there, and would not be on a retry.
  else if (status === 404) failure.refused = 'configuration';
  // An account out of credit is no request's fault and does not pass with a retry: the target is
  // not retried, another may serve, and the client is told not to retry (as for OpenAI's
  // insufficient_quota). Anthropic says so with 402 billing_error, or with a 400 about the balance.
  if (status === 402 || type === 'billing_error' || CREDIT_BALANCE.test(message)) {
    failure.kind = 'RateLimited';
    failure.quotaExhausted = true;
    delete failure.clientBody;
  }
  return failure;
}

const CREDIT_BALANCE = /credit balance is too low/i;

/** An `error` event inside a started stream. */
export function streamErrorFailure(type: string, message: string): UpstreamFailure {
  const kind = type === 'rate_limit_error' ? 'RateLimited' : type === 'timeout_error' ? 'Timeout' : 'ServerError';
  // Before any content it is failed over; as the last failure the client is told it was an overload.
  return type === 'overloaded_error' ? { kind, status: 200, message: `${type}: ${message}`, overloaded: true } : { kind, status: 200, message: `${type}: ${message}` };
}
