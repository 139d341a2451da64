import { parseRetryAfterMs } from '../retry-after.js';
import type { HeaderMap, JsonObject, UpstreamFailure } from '../../core/canonical.js';
import type { GeminiErrorBody } from './gemini-wire.js';

const CONTEXT_LENGTH = /exceeds the maximum number of tokens|input token count|context (window|length)|too long/i;

function parse(bodyText: string): GeminiErrorBody['error'] | undefined {
  try {
    const body: unknown = JSON.parse(bodyText);
    // The streaming endpoint without alt=sse wraps errors in an array.
    const first: unknown = Array.isArray(body) ? body[0] : body;
    const error = typeof first === 'object' && first !== null ? (first as JsonObject).error : undefined;
    return typeof error === 'object' && error !== null ? (error as GeminiErrorBody['error']) : undefined;
  } catch {
    return undefined;
  }
}

/** google.rpc RetryInfo.retryDelay, a protobuf Duration such as "17s" or "0.5s". */
function retryDelayMs(error: GeminiErrorBody['error'] | undefined): number | undefined {
  for (const d of error?.details ?? []) {
    if (typeof d.retryDelay === 'string' && d.retryDelay.endsWith('s')) {
      const seconds = Number(d.retryDelay.slice(0, -1));
      if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
    }
  }
  return undefined;
}

/**
 * google.rpc ErrorInfo reasons of a 400 INVALID_ARGUMENT that are about the gateway's API key, not
 * the request: Gemini answers a wrong key with 400, not 401/403.
 */
const KEY_REASONS = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED', 'API_KEY_SERVICE_BLOCKED']);

function keyReason(error: GeminiErrorBody['error'] | undefined): string | undefined {
  return error?.details?.find((d) => typeof d.reason === 'string' && KEY_REASONS.has(d.reason))?.reason;
}

/** Google RPC errors (`{"error":{code,message,status,details}}`) → failure kinds. */
export function classifyGeminiError(status: number, headers: HeaderMap, bodyText: string): UpstreamFailure {
  const error = parse(bodyText);
  const message = error?.message ?? (bodyText.slice(0, 200) || `HTTP ${status}`);
  const rpcStatus = error?.status;
  const key = status === 400 ? keyReason(error) : undefined;
  const failure: UpstreamFailure = { kind: 'ServerError', status, message: rpcStatus === undefined ? message : `${rpcStatus}: ${message}` };
  const retryAfter = parseRetryAfterMs(headers) ?? retryDelayMs(error);
  if (retryAfter !== undefined) failure.retryAfterMs = retryAfter;
  if (status === 429 || rpcStatus === 'RESOURCE_EXHAUSTED') failure.kind = 'RateLimited';
  else if (status === 504 || status === 408 || rpcStatus === 'DEADLINE_EXCEEDED') failure.kind = 'Timeout';
  else if (status >= 500) failure.kind = 'ServerError';
  else if (status === 401 || status === 403) failure.refused = 'credentials';
  // 404 NOT_FOUND: the target's model (or the project's endpoint) is not there, and would not be on a retry.
  else if (status === 404) failure.refused = 'configuration';
  else if (key !== undefined) {
    // The key's problem, named by its reason (the message never holds the key).
    failure.refused = 'credentials';
    failure.message = `${key}: ${message}`;
  } else if (status === 400 && rpcStatus === 'FAILED_PRECONDITION') {
    // e.g. "User location is not supported for the API use": the project's or region's state,
    // which another target (another project, region or provider) may not share.
    failure.refused = 'configuration';
  } else if (status === 400 || status === 413) {
    const contextLength = CONTEXT_LENGTH.test(message);
    failure.kind = contextLength ? 'ContextLengthExceeded' : 'ClientError';
    failure.clientBody = {
      error: { message, type: 'invalid_request_error', param: null, code: contextLength ? 'context_length_exceeded' : (rpcStatus?.toLowerCase() ?? null) },
    };
  }
  return failure;
}
