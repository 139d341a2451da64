import { Readable } from 'node:stream';
import { brotliDecompressSync, gunzipSync, inflateSync, constants as zlibConstants } from 'node:zlib';
import type { UpstreamHttpRequest } from '../core/canonical.js';
import { type ByteBudget, heldBytes } from '../core/byte-budget.js';
import type { CappedText, Transport, UpstreamResponse, WholeOptions, WholeResponse } from './transport.js';

/**
 * Past this many bytes an answer read whole takes its bytes from the process's budget for answers
 * (WholeOptions.budget); below it, it takes nothing and costs nothing more than before. Chat answers
 * (a 16k-token answer is about 70 KB) and single embeddings (a 3,072-float vector is about 60 KB)
 * stay below it, so the request path most requests take makes no reservation; an answer that
 * reaches it allocates a megabyte or more on its way (bytes, text, parsed value, reply), beside
 * which the reservation's few hundred bytes do not count. What escapes the budget is at most this
 * much per answer: 512 answers just under it at once hold what the default budget allows.
 */
export const RESERVE_FROM_BYTES = 256 * 1024;

/**
 * Collects parts up to `limitBytes`; `add` says false once the limit is reached (the rest is not
 * wanted), or once `budget` has no room for an answer grown past RESERVE_FROM_BYTES.
 */
export class Collected {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  /** Bytes taken from the budget: none until the answer grows (or declares itself) past RESERVE_FROM_BYTES. */
  private taken = 0;
  private noRoom: 'busy' | 'never' | undefined;

  constructor(
    private readonly limitBytes: number,
    private readonly budget?: ByteBudget,
  ) {}

  /** A declared content-length (NaN: none), before anything is read: past RESERVE_FROM_BYTES it is taken at once; false: no room. */
  reserve(declared: number): boolean {
    return !(declared > RESERVE_FROM_BYTES) || this.take(Math.min(declared, this.limitBytes));
  }

  add(part: Uint8Array): boolean {
    const size = this.size + part.length;
    if (size > this.limitBytes) {
      this.parts.push(part.subarray(0, this.limitBytes - this.size));
      this.size = this.limitBytes;
      return false;
    }
    if (size > RESERVE_FROM_BYTES && !this.take(size)) return false;
    this.size = size;
    this.parts.push(part);
    return true;
  }

  /** Holds `upTo` bytes of the budget in all (what is already held counts). */
  private take(upTo: number): boolean {
    const budget = this.budget;
    if (budget === undefined || upTo <= this.taken) return true;
    if (budget.tryTake(upTo - this.taken)) {
      this.taken = upTo;
      return true;
    }
    this.noRoom = upTo > budget.capacity ? 'never' : 'busy';
    return false;
  }

  /** The read failed or stopped short: what it took goes back at once (nobody holds the answer). */
  abandon(): void {
    if (this.taken === 0) return;
    this.budget?.give(this.taken);
    this.taken = 0;
  }

  /** `encoding`: the answer's content-encoding, decoded for an error answer (see decodedErrorText). */
  result(complete: boolean, encoding?: string): CappedText {
    if (this.taken > 0 || this.noRoom !== undefined) return this.budgeted(complete);
    const { parts, size, limitBytes } = this;
    const decoder = encoding === undefined ? undefined : ERROR_DECODERS[encoding.trim().toLowerCase()];
    if (decoder === undefined) return { complete, text: () => Buffer.concat(parts, size).toString('utf8') };
    return { complete, text: () => decodedErrorText(Buffer.concat(parts, size), encoding ?? '', decoder, limitBytes) };
  }

  /** A success that took bytes of the budget (or found no room): only a complete one keeps them. */
  private budgeted(complete: boolean): CappedText {
    const { parts, size, budget, noRoom } = this;
    const text = (): string => Buffer.concat(parts, size).toString('utf8');
    if (!complete || budget === undefined) {
      this.abandon();
      return noRoom === undefined ? { complete, text } : { complete, text, noRoom };
    }
    const held = heldBytes(budget, this.taken);
    this.taken = 0;
    return { complete, text, held };
  }
}

type SyncDecoder = (bytes: Buffer, maxOutputLength: number) => Buffer;

// What was read may be cut short: decoded as far as it goes (a sync flush), not refused as truncated.
const ERROR_DECODERS: Readonly<Record<string, SyncDecoder>> = {
  gzip: (b, max) => gunzipSync(b, { maxOutputLength: max, finishFlush: zlibConstants.Z_SYNC_FLUSH }),
  'x-gzip': (b, max) => gunzipSync(b, { maxOutputLength: max, finishFlush: zlibConstants.Z_SYNC_FLUSH }),
  deflate: (b, max) => inflateSync(b, { maxOutputLength: max, finishFlush: zlibConstants.Z_SYNC_FLUSH }),
  br: (b, max) => brotliDecompressSync(b, { maxOutputLength: max, finishFlush: zlibConstants.BROTLI_OPERATION_FLUSH }),
};

/**
 * An upstream's compressed error answer as text, decoded to at most `maxBytes`: the gateway may not
 * have asked for it compressed, but a proxy in front of the upstream can compress it all the same.
 * Read raw, its message reached the client as bytes of gzip. One that cannot be decoded, or decodes
 * past the bound (a bomb), is said to be so.
 */
function decodedErrorText(bytes: Buffer, encoding: string, decode: SyncDecoder, maxBytes: number): string {
  try {
    return decode(bytes, maxBytes).toString('utf8');
  } catch {
    return `the upstream's error body is ${encoding}-compressed and could not be decoded within ${maxBytes} bytes`;
  }
}

const ignore = (): void => undefined;

/**
 * Reads a Node stream with its events: what the async iterator does, without a promise and a
 * microtask per chunk (an undici body is one; this is every non-streaming upstream response).
 * Past the limit the stream is destroyed, which for an undici body drops the connection.
 */
function readStream(body: Readable, collected: Collected, encoding: string | undefined): Promise<CappedText> {
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (part: Uint8Array): void => {
      if (collected.add(part)) return;
      settle();
      // An undici body reports its own destruction as an error (RequestAbortedError): expected here.
      body.on('error', ignore);
      body.destroy();
      resolve(collected.result(false, encoding));
    };
    const onEnd = (): void => {
      settle();
      resolve(collected.result(true, encoding));
    };
    const onError = (err: Error): void => {
      settle();
      collected.abandon();
      reject(err);
    };
    // Closed (destroyed) before its end without an error: the body is cut short, as the iterator reports it.
    const onClose = (): void => {
      settle();
      collected.abandon();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    if (body.readableEnded) return resolve(collected.result(true, encoding));
    if (body.destroyed) return reject(body.errored ?? Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/**
 * Reads a response body, counting bytes as they arrive, and stops at `limitBytes`: a Node stream
 * is destroyed there (for an undici body the connection is dropped, nothing more is read), any
 * other iterable is left, which ends its iterator. What was read up to the limit is returned.
 */
export async function readCapped(body: AsyncIterable<Uint8Array>, limitBytes: number, encoding?: string, collected = new Collected(limitBytes)): Promise<CappedText> {
  if (body instanceof Readable) return readStream(body, collected, encoding);
  try {
    for await (const part of body) {
      if (!collected.add(part)) return collected.result(false, encoding);
    }
  } catch (err) {
    collected.abandon();
    throw err;
  }
  return collected.result(true, encoding);
}

/** One header's value (the last, when repeated). */
export function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.at(-1) : value;
}

/** Errors that broke off a successful answer's body (answerCut): few, and let go with them. */
const CUT_ANSWERS = new WeakSet<object>();

/**
 * Marks (and returns) an error that broke off a successful answer's body: the upstream had taken the
 * request, done its work and started its answer, so it billed it, whatever was read of it.
 */
export function answerCut(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) CUT_ANSWERS.add(err);
  return err;
}

/** Whether a thrown error broke off a successful answer (answerCut). */
export function isAnswerCut(err: unknown): boolean {
  return typeof err === 'object' && err !== null && CUT_ANSWERS.has(err);
}

/** A success refused from its declared length: nothing of it was read. */
export const NOTHING_READ: CappedText = { complete: false, text: () => '' };

/**
 * A sent request's whole answer, as far as its limits allow: a success is refused from its declared
 * length before a byte is read (the connection is released unread), past its limit or when the
 * process's budget for large answers has no room for it, and read up to `limitBytes`; any other
 * status up to `errorLimitBytes`.
 */
export async function readWhole(res: UpstreamResponse, opts: Pick<WholeOptions, 'limitBytes' | 'errorLimitBytes' | 'budget'>): Promise<WholeResponse> {
  if (res.status < 200 || res.status >= 300) {
    return { status: res.status, headers: res.headers, body: await readCapped(res.body, opts.errorLimitBytes, headerText(res.headers['content-encoding'])) };
  }
  const declared = Number(res.headers['content-length']);
  if (declared > opts.limitBytes) {
    res.discard();
    return { status: res.status, headers: res.headers, body: NOTHING_READ };
  }
  const collected = new Collected(opts.limitBytes, opts.budget);
  if (!collected.reserve(declared)) {
    res.discard();
    return { status: res.status, headers: res.headers, body: collected.result(false) };
  }
  try {
    return { status: res.status, headers: res.headers, body: await readCapped(res.body, opts.limitBytes, undefined, collected) };
  } catch (err) {
    throw answerCut(err);
  }
}

/** One attempt whose whole answer is wanted: the transport's own sendForWhole when it has one, else `send` and readWhole. */
export function sendForWhole(transport: Transport, req: UpstreamHttpRequest, opts: WholeOptions): Promise<WholeResponse> {
  if (transport.sendForWhole !== undefined) return transport.sendForWhole(req, opts);
  return transport.send(req, opts).then((res) => readWhole(res, opts));
}
