/** OpenAI error `type` values the gateway emits. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable_error'
  | 'timeout_error';

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null; innererror?: unknown };
}

/**
 * The one error the data plane raises at its boundaries. It renders itself as OpenAI error JSON;
 * one express middleware (and the SSE writer, once a stream has started) turns it into a response.
 */
export class GatewayError extends Error {
  readonly status: number;
  readonly code: string;
  readonly type: ErrorType | string;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  /**
   * The stable word records say for this error (a capture record's `decision`): the gateway's own
   * code, never an upstream's. A relayed upstream code is the client's to read, but it is text the
   * upstream chose, and a Metadata record carries no text but the gateway's.
   */
  readonly decision: string;
  /** An upstream's own detail relayed with its error (Azure's content-filter `innererror`: which filter fired). */
  readonly innererror: unknown;

  constructor(
    status: number,
    code: string,
    type: ErrorType | string,
    message: string,
    opts: { param?: string | null; headers?: Record<string, string>; cause?: unknown; decision?: string; innererror?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.status = status;
    this.code = code;
    this.type = type;
    this.param = opts.param ?? null;
    this.headers = opts.headers ?? {};
    this.decision = opts.decision ?? code;
    this.innererror = opts.innererror;
  }

  toBody(): OpenAiErrorBody {
    const error = { message: this.message, type: this.type, param: this.param, code: this.code };
    return { error: this.innererror === undefined ? error : { ...error, innererror: this.innererror } };
  }
}

export const errors = {
  badRequest: (message: string, param: string | null = null): GatewayError =>
    new GatewayError(400, 'invalid_request', 'invalid_request_error', message, { param }),
  invalidJson: (detail: string): GatewayError =>
    new GatewayError(400, 'invalid_json', 'invalid_request_error', `request body is not valid JSON: ${detail}`),
  bodyTooLarge: (limitBytes: number): GatewayError =>
    new GatewayError(413, 'request_too_large', 'invalid_request_error', `request body exceeds the limit of ${limitBytes} bytes`),
  modelNotFound: (model: string): GatewayError =>
    new GatewayError(404, 'model_not_found', 'not_found_error', `The model '${model}' does not exist or you do not have access to it.`, {
      param: 'model',
    }),
  notFound: (path: string): GatewayError => new GatewayError(404, 'not_found', 'not_found_error', `no such endpoint: ${path}`),
  /** A path the gateway serves, asked with another method: 405 naming the ones it takes (RFC 9110 requires `allow`). */
  methodNotAllowed: (method: string, path: string, allow: string): GatewayError =>
    new GatewayError(405, 'method_not_allowed', 'invalid_request_error', `${method} is not allowed on ${path}: use ${allow}`, { headers: { allow } }),
  notReady: (): GatewayError =>
    new GatewayError(503, 'not_ready', 'service_unavailable_error', 'the gateway has not loaded a configuration snapshot yet', {
      headers: { 'retry-after': '1' },
    }),
  /**
   * A stream still running, or a request not yet answered, when its pod's drain ended (the client
   * may retry: another pod answers).
   */
  shuttingDown: (drainMs: number, cut: 'stream' | 'answer' = 'stream'): GatewayError =>
    new GatewayError(
      503,
      'gateway_shutting_down',
      'service_unavailable_error',
      cut === 'stream'
        ? `the gateway pod serving this stream is shutting down and its ${drainMs} ms drain ended before the stream did; retry the request`
        : `the gateway pod serving this request is shutting down and its ${drainMs} ms drain ended before the answer came; retry the request`,
      { headers: { 'retry-after': '1' } },
    ),
  internal: (cause: unknown): GatewayError =>
    new GatewayError(500, 'internal_error', 'server_error', 'internal gateway error', { cause }),
};
