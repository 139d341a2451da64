import type { HeaderMap, UpstreamHttpRequest } from '../core/canonical.js';
import type { ByteBudget } from '../core/byte-budget.js';
import type { UpstreamSignal } from './attempt-signal.js';

export interface UpstreamResponse {
  status: number;
  headers: HeaderMap;
  /**
   * Read it with readCapped (upstream/read-capped.ts) unless it is a stream: nothing reads a body
   * unbounded. A reader that leaves before the end drops the connection, unless discard() came first.
   */
  body: AsyncIterable<Uint8Array>;
  /** Release the connection without reading the rest (the reader, if any, may leave afterwards). */
  discard(): void;
}

export interface SendOptions {
  signal: UpstreamSignal;
  connectTimeoutMs: number;
}

/** A body read up to a limit: `complete` is false when more bytes followed (they were not read). */
export interface CappedText {
  complete: boolean;
  /** The bytes read, decoded on demand (a body refused for its size is never decoded). */
  text(): string;
  /**
   * `complete` false because the process's budget for large answers (WholeOptions.budget) had no
   * room for this one: `busy` while others hold it, `never` when it alone is larger than the budget.
   */
  noRoom?: 'busy' | 'never';
  /**
   * A complete answer past RESERVE_FROM_BYTES holds its bytes of that budget until this is called
   * (once it is no longer held); smaller answers take nothing and have none.
   */
  held?: () => void;
}

export interface WholeOptions extends SendOptions {
  /** A successful (2xx) body is read up to this many bytes, and refused at once when its content-length says more. */
  limitBytes: number;
  /** Any other status's body is read up to this many bytes (as far as an error message goes). */
  errorLimitBytes: number;
  /**
   * Bytes of large successful answers that the process holds at once, shared by every request
   * (--max-inflight-response-bytes): an answer takes its bytes once it grows past RESERVE_FROM_BYTES
   * (a declared content-length past it, before anything is read); one that does not fit is not read
   * further (CappedText.noRoom). Error bodies (16 KiB at most) never take any.
   */
  budget?: ByteBudget | undefined;
}

/** A complete answer, read as far as its limit (WholeOptions); past the limit nothing more was read. */
export interface WholeResponse {
  status: number;
  headers: HeaderMap;
  /** `complete` false: the body went on past its limit, or (a success) its content-length was over it and nothing was read. */
  body: CappedText;
}

/** Sends one attempt. The HTTP transport is the real one; the mock provider answers in process. */
export interface Transport {
  send(req: UpstreamHttpRequest, opts: SendOptions): Promise<UpstreamResponse>;
  /**
   * Sends one attempt whose whole answer is wanted (not a stream), reading it as far as the limits
   * allow; a transport that can do this cheaper than `send` and readCapped says so by having it.
   * Without it, sendForWhole (upstream/read-capped.ts) does it with `send`.
   */
  sendForWhole?(req: UpstreamHttpRequest, opts: WholeOptions): Promise<WholeResponse>;
}
