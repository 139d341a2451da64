import type { FailureKind } from '../config/snapshot.js';
import type { SseEvent } from '../sse/sse-parser.js';

export type JsonObject = { [key: string]: unknown };

export type Operation = 'chat' | 'completions' | 'embeddings';

/** A client request in canonical (OpenAI) form, already validated. */
export interface CanonicalRequest {
  op: Operation;
  body: JsonObject;
  stream: boolean;
  /** The client asked for the usage chunk (stream_options.include_usage). */
  clientWantsUsage: boolean;
}

/** Where and as whom one attempt is sent. */
export interface AdapterTarget {
  baseUrl: string;
  model: string;
  apiKey?: string;
  headers: Record<string, string>;
}

export interface UpstreamHttpRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

/** Tokens as OpenAI counts them: cached input is part of input. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
}

/** A failed attempt, classified so that retry and fallback rules work the same for every provider. */
export interface UpstreamFailure {
  kind: FailureKind | 'ClientError';
  /** Upstream HTTP status, or 0 when no response arrived. */
  status: number;
  message: string;
  retryAfterMs?: number;
  /** The provider's error in OpenAI form, relayed to the client for ClientError. */
  clientBody?: JsonObject;
}

export type ParseResult = { ok: true; body: JsonObject; usage?: Usage } | { ok: false; failure: UpstreamFailure };

/** What one upstream stream event turned into. */
export interface StreamStep {
  chunks: JsonObject[];
  usage?: Usage;
  failure?: UpstreamFailure;
  done?: boolean;
}

export interface StreamTransformer {
  onEvent(event: SseEvent): StreamStep;
  onEnd(): StreamStep;
}

export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * One per provider wire format. Adapters translate and classify; they do no I/O and never see the
 * HTTP framework or client.
 */
export interface ProviderAdapter {
  buildRequest(req: CanonicalRequest, target: AdapterTarget): UpstreamHttpRequest;
  parseResponse(req: CanonicalRequest, status: number, headers: HeaderMap, bodyText: string): ParseResult;
  classifyError(status: number, headers: HeaderMap, bodyText: string): UpstreamFailure;
  createStreamTransformer(req: CanonicalRequest): StreamTransformer;
}
