import type { FailureKind, ProviderConfig } from '../config/snapshot.js';
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
  /** Unix seconds when the gateway received the request; translated responses use it as `created`. */
  createdAt?: number;
}

/** Provider-specific settings from the snapshot (API versions, regions, projects, cloud credentials). */
export type ProviderSettings = Pick<ProviderConfig, 'anthropic' | 'azure' | 'bedrock' | 'vertex'>;

/** Where and as whom one attempt is sent. */
export interface AdapterTarget {
  baseUrl: string;
  model: string;
  apiKey?: string;
  headers: Record<string, string>;
  settings?: ProviderSettings;
  /** A bearer token minted outside the adapter (see AccessTokenSource), for providers that need one. */
  accessToken?: string;
  /** The attempt's clock in ms since the epoch, for request signing: adapters never read the clock. */
  nowMs?: number;
}

/**
 * Thrown by buildRequest when the canonical request cannot be expressed in the provider's format
 * (e.g. tool call arguments that are not JSON). The attempt turns it into a client error (400).
 */
export class RequestTranslationError extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'RequestTranslationError';
  }
}

/** Mints and caches bearer tokens (I/O, outside the adapters); the attempt calls it before buildRequest. */
export interface AccessTokenSource {
  token(signal: AbortSignal): Promise<string>;
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
  /**
   * Input tokens written to the provider's prompt cache (Anthropic cache_creation_input_tokens,
   * Bedrock cacheWriteInputTokens): part of inputTokens, not of cachedInputTokens. Set only by
   * providers that report them; metering prices them as input.
   */
  cacheWriteTokens?: number;
}

/** A failed attempt, classified so that retry and fallback rules work the same for every provider. */
export interface UpstreamFailure {
  /**
   * ClientError: the upstream refused the request as invalid. ResponseTooLarge: the answer passed
   * the route's size limits (config/route-limits.ts). Neither is retried, falls back, or counts
   * against the target's health: both follow from the request, not from the target.
   */
  kind: FailureKind | 'ClientError' | 'ResponseTooLarge';
  /** Upstream HTTP status, or 0 when no response arrived. */
  status: number;
  message: string;
  retryAfterMs?: number;
  /** The provider's error in OpenAI form, relayed to the client for ClientError. */
  clientBody?: JsonObject;
  /** The gateway failed before sending anything upstream (e.g. translating the request): no verdict on the target's health. */
  local?: true;
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

/** For streams that are not SSE (AWS event-stream framing): raw bytes in, steps out. */
export interface ByteStreamTransformer {
  onBytes(bytes: Uint8Array): StreamStep[];
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
  /** Providers whose streams are not SSE decode the bytes themselves; used instead of the SSE parser when present. */
  createByteStreamTransformer?(req: CanonicalRequest): ByteStreamTransformer;
  /** The output cap this adapter sends when the client sets none (budgets reserve for it); absent = the upstream's own default. */
  defaultOutputCap?(settings: ProviderSettings): number;
}
