import type { GatewayError } from '../../core/gateway-error.js';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  /** As the API's own error bodies carry it (besides the request-id header): the SDKs show it as err.error.request_id. */
  request_id?: string;
}

/** Gateway error → Anthropic error type, by status (Anthropic's own table). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return status >= 400 && status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

export function anthropicErrorBody(err: GatewayError, requestId?: string): AnthropicErrorBody {
  const body: AnthropicErrorBody = { type: 'error', error: { type: anthropicErrorType(err.status), message: err.message } };
  if (requestId !== undefined) body.request_id = requestId;
  return body;
}
