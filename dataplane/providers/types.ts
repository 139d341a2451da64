import type { ProviderSettings } from './contracts.js';
import type { CanonicalRequest, HeaderMap, JsonObject, NativeApi, ParseResult, StreamStep, UpstreamFailure, UpstreamHttpRequest } from '../core/canonical.js';
import type { JsonShapeLimits } from '../core/json-shape.js';
import type { SseEvent } from '../sse/sse-parser.js';
import type { UpstreamSignal } from '../upstream/attempt-signal.js';

export type { ProviderSettings };

/**
 * The load of one self-hosted pod, as its metrics page reports it (see ProviderKind.podMetrics in
 * the registry): what load-aware pod picking reads. Absent fields were not reported.
 */
export interface PodLoad {
  /** Requests queued, not yet scheduled (summed over engines). */
  waiting?: number;
  /** Requests in the running batch (summed over engines). */
  running?: number;
  /** KV-cache usage, 0..1 (averaged over engines). */
  kvCacheUsage?: number;
  /** LoRA adapters loaded and waiting; absent when the server does not serve adapters. */
  lora?: LoraLoad;
}

export interface LoraLoad {
  running: string[];
  waiting: string[];
  /** Most adapters in one batch. */
  maxLora: number;
}

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
  token(signal: UpstreamSignal): Promise<string>;
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

/**
 * One per provider wire format. Adapters translate and classify; they do no I/O and never see the
 * HTTP framework or client.
 */
export interface ProviderAdapter {
  buildRequest(req: CanonicalRequest, target: AdapterTarget): UpstreamHttpRequest;
  /**
   * `secrets` (the provider's credentials) are for upstream text relayed as part of a successful
   * answer (a failed Response's error), which the attempt's scrub of failures does not see.
   */
  parseResponse(req: CanonicalRequest, status: number, headers: HeaderMap, bodyText: string, secrets?: readonly string[]): ParseResult;
  classifyError(status: number, headers: HeaderMap, bodyText: string): UpstreamFailure;
  createStreamTransformer(req: CanonicalRequest, secrets?: readonly string[]): StreamTransformer;
  /**
   * Providers whose streams are not SSE decode the bytes themselves; used instead of the SSE parser
   * when present. `headers`: the stream response's (its request id names the answer). `shape`: the
   * route's bounds on each event's JSON, checked (core/json-shape.ts) before it is parsed; the SSE
   * path checks them for every adapter before onEvent.
   */
  createByteStreamTransformer?(req: CanonicalRequest, headers: HeaderMap, shape?: JsonShapeLimits): ByteStreamTransformer;
  /**
   * Whether the model makes output this request's stream never shows (an OpenAI reasoning model's
   * reasoning; Claude's or Gemini's thinking, summarized or left out): a stream cut before its usage
   * is then charged a bound on it (metering/reasoning-bound.ts). Absent: it shows all it bills.
   * `settings`: the Provider's, which may say what a model id names (Bedrock's `modelFamilies` for
   * an ARN that names no model), as buildRequest reads them.
   */
  reasonsUnseen?(req: CanonicalRequest, model: string, settings?: ProviderSettings): boolean;
  /** The output cap this adapter sends when the client sets none (budgets reserve for it); absent = the upstream's own default. */
  defaultOutputCap?(settings: ProviderSettings): number;
  /** Client APIs the upstream serves as they are: a request carrying one (CanonicalRequest.native) is forwarded untranslated. */
  nativeApis?: readonly NativeApi[];
  /** The upstream counts a Messages API request's input tokens itself (POST /v1/messages/count_tokens); absent: the gateway estimates. */
  countTokens?: TokenCounter;
}

/** An upstream's own token count of a Messages API body (Anthropic's count_tokens). */
export interface TokenCounter {
  /** `body`: the client's Messages API body; its `model` becomes the target's. `betas`: the client's `anthropic-beta` values. */
  buildRequest(body: JsonObject, target: AdapterTarget, betas?: readonly string[]): UpstreamHttpRequest;
  parseResponse(status: number, headers: HeaderMap, bodyText: string): { ok: true; inputTokens: number } | { ok: false; failure: UpstreamFailure };
}

/** How a provider serves OpenAI's pass-through paths and the Realtime WebSocket untranslated (server/passthrough, server/realtime). */
export interface PathForwarding {
  /**
   * The upstream URL of a public path (`/v1/images/generations`, vLLM's root `/tokenize`,
   * `/v1/realtime` as ws/wss) with the client's query, a `model` in it being the target's (a
   * Realtime session's always names one); undefined
   * when the provider does not serve that path.
   */
  url(path: string, query: URLSearchParams, target: AdapterTarget): URL | undefined;
  /**
   * The model a request body (a JSON body's `model`, a form's `model` field) names at this upstream
   * on `path`; absent: the target's model. Azure's v1 API names the deployment there.
   */
  bodyModel?(path: string, target: AdapterTarget): string;
  /**
   * The model each request of a batch's input file names at this upstream (`body.model` of its
   * lines, run as it is: the gateway cannot rewrite a stored file); absent: the target's model.
   * Azure OpenAI's batches name the deployment.
   */
  batchModel?(target: AdapterTarget): string;
  /** The Provider's credential (and configured headers) as request headers. */
  headers(target: AdapterTarget): Record<string, string>;
}
