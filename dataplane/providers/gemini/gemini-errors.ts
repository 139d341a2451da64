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

/** Google RPC errors (`{"error":{code,message,status,details}}`) → failure kinds. */
export function classifyGeminiError(status: number, headers: HeaderMap, bodyText: string): UpstreamFailure {
  const error = parse(bodyText);
  const message = error?.message ?? (bodyText.slice(0, 200) || `HTTP ${status}`);
  const rpcStatus = error?.status;
  const failure: UpstreamFailure = { kind: 'ServerError', status, message: rpcStatus === undefined ? message : `${rpcStatus}: ${message}` };
  const retryAfter = parseRetryAfterMs(headers) ?? retryDelayMs(error);
  if (retryAfter !== undefined) failure.retryAfterMs = retryAfter;
  if (status === 429 || rpcStatus === 'RESOURCE_EXHAUSTED') failure.kind = 'RateLimited';
  else if (status === 504 || status === 408 || rpcStatus === 'DEADLINE_EXCEEDED') failure.kind = 'Timeout';
  else if (status >= 500) failure.kind = 'ServerError';
  else if (status === 400 || status === 413) {
    const contextLength = CONTEXT_LENGTH.test(message);
    failure.kind = contextLength ? 'ContextLengthExceeded' : 'ClientError';
    failure.clientBody = {
      error: { message, type: 'invalid_request_error', param: null, code: contextLength ? 'context_length_exceeded' : (rpcStatus?.toLowerCase() ?? null) },
    };
  }
  // 401, 403 (PERMISSION_DENIED), 404: the gateway's key, project or model configuration.
  return failure;
}
