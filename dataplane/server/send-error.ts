import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errors, GatewayError } from '../core/gateway-error.js';
import { sendJson } from './send-json.js';
import { answerIdHeaders, answerIdOf } from '../telemetry/answer-id.js';

/** Anything thrown while answering, as the GatewayError it is answered with (500 for the unexpected). */
export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : errors.internal(err);
}

/**
 * The one error path: every error becomes a GatewayError, rendered by the API's dialect (`render`),
 * with the headers naming the request (answer-id.ts), `headers` (the route and rule that refused,
 * when one was matched) and the error's own.
 * After the first byte of an answer nothing can be said any more: the connection is closed.
 */
export function sendError(res: ServerResponse, err: unknown, logger: Logger, render: (err: GatewayError, requestId?: string) => unknown, headers: Record<string, string> = {}): void {
  const gatewayError = toGatewayError(err);
  if (gatewayError.status >= 500 && gatewayError.code === 'internal_error') logger.error({ err }, 'unhandled error');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, gatewayError.status, { ...answerIdHeaders(res), ...headers, ...gatewayError.headers }, render(gatewayError, answerIdOf(res)));
}
