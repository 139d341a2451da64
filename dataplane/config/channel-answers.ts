/**
 * How both ends of the operator↔data-plane channel answer (the data plane's admin port and the
 * operator's port), framework-free: each side's HTTP layer applies these rules
 * (dataplane/admin/channel-guard.ts, operator/distribute/channel-guard.ts). Every error answer is
 * JSON `{ error }`, the field the client on the other side reads.
 */

/** Largest snapshot push (after the token check): room for thousands of routes and providers. */
export const SNAPSHOT_BODY_LIMIT = 32 * 1024 * 1024;
/**
 * Largest body of any other admin or operator endpoint that takes one, after the token check:
 * a usage report batch (2,000 records with their budget ids) or a client request for /debug/route.
 */
export const SMALL_BODY_LIMIT = 4 * 1024 * 1024;

export interface ChannelErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: string };
}

/**
 * To a caller without the token. Sent before any body is read: the connection is closed rather
 * than drained, so that such a caller cannot make the process read a body.
 */
export const NO_TOKEN: ChannelErrorAnswer = {
  status: 401,
  headers: { connection: 'close', 'www-authenticate': 'Bearer' },
  body: { error: 'missing or wrong admin token' },
};

/** Whether a request comes with a body: a length above 0, or chunked. */
export function announcesBody(headers: { 'content-length'?: string | undefined; 'transfer-encoding'?: string | undefined }): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function noSuchEndpoint(method: string, path: string): ChannelErrorAnswer {
  return { status: 404, headers: {}, body: { error: `no such endpoint: ${method} ${path}` } };
}

function statusOf(err: unknown): number {
  const status = typeof err === 'object' && err !== null ? ((err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode) : undefined;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/**
 * The answer to an endpoint that failed, whatever NODE_ENV says (express's default handler answers
 * with an HTML page and a stack trace outside production). Client errors (body too large, bad JSON)
 * keep their status and, when marked as safe to show, their message; nothing else says more than
 * "internal error" to the caller.
 */
export function failureAnswer(err: unknown): ChannelErrorAnswer {
  const status = statusOf(err);
  const expose = status < 500 && typeof err === 'object' && err !== null && (err as { expose?: unknown }).expose === true;
  const message = expose ? (err as Error).message : status === 500 ? 'internal error' : 'request failed';
  return { status, headers: {}, body: { error: message } };
}
