import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { announcesBody, type ChannelErrorAnswer, failureAnswer, NO_TOKEN, noSuchEndpoint } from '../config/channel-answers.js';
import { metricsTokenMatches, tokenMatches } from '../config/channel-token.js';

/** The admin port's side of the channel's rules (config/channel-answers.ts), as express handlers. */
function send(res: Response, answer: ChannelErrorAnswer): void {
  res.status(answer.status).set(answer.headers).json(answer.body);
}

/**
 * First on the port: a request that comes with a body but without the admin token is answered on
 * a connection that then closes. Only the admin token's endpoints read a body; on the open ones
 * (probes, the console) node would otherwise read and throw away the body to its end after the
 * answer, for anyone who can reach the port.
 */
export function closeUnreadBodies(token: string): RequestHandler {
  return (req, res, next) => {
    if (announcesBody(req.headers) && !tokenMatches(req.get('authorization'), token)) res.set('connection', 'close');
    next();
  };
}

/** The bearer-token gate, mounted before any body parser. */
export function requireToken(token: string): RequestHandler {
  return (req, res, next) => (tokenMatches(req.get('authorization'), token) ? next() : send(res, NO_TOKEN));
}

/** The gate of GET /metrics (config/channel-token.ts metricsTokenMatches). */
export function requireMetricsToken(metricsToken: string, adminToken: string): RequestHandler {
  return (req, res, next) => (metricsTokenMatches(req.get('authorization'), metricsToken, adminToken) ? next() : send(res, NO_TOKEN));
}

export const jsonNotFound: RequestHandler = (req, res) => send(res, noSuchEndpoint(req.method, req.path));

/** The last handler of the admin app: every error as JSON; a failure of ours is logged, not shown. */
export function jsonErrors(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const answer = failureAnswer(err);
    if (answer.status >= 500) logger.error({ err: (err as Error)?.message, path: req.path }, 'admin endpoint failed');
    if (res.headersSent) res.destroy();
    else send(res, answer);
  };
}
