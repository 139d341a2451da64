import { parseRetryAfterMs } from '../retry-after.js';
import type { HeaderMap, JsonObject, UpstreamFailure } from '../../core/canonical.js';

/**
 * ValidationExceptions about the target's model id, not the request: the Provider's model is wrong
 * (or needs an inference profile) for every request, and another target may serve.
 */
const MODEL_ID = /model identifier is invalid|on-demand throughput isn.t supported/i;

const CONTEXT_LENGTH = /too long|too many (input )?tokens|context (window|length)|maximum context|max_tokens.*exceed/i;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** What the AWS SDKs do with x-amz-errortype / __type: keep the text before any `:` or `,` and after any `#`. */
export function sanitizeErrorType(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let t = raw.split(':')[0]?.split(',')[0] ?? raw;
  if (t.includes('#')) t = t.slice(t.lastIndexOf('#') + 1);
  return t.trim() || undefined;
}

/** Failure kind for an exception type, from the HTTP response or in-stream (`:exception-type`, camelCase there). */
export function kindForException(type: string | undefined, status: number): UpstreamFailure['kind'] {
  const t = type?.toLowerCase();
  if (t === 'throttlingexception' || t === 'modelnotreadyexception' || t === 'servicequotaexceededexception' || status === 429) return 'RateLimited';
  if (t === 'modeltimeoutexception' || status === 408 || status === 504) return 'Timeout';
  return 'ServerError';
}

/** Bedrock errors: `{"message": …}` with the class in x-amzn-errortype. */
export function classifyBedrockError(status: number, headers: HeaderMap, bodyText: string): UpstreamFailure {
  let body: JsonObject = {};
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (typeof parsed === 'object' && parsed !== null) body = parsed as JsonObject;
  } catch {
    // not JSON
  }
  const type = sanitizeErrorType(first(headers['x-amzn-errortype']) ?? (typeof body.__type === 'string' ? body.__type : typeof body.code === 'string' ? body.code : undefined));
  const message = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : bodyText.slice(0, 200) || `HTTP ${status}`;
  const failure: UpstreamFailure = { kind: kindForException(type, status), status, message: type === undefined ? message : `${type}: ${message}` };
  const retryAfter = parseRetryAfterMs(headers);
  if (retryAfter !== undefined) failure.retryAfterMs = retryAfter;
  // 404 ResourceNotFoundException: the target's model is not there, and would not be on a retry.
  if (failure.kind === 'ServerError' && (MODEL_ID.test(message) || status === 404)) failure.refused = 'configuration';
  else if (failure.kind === 'ServerError' && (status === 401 || status === 403)) failure.refused = 'credentials';
  else if (failure.kind === 'ServerError' && (status === 400 || status === 413 || type === 'ValidationException')) {
    const contextLength = CONTEXT_LENGTH.test(message);
    failure.kind = contextLength ? 'ContextLengthExceeded' : 'ClientError';
    failure.clientBody = { error: { message, type: 'invalid_request_error', param: null, code: contextLength ? 'context_length_exceeded' : null } };
  }
  // 424 ModelError, 5xx: the gateway's side, retried.
  return failure;
}
