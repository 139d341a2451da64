import { Agent, request, util as undiciUtil } from '../config/undici.js';
import { guardedConnector } from '../config/guarded-connector.js';
import type { UpstreamSignal } from './attempt-signal.js';
import { answerCut, Collected, headerText, NOTHING_READ, readWhole } from './read-capped.js';
import type { SendOptions, Transport, UpstreamResponse, WholeOptions, WholeResponse } from './transport.js';
import type { HeaderMap, UpstreamHttpRequest } from '../core/canonical.js';

/** Where a request goes, as undici's dispatch takes it. */
interface Destination {
  origin: string;
  path: string;
}

/** Distinct upstream URLs remembered split; past this the memory starts over (snapshots change the set). */
const MAX_DESTINATIONS = 1024;

/** Listens for `signal`'s abort once; returns the function that stops listening. */
function onAbort(signal: UpstreamSignal, listener: () => void): () => void {
  if (signal instanceof AbortSignal) {
    signal.addEventListener('abort', listener, { once: true });
    return () => signal.removeEventListener('abort', listener);
  }
  signal.once('abort', listener);
  return () => signal.removeListener('abort', listener);
}

/** Why a request stopped with its signal: the signal's reason, as undici reports it. */
function abortReason(signal: UpstreamSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('This operation was aborted', { cause: reason });
}

/**
 * undici's dispatch handler for an answer read whole: the body's bytes are collected as they
 * arrive, up to the limit for its status, without the Readable stream, the async resource and the
 * listeners undici's `request()` makes per request. Past the limit (or when a success declares a
 * larger content-length) the request is aborted, which drops the connection: nothing more is read.
 */
class WholeBodyHandler {
  private abortRequest: ((err: Error) => void) | undefined;
  private stopListening: (() => void) | undefined;
  private settled = false;
  private status = 0;
  private headers: HeaderMap = {};
  private collected: Collected | undefined;

  constructor(
    private readonly opts: WholeOptions,
    private readonly resolve: (res: WholeResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    if (!opts.signal.aborted) {
      this.stopListening = onAbort(opts.signal, () => {
        this.stopListening = undefined;
        this.abortRequest?.(abortReason(opts.signal));
      });
    }
  }

  onConnect(abort: (err: Error) => void): void {
    if (this.opts.signal.aborted) abort(abortReason(this.opts.signal));
    else this.abortRequest = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[]): boolean {
    // 1xx: informational, the answer follows.
    if (status < 200) return true;
    this.status = status;
    this.headers = undiciUtil.parseHeaders(rawHeaders) as HeaderMap;
    if (status >= 300) {
      this.collected = new Collected(this.opts.errorLimitBytes);
      return true;
    }
    const declared = Number(this.headers['content-length']);
    if (declared > this.opts.limitBytes) {
      this.done(NOTHING_READ);
      return false;
    }
    // Only a success counts against the process's budget for large answers (an error body is 16 KiB at most).
    const collected = new Collected(this.opts.limitBytes, this.opts.budget);
    this.collected = collected;
    if (collected.reserve(declared)) return true;
    this.done(collected.result(false));
    return false;
  }

  onData(chunk: Buffer): boolean {
    const collected = this.collected;
    if (collected === undefined || this.settled) return false;
    if (collected.add(chunk)) return true;
    this.done(collected.result(false, this.errorEncoding()));
    return false;
  }

  onComplete(): void {
    const collected = this.collected ?? new Collected(0);
    this.done(collected.result(true, this.errorEncoding()));
  }

  /** An error answer's content-encoding, decoded for its message; a success is never decoded here. */
  private errorEncoding(): string | undefined {
    return this.status >= 200 && this.status < 300 ? undefined : headerText(this.headers['content-encoding']);
  }

  onError(err: Error): void {
    this.stopListening?.();
    this.stopListening = undefined;
    if (this.settled) return;
    this.settled = true;
    this.collected?.abandon();
    // After a success's headers the upstream had done the work: marked, so that the attempt is charged.
    this.reject(this.status >= 200 && this.status < 300 ? answerCut(err) : err);
  }

  /** The answer is decided: resolves it, and drops the connection when the body was not read to its end. */
  private done(body: WholeResponse['body']): void {
    if (this.settled) return;
    this.settled = true;
    this.stopListening?.();
    this.stopListening = undefined;
    this.resolve({ status: this.status, headers: this.headers, body });
    if (!body.complete) this.abortRequest?.(new Error('upstream response over its limit: not read further'));
  }
}

/** Unread bytes a streamed body queues before the upstream is paused (as much as undici's own body holds). */
const STREAM_HIGH_WATER_BYTES = 64 * 1024;
/** Bytes of a discarded body read and dropped to keep its connection; past this it is closed instead. */
const DISCARD_LIMIT_BYTES = 128 * 1024;
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * undici's dispatch handler for an answer read as it arrives (a stream), and that answer: its body
 * is an async iterator over the chunks, queued until read (the upstream paused while 64 KiB wait
 * unread). One object per request, instead of the Readable, its async iterator (a generator and
 * the end-of-stream listeners) and the request handler that undici's `request()` keeps for as long
 * as a stream is held open; each chunk goes to a waiting reader at once, without a stream's
 * buffering and events. A reader that leaves before the end (its `return()`) drops the connection,
 * unless `discard()` was called first: then the rest is read and dropped, and the connection kept.
 */
class StreamedAnswer implements UpstreamResponse, AsyncIterableIterator<Uint8Array> {
  status = 0;
  headers: HeaderMap = {};
  private abortRequest: ((err: Error) => void) | undefined;
  private stopListening: (() => void) | undefined;
  private resumeReading: (() => void) | undefined;
  private paused = false;
  private answered = false;
  private ended = false;
  private discarding = false;
  private discardedBytes = 0;
  private failure: Error | undefined;
  private queue: Uint8Array[] | undefined;
  private queuedBytes = 0;
  private reader: { resolve: (r: IteratorResult<Uint8Array, undefined>) => void; reject: (err: unknown) => void } | undefined;

  constructor(
    private readonly signal: UpstreamSignal,
    private resolveAnswer: ((res: UpstreamResponse) => void) | undefined,
    private rejectAnswer: ((err: unknown) => void) | undefined,
  ) {
    if (!signal.aborted) {
      this.stopListening = onAbort(signal, () => {
        this.stopListening = undefined;
        this.abortRequest?.(abortReason(signal));
      });
    }
  }

  get body(): AsyncIterable<Uint8Array> {
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array, undefined>> {
    const queue = this.queue;
    if (queue !== undefined && queue.length > 0) {
      const value = queue.shift() as Uint8Array;
      this.queuedBytes -= value.byteLength;
      if (this.paused && queue.length === 0) {
        this.paused = false;
        this.resumeReading?.();
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.reader = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<Uint8Array, undefined>> {
    this.queue = undefined;
    this.queuedBytes = 0;
    if (!this.ended && !this.discarding && this.failure === undefined) this.abortRequest?.(new Error('upstream answer left before its end: not read further'));
    return Promise.resolve(DONE);
  }

  discard(): void {
    if (this.ended || this.discarding) return;
    this.discarding = true;
    this.queue = undefined;
    this.queuedBytes = 0;
    if (this.paused) {
      this.paused = false;
      this.resumeReading?.();
    }
  }

  onConnect(abort: (err: Error) => void): void {
    if (this.signal.aborted) abort(abortReason(this.signal));
    else this.abortRequest = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx: informational, the answer follows.
    if (status < 200) return true;
    this.status = status;
    this.headers = undiciUtil.parseHeaders(rawHeaders) as HeaderMap;
    this.resumeReading = resume;
    this.answered = true;
    const answer = this.resolveAnswer;
    this.resolveAnswer = undefined;
    this.rejectAnswer = undefined;
    answer?.(this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding) {
      this.discardedBytes += chunk.byteLength;
      if (this.discardedBytes <= DISCARD_LIMIT_BYTES) return true;
      this.abortRequest?.(new Error('discarded upstream answer over its limit: not read further'));
      return false;
    }
    const reader = this.reader;
    if (reader !== undefined) {
      this.reader = undefined;
      reader.resolve({ done: false, value: chunk });
      return true;
    }
    (this.queue ??= []).push(chunk);
    this.queuedBytes += chunk.byteLength;
    if (this.queuedBytes < STREAM_HIGH_WATER_BYTES) return true;
    this.paused = true;
    return false;
  }

  onComplete(): void {
    this.ended = true;
    this.settle();
    const reader = this.reader;
    this.reader = undefined;
    reader?.resolve(DONE);
  }

  onError(err: Error): void {
    this.settle();
    if (!this.answered) {
      const reject = this.rejectAnswer;
      this.resolveAnswer = undefined;
      this.rejectAnswer = undefined;
      reject?.(err);
      return;
    }
    if (this.ended || this.discarding) return;
    this.failure = err;
    const reader = this.reader;
    this.reader = undefined;
    reader?.reject(err);
  }

  private settle(): void {
    this.stopListening?.();
    this.stopListening = undefined;
    this.abortRequest = undefined;
    this.resumeReading = undefined;
  }
}

/**
 * Agents kept at once, one per connect timeout, the least recently used closed past this. The
 * timeout is a tenant's (a Provider's `timeouts.connect`, a guardrail webhook's `timeoutMs`), any
 * number of milliseconds: an Agent per value ever configured grew without end.
 */
export const MAX_AGENTS = 16;

/**
 * Pooled keep-alive HTTP/1.1 client. One undici Agent per connect timeout (a handful in practice,
 * MAX_AGENTS at most); each Agent keeps a pool per origin, so connections survive snapshot swaps.
 */
export class HttpTransport implements Transport {
  /** In order of use, the most recent last. */
  private readonly agents = new Map<number, Agent>();
  private lastTimeout: number | undefined;
  private readonly destinations = new Map<string, Destination | undefined>();

  /** The connect timeouts with an Agent, the least recently used first (for tests). */
  get agentTimeouts(): number[] {
    return [...this.agents.keys()];
  }

  private agent(connectTimeoutMs: number): Agent {
    let agent = this.agents.get(connectTimeoutMs);
    if (agent !== undefined && this.lastTimeout !== connectTimeoutMs) {
      this.agents.delete(connectTimeoutMs);
      this.agents.set(connectTimeoutMs, agent);
      this.lastTimeout = connectTimeoutMs;
    }
    if (agent === undefined) {
      if (this.agents.size >= MAX_AGENTS) {
        const [oldest, evicted] = this.agents.entries().next().value as [number, Agent];
        this.agents.delete(oldest);
        // Its requests in flight finish; it takes no new one (this map no longer hands it out).
        void evicted.close().catch(() => undefined);
      }
      this.lastTimeout = connectTimeoutMs;
      agent = new Agent({
        // Every upstream URL is a tenant's (a Provider's url, a Vertex key's token_uri, a guardrail
        // webhook): never a cloud metadata or other link-local address.
        connect: guardedConnector(connectTimeoutMs),
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        // The router owns timeouts (attempt, total, stream idle) through abort signals.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.agents.set(connectTimeoutMs, agent);
    }
    return agent;
  }

  /**
   * An http(s) URL split into origin and path, once per distinct URL (they come from the snapshot);
   * undefined for anything else, which goes through undici's own URL checks and their errors.
   */
  private destination(url: string): Destination | undefined {
    if (this.destinations.has(url)) return this.destinations.get(url);
    let dest: Destination | undefined;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') dest = { origin: parsed.origin, path: parsed.pathname + parsed.search };
    } catch {
      dest = undefined;
    }
    if (this.destinations.size >= MAX_DESTINATIONS) this.destinations.clear();
    this.destinations.set(url, dest);
    return dest;
  }

  send(req: UpstreamHttpRequest, opts: SendOptions): Promise<UpstreamResponse> {
    const dest = this.destination(req.url);
    if (dest === undefined) return this.sendChecked(req, opts);
    const agent = this.agent(opts.connectTimeoutMs);
    return new Promise((resolve, reject) => {
      agent.dispatch({ ...dest, method: req.method, headers: req.headers, body: req.body }, new StreamedAnswer(opts.signal, resolve, reject));
    });
  }

  /** A URL that did not split (not http or https): through undici's request(), whose checks say what is wrong with it. */
  private async sendChecked(req: UpstreamHttpRequest, opts: SendOptions): Promise<UpstreamResponse> {
    const res = await request(req.url, { method: req.method, headers: req.headers, body: req.body, signal: opts.signal, dispatcher: this.agent(opts.connectTimeoutMs) });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: res.body,
      discard: () => {
        res.body.dump().catch(() => undefined);
      },
    };
  }

  sendForWhole(req: UpstreamHttpRequest, opts: WholeOptions): Promise<WholeResponse> {
    const dest = this.destination(req.url);
    if (dest === undefined) return this.send(req, opts).then((res) => readWhole(res, opts));
    const agent = this.agent(opts.connectTimeoutMs);
    return new Promise((resolve, reject) => {
      agent.dispatch({ ...dest, method: req.method, headers: req.headers, body: req.body }, new WholeBodyHandler(opts, resolve, reject));
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }

  /**
   * Ends every request still in flight with `reason` and closes the connections: close() waits for
   * them, and a shutdown cannot wait for an answer slower than its deadline.
   */
  async destroy(reason: Error): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((a) => a.destroy(reason).catch(() => undefined)));
  }
}
