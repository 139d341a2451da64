import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { errors, GatewayError } from '../core/gateway-error.js';
import type { RoutingInfo } from './proxy-handler.js';

interface BodyParserError {
  type: string;
  limit?: number;
  message: string;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return typeof err === 'object' && err !== null && typeof (err as { type?: unknown }).type === 'string';
}

/** Maps anything thrown by a handler to an OpenAI-style error response, once, in one place. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (isBodyParserError(err)) {
    if (err.type === 'entity.too.large') return errors.bodyTooLarge(err.limit ?? 0);
    if (err.type === 'entity.parse.failed') return errors.invalidJson(err.message);
    if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') return errors.badRequest(err.message);
  }
  return errors.internal(err);
}

/** A refusal after a route was matched still says which route (and rule) refused it; the router's own errors add the provider tried. */
function routingHeaders(info: RoutingInfo): Record<string, string> {
  const headers: Record<string, string> = {};
  if (info.route !== undefined) headers['x-tollgate-route'] = info.route;
  if (info.rule !== undefined) headers['x-tollgate-rule'] = info.rule;
  return headers;
}

/**
 * The one error handler: every error becomes a GatewayError, rendered by the API's dialect
 * (OpenAI JSON by default; /v1/messages passes the Anthropic rendering).
 */
export function errorMiddleware(logger: Logger, render: (err: GatewayError) => unknown = (e) => e.toBody()): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const gatewayError = toGatewayError(err);
    if (gatewayError.status >= 500 && gatewayError.code === 'internal_error') logger.error({ err }, 'unhandled error');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(gatewayError.status).set(routingHeaders(res.locals as RoutingInfo)).set(gatewayError.headers).json(render(gatewayError));
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(errors.notFound(`${req.method} ${req.path}`));
};
