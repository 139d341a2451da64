import type { HeaderMap, UpstreamHttpRequest } from '../providers/types.js';

export interface UpstreamResponse {
  status: number;
  headers: HeaderMap;
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
  /** Release the connection without reading the rest. */
  discard(): void;
}

export interface SendOptions {
  signal: AbortSignal;
  connectTimeoutMs: number;
}

/** Sends one attempt. The HTTP transport is the real one; the mock provider answers in process. */
export interface Transport {
  send(req: UpstreamHttpRequest, opts: SendOptions): Promise<UpstreamResponse>;
}
