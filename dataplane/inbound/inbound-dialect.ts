import type { CanonicalRequest, JsonObject, UpstreamFailure, Usage } from '../core/canonical.js';
import type { GatewayError } from '../core/gateway-error.js';

/** The upstream sent nothing for the route's streamIdleMs (handed to StreamEncoder.failure). */
export class StreamIdleTimeout extends Error {
  constructor(readonly ms: number) {
    super(`upstream sent no chunk for ${ms} ms`);
    this.name = 'StreamIdleTimeout';
  }
}

/** How a client API writes a stream; every method returns SSE text. One encoder per response. */
export interface StreamEncoder {
  /** `raw`: the upstream's own text of the chunk when unchanged (StreamStep.raw); a canonical client gets it as is. */
  chunk(chunk: JsonObject, raw?: string): string;
  usage?(usage: Usage): void;
  /**
   * Usage the upstream reported before its end (StreamStep.partialUsage: Anthropic's message_start),
   * given before the step's chunks are encoded: an API that announces input tokens at the start
   * announces the upstream's count rather than the gateway's estimate.
   */
  earlyUsage?(usage: Usage): void;
  /** The stream ended normally. */
  end(): string;
  /** The upstream failed after the first byte (or went silent). */
  failure(failure: UpstreamFailure | Error): string;
  /** A budget's hard cap was crossed. */
  cut(reason: string): string;
  /** The encoder has ended the stream itself (what it keeps passed its bound): nothing more is written. */
  readonly finished?: boolean;
}

/** One parsed client request: the canonical request, and how its answer is written back in the client's API. */
export interface InboundRequest {
  request: CanonicalRequest;
  /** A complete canonical response body, as the client expects it (`usage`: what was charged). */
  responseBody(body: JsonObject, usage: Usage): unknown;
  /**
   * A fresh encoder for a streamed answer (canonical chunks in, the client's SSE out).
   * `maxKeptBytes`: the route's maxResponseBytes, for an API whose encoder keeps the answer.
   * `estimatedInputTokens`: the gateway's estimate of the prompt, for an API that announces input
   * tokens before the upstream has counted them.
   */
  streamEncoder(maxKeptBytes: number, estimatedInputTokens: number): StreamEncoder;
  /** Headers the client API adds to a served answer (e.g. Anthropic's request-id). */
  headers?(requestId: string): Record<string, string>;
}

/**
 * A public client API (OpenAI Chat/Completions/Embeddings, Anthropic Messages, …). Every dialect is
 * an equal: the same stages route, admit and meter the canonical request; one write-back path
 * (server/write-reply.ts) writes the answer through the dialect.
 */
export interface InboundDialect {
  readonly name: string;
  /** Whether the response cache may answer (its entries are canonical, replayed through streamEncoder). */
  readonly cacheable: boolean;
  /** The parsed JSON body (and the request's headers, by lower-case name) → the canonical request. Throws a GatewayError (400) whose message is for people. */
  parse(body: unknown, receivedAtSeconds: number, header?: (name: string) => string | undefined): InboundRequest;
  /** A refusal or failure as this API's clients expect its JSON body; `requestId` the id the answer is named by, when it is. */
  errorBody(err: GatewayError, requestId?: string): unknown;
}
