import type { HeaderMap, UpstreamHttpRequest } from '../core/canonical.js';
import type { UpstreamSignal } from './attempt-signal.js';

export interface UpstreamResponse {
  status: number;
  headers: HeaderMap;
  /** Read it with readCapped (upstream/read-capped.ts) unless it is a stream: nothing reads a body unbounded. */
  body: AsyncIterable<Uint8Array>;
  /** Release the connection without reading the rest. */
  discard(): void;
}

export interface SendOptions {
  signal: UpstreamSignal;
  connectTimeoutMs: number;
}

/** Sends one attempt. The HTTP transport is the real one; the mock provider answers in process. */
export interface Transport {
  send(req: UpstreamHttpRequest, opts: SendOptions): Promise<UpstreamResponse>;
}
