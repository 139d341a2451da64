import type { FailureKind } from '../config/snapshot.js';

/**
 * The data plane's shared vocabulary: a request in canonical (OpenAI) form, what an upstream answered,
 * and the usage it reported. Every layer above speaks these types; none of them knows a provider.
 */

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
  /** The client's request in an API some upstreams serve as it is; targets that speak it get this instead of `body`. */
  native?: NativeRequest;
  /**
   * The body was translated from another client API and may carry the canonical extensions, which
   * OpenAI's wire has not (providers/shared/openai-wire.ts lists them): an OpenAI-wire target gets
   * them restated or removed. Absent for an OpenAI client's body, which is forwarded as it was sent.
   */
  extended?: true;
  /**
   * The client API the body was translated from, when its client does not speak OpenAI's: a
   * /v1/messages client cannot know its route ends at an OpenAI model, so OpenAI-wire targets leave
   * out what such a model would refuse (providers/openai/openai-platform.ts). Absent for OpenAI's
   * own APIs (chat, and Responses translated to chat): their clients get the upstream's answer as
   * OpenAI would give it. Kept apart from `extended`, which says only what the body may carry.
   */
  translatedFrom?: 'messages';
  /**
   * Opt-in API features the client named (the values of its `anthropic-beta` header): a target whose
   * API takes such flags sends them beside the ones its Provider configures; the others ignore them.
   */
  betas?: readonly string[];
}

/** Client APIs forwarded untranslated to targets that speak them (the others get the canonical translation). */
export type NativeApi = 'responses';

/** The client's own request, for a target that serves its API natively. */
export interface NativeRequest {
  api: NativeApi;
  body: JsonObject;
  /**
   * Why only a native target can serve it (state kept upstream, a feature with no translation),
   * as the 400 a client gets when the route has no such target; absent when the translation is whole.
   */
  requires?: { message: string; param: string };
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
  /**
   * Of cacheWriteTokens, those written for an hour rather than five minutes (Anthropic
   * cache_creation.ephemeral_1h_input_tokens, Bedrock cacheDetails ttl 1h): billed at 2× input, not 1.25×.
   */
  cacheWrite1hTokens?: number;
  /**
   * Input tokens that are audio or images, where the upstream reports them (OpenAI
   * prompt_tokens_details, Realtime input_token_details, gpt-image input_tokens_details, Gemini
   * promptTokensDetails): part of inputTokens, and of the uncached ones as far as the upstream
   * says which were cached (where it does not, metering takes cached tokens as text first: a
   * cached audio token is then priced as uncached audio, never the other way round). Metering
   * prices them at the Provider's audio and image input prices.
   */
  audioInputTokens?: number;
  imageInputTokens?: number;
  /**
   * Built-in tool calls the upstream ran and bills per call, outside its token counts (a Response's
   * `web_search_call` and `file_search_call` output items, a chat-completions search model's search,
   * Gemini's grounding with Google Search). Metering adds the Provider's per-call prices.
   */
  webSearchCalls?: number;
  fileSearchCalls?: number;
  /**
   * Code interpreter container sessions the request started, in GB of container memory (a 1 GB
   * session is 1, a 4 GB one 4: OpenAI bills sessions in proportion to their memory). Metering
   * prices each GB at the Provider's per-container price.
   */
  containerGb?: number;
  /** Output tokens that are audio or images (spoken answers, generated images): part of outputTokens. */
  audioOutputTokens?: number;
  imageOutputTokens?: number;
  /**
   * The upstream billed the request at a multiple of its standard prices: OpenAI's `priority`
   * service tier (which the answer reports), charged at 2× as the upper bound of its published
   * prices (1.7–2×). Metering multiplies the token cost by it.
   */
  priceMultiplier?: number;
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
  /** The target's adapter cannot express the request (a local ClientError): another target's may, so the route fails over. */
  untranslatable?: true;
  /**
   * The upstream had the request and may have done (and billed) its work, though it served nobody:
   * `prompt` when a stream's attempt timed out after sending it, `worstCase` when a non-streaming
   * one did (the upstream finishes and bills it), when a non-streaming success broke off in its body,
   * and for a complete answer too large to read. The
   * request is charged for it (pipeline/stages/meter.ts, lost attempts).
   */
  billed?: 'prompt' | 'worstCase';
  /**
   * Of a stream's attempt billed `prompt`: milliseconds from the attempt's start to its failure,
   * in which a model that reasons unseen may have reasoned (charged as a bound on it).
   */
  ranMs?: number;
  /**
   * ResponseTooLarge because the process already holds its maximum of large answers
   * (--max-inflight-response-bytes), not because of this answer's own size: 503 with retry-after.
   */
  overCapacity?: true;
  /**
   * The upstream account is out of quota or credit (OpenAI's 429 `insufficient_quota`): not a rate
   * limit that passes, so the target is not retried (another target may still serve), and a client
   * told so is told not to retry either.
   */
  quotaExhausted?: true;
  /**
   * The upstream said it is overloaded (Anthropic's 529 `overloaded_error`): temporary, retried
   * and failed over like any 5xx, and when it is the last failure the client is told so (503,
   * `overloaded_error` on /v1/messages), as clients such as Claude Code back off on it.
   */
  overloaded?: true;
  /**
   * The upstream refused the gateway's own side of the request, not the client's: its credentials
   * (401, 403, Gemini's 400 API_KEY_INVALID) or the target's configuration (Gemini's 400
   * FAILED_PRECONDITION, Bedrock's invalid model identifier). The same target would refuse again,
   * so it is not retried; another target may serve, so the route fails over (a ServerError); and
   * it counts against the target's health.
   */
  refused?: 'credentials' | 'configuration';
}

export type ParseResult = { ok: true; body: JsonObject; usage?: Usage } | { ok: false; failure: UpstreamFailure };

/** What one upstream stream event turned into. */
/** The built-in tool fees of a request, billed apart from its tokens (Usage's fields of the same names). */
export type ToolFees = Pick<Usage, 'webSearchCalls' | 'fileSearchCalls' | 'containerGb'>;

export interface StreamStep {
  chunks: JsonObject[];
  /**
   * The upstream's own text of each chunk (SSE `data`), when it is already the canonical chunk
   * unchanged on one line: a canonical client is sent these bytes instead of a re-serialisation.
   * Absent (or shorter than chunks) for chunks the gateway rebuilt.
   */
  raw?: string[];
  usage?: Usage;
  /**
   * Usage the upstream reported before its end (Anthropic's message_start, Gemini's running
   * usageMetadata): not final, but what a stream cut short has used at least.
   */
  partialUsage?: Usage;
  /**
   * The built-in tool fees the stream has shown so far (a Response's tool call items and the
   * containers they ran in, Gemini's grounding, a chat search model's search), running totals: a
   * stream cut before its usage is charged them, as it is the tokens it showed, since the upstream
   * bills a tool once it ran. Only on steps that change them.
   */
  toolsSeen?: ToolFees;
  /**
   * Bytes of output the model produced that the adapter does not relay as a chunk (reasoning with
   * no canonical form): billed as output, so a stream cut before its usage is estimated with them,
   * and they keep a stream from counting as silent.
   */
  hiddenOutputBytes?: number;
  failure?: UpstreamFailure;
  done?: boolean;
}

export type HeaderMap = Record<string, string | string[] | undefined>;

/** What one upstream attempt came to: a response, a stream under way, a classified failure, or a client that left. */
export type AttemptResult =
  /** `upstreamRequestId`: the upstream's own id of the request (its provider's request-id header), when it named one. */
  | {
      ok: true;
      kind: 'response';
      body: JsonObject;
      usage?: Usage;
      status: number;
      upstreamRequestId?: string | undefined;
      /** A large answer's bytes of the process's budget (CappedText.held), given back once it has been written; a small one has none. */
      held?: () => void;
    }
  | { ok: true; kind: 'stream'; first: StreamStep[]; rest: AsyncGenerator<StreamStep, void, undefined>; upstreamRequestId?: string | undefined }
  | { ok: false; failure: UpstreamFailure }
  /** `sent`: the request had been handed to the upstream before the client left. */
  | { ok: false; clientGone: true; sent: boolean };
