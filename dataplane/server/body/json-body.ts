import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { errors, GatewayError } from '../../core/gateway-error.js';
import { shownToken } from '../../core/shown-token.js';
import type { ByteBudget } from '../../core/byte-budget.js';
import { jsonShapeProblem } from '../../core/json-shape.js';

const MiB = 1024 * 1024;

/** Largest request body by default (after decompression): long-context prompts and image payloads fit. */
export const DEFAULT_MAX_BODY_BYTES = 10 * MiB;
/**
 * Request bodies held at once per process by default: their bytes are counted from the first byte
 * read until the response has closed (the parsed body lives that long). A parsed body takes a few
 * times its size, so 64 MiB keeps request bodies well inside the chart's 1 GiB memory limit.
 */
export const DEFAULT_MAX_INFLIGHT_BODY_BYTES = 64 * MiB;
/** Deepest nesting of objects and arrays accepted; real requests (tool schemas included) stay far below. */
export const MAX_JSON_DEPTH = 64;
/**
 * Most objects, arrays and object members in one request body by default. Large real requests stay
 * far below it: 150 long chat messages with 128 tools of 20 parameters each have about 20,000, a
 * strict output schema of 5,000 properties (OpenAI's maximum) about 35,000. Token-id arrays do not
 * count (their numbers are not objects, arrays or members), so long token prompts and embedding
 * batches are unaffected. At the limit, one tool schema of 100,000 distinct keys holds the event
 * loop about 0.25 s (parse, token estimate, upstream body); 400,000 held it 0.9 s before.
 */
export const DEFAULT_MAX_JSON_ELEMENTS = 100_000;

export interface RequestBodyLimits {
  maxBodyBytes: number;
  maxInflightBodyBytes: number;
  /** Most objects, arrays and object members in a JSON body (400 json_too_many_elements). */
  maxJsonElements: number;
}

const closing = { connection: 'close' };

/**
 * Longest silence in the middle of a request body. The bytes a body has sent are held from the
 * process's shared body budget until its response closes: without this, eight connections that
 * sent all but the last byte of 8 MiB each held all 64 MiB for node's 300 s request timeout, and
 * every request with a body on the pod was refused meanwhile.
 */
export const BODY_IDLE_MS = 15_000;

export const bodyErrors = {
  stalled: (ms: number): GatewayError =>
    new GatewayError(408, 'request_body_timeout', 'invalid_request_error', `the request body stopped arriving: nothing for ${ms} ms before its end`, { headers: closing }),
  tooLarge: (limitBytes: number): GatewayError =>
    new GatewayError(413, 'request_too_large', 'invalid_request_error', `request body exceeds the limit of ${limitBytes} bytes`, { headers: closing }),
  overCapacity: (capacity: number): GatewayError =>
    new GatewayError(
      503,
      'request_bodies_over_capacity',
      'service_unavailable_error',
      `the gateway already holds its maximum of ${capacity} bytes of request bodies; retry shortly (or on another replica)`,
      { headers: { ...closing, 'retry-after': '1' } },
    ),
  tooDeep: (): GatewayError =>
    new GatewayError(400, 'json_too_deep', 'invalid_request_error', `request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`),
  tooManyElements: (limit: number): GatewayError =>
    new GatewayError(400, 'json_too_many_elements', 'invalid_request_error', `request body has more than ${limit} objects, arrays and object members (the gateway's limit)`),
  charset: (charset: string): GatewayError =>
    new GatewayError(415, 'unsupported_charset', 'invalid_request_error', `charset ${shownToken(charset)} is not supported: send the JSON body as UTF-8`, { headers: closing }),
  encoding: (encoding: string): GatewayError =>
    new GatewayError(415, 'unsupported_content_encoding', 'invalid_request_error', `content-encoding ${shownToken(encoding)} is not supported (use gzip, deflate, br or none)`, { headers: closing }),
};

function decoded(req: IncomingMessage): Readable | GatewayError {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  switch (encoding) {
    case 'identity':
      return req;
    case 'gzip':
      return req.pipe(createGunzip());
    case 'deflate':
      return req.pipe(createInflate());
    case 'br':
      return req.pipe(createBrotliDecompress());
    default:
      return bodyErrors.encoding(encoding);
  }
}

/** JSON is UTF-8 (RFC 8259); a body declared in another charset is refused rather than misread. */
function charsetProblem(contentType: string | undefined): GatewayError | undefined {
  if (contentType === undefined) return undefined;
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType);
  const charset = match?.[1]?.toLowerCase();
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8' || charset === 'us-ascii') return undefined;
  return bodyErrors.charset(charset);
}

/**
 * Reads and parses a JSON request body, bounded three ways: its own size (413, checked against
 * content-length before reading and counted as bytes arrive, decompressed), the bytes of all
 * bodies the process holds (503 with retry-after, taken from `budget` until the response closes),
 * and its nesting depth and count of objects, arrays and members (400, before JSON.parse). A refused body is not read further and the
 * connection is closed after the error. An empty body reads as `{}`.
 */
export function readJsonBody(req: IncomingMessage, res: ServerResponse, limits: RequestBodyLimits, budget: ByteBudget, idleMs = BODY_IDLE_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > limits.maxBodyBytes) return reject(bodyErrors.tooLarge(limits.maxBodyBytes));
    const charset = charsetProblem(req.headers['content-type']);
    if (charset !== undefined) return reject(charset);
    if (!budget.fits(Math.min(Number.isFinite(declared) ? declared : 0, limits.maxBodyBytes))) return reject(bodyErrors.overCapacity(budget.capacity));
    const source = decoded(req);
    if (source instanceof GatewayError) return reject(source);

    let held = 0;
    res.on('close', () => budget.give(held));
    const parts: Buffer[] = [];
    let done = false;
    // Armed only while more is to come: the usual body arrives whole in the socket read that brought
    // its headers, and needs no timer. One that has not started by the end of that read is timed
    // from then (armStart): before, a client that declared a body and sent none held its connection
    // until node's request timeout. Not a timer from here: a request's headers are handed over
    // before its body is parsed, so every request would set and clear one (~1.5 µs a request).
    let idle: NodeJS.Timeout | undefined;
    const armStart = (): void => {
      if (!done && idle === undefined) idle = setTimeout(() => finish(bodyErrors.stalled(idleMs)), idleMs);
    };
    if (!req.complete) setImmediate(armStart);
    const finish = (err?: GatewayError): void => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      source.off('data', onData);
      if (err === undefined) return parse();
      // Stop reading; what is left of the body is dropped with the connection.
      if (source !== req) source.destroy();
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (held + chunk.length > limits.maxBodyBytes) return finish(bodyErrors.tooLarge(limits.maxBodyBytes));
      if (!budget.tryTake(chunk.length)) return finish(bodyErrors.overCapacity(budget.capacity));
      held += chunk.length;
      parts.push(chunk);
      if (source === req && Number.isFinite(declared) && held >= declared) return;
      if (idle === undefined) idle = setTimeout(() => finish(bodyErrors.stalled(idleMs)), idleMs);
      else idle.refresh();
    };
    const parse = (): void => {
      // The usual body arrives in one chunk: read as it is, not copied into a new buffer.
      const bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, held);
      parts.length = 0;
      const shape = jsonShapeProblem(bytes, MAX_JSON_DEPTH, limits.maxJsonElements);
      if (shape === 'too_deep') return reject(bodyErrors.tooDeep());
      if (shape === 'too_many_elements') return reject(bodyErrors.tooManyElements(limits.maxJsonElements));
      try {
        resolve(held === 0 ? {} : (JSON.parse(bytes.toString('utf8')) as unknown));
      } catch (err) {
        reject(errors.invalidJson(err instanceof Error ? err.message : String(err)));
      }
    };
    // `on`, not `once`: finish() acts only once anyway, and a once-wrapper per listener is two more
    // objects per request. An 'error' after the first stays handled (it is not an uncaught exception).
    source.on('data', onData);
    source.on('end', () => finish());
    source.on('error', (err: Error) => finish(errors.badRequest(`could not read the request body: ${err.message}`)));
  });
}
