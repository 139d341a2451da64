import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { tokenMatches } from './channel-token.js';

/** Largest snapshot push (after the token check): room for thousands of routes and providers. */
export const SNAPSHOT_BODY_LIMIT = '32mb';
/**
 * Largest body of any other admin or operator endpoint that takes one, after the token check:
 * a usage report batch (2,000 records with their budget ids) or a client request for /debug/route.
 */
export const SMALL_BODY_LIMIT = '4mb';

/**
 * The bearer-token gate of the admin and operator ports. Mounted before any body parser, so that a
 * caller without the token cannot make the process read (let alone parse) a body.
 */
export function requireToken(token: string): RequestHandler {
  return (req, res, next) => {
    if (tokenMatches(req.get('authorization'), token)) {
      next();
      return;
    }
    // The body is never read: close the connection rather than drain it.
    res.set('connection', 'close').status(401).set('www-authenticate', 'Bearer').json({ error: 'missing or wrong admin token' });
  };
}

export const jsonNotFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: `no such endpoint: ${req.method} ${req.path}` });
};

function statusOf(err: unknown): number {
  const status = typeof err === 'object' && err !== null ? ((err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode) : undefined;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/**
 * The last handler of the admin and operator apps: every error is JSON with a short message,
 * whatever NODE_ENV says (express's default handler answers with an HTML page and a stack trace
 * outside production). Client errors (body too large, bad JSON) keep their status; nothing else
 * says more than "internal error" to the caller.
 */
export function jsonErrors(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const status = statusOf(err);
    const expose = status < 500 && typeof err === 'object' && err !== null && (err as { expose?: unknown }).expose === true;
    const message = expose ? (err as Error).message : status === 500 ? 'internal error' : 'request failed';
    if (status >= 500) logger.error({ err: (err as Error)?.message, path: req.path }, 'admin endpoint failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json({ error: message });
  };
}
