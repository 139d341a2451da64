import type { Pricing } from '../config/snapshot.js';
import type { CanonicalRequest, Usage } from '../core/canonical.js';

/**
 * The prices of one request: the target's, plus — for self-hosted pods priced by GPU time — the pod
 * time the request held, measured by the endpoint picker (read when the cost is computed, after the
 * response or stream ended).
 */
export type RequestPricing = Pricing & { podSeconds?: () => number };

/** What OpenAI's priority service tier costs at most, as a multiple of the standard prices it publishes (1.7–2×). */
export const PRIORITY_TIER_MULTIPLIER = 2;

/**
 * The multiple of the Provider's token prices a request may be billed at before its answer says
 * which tier it ran at: PRIORITY_TIER_MULTIPLIER when it asks for `service_tier: "priority"`, else 1.
 * What a Budget holds for it and what an estimate of it is charged, so that neither is half of
 * what the answer will be charged (the answer's own `service_tier` prices reported usage).
 */
export function askedPriceMultiplier(req: Pick<CanonicalRequest, 'body' | 'native'>): number {
  return req.body.service_tier === 'priority' || req.native?.body.service_tier === 'priority' ? PRIORITY_TIER_MULTIPLIER : 1;
}

/** The text token prices a request is billed at: the long-context ones when its prompt is past their threshold. */
function textPrices(pricing: Pricing, inputTokens: number): Pick<Pricing, 'inputPerMTok' | 'outputPerMTok' | 'cachedInputPerMTok' | 'cacheWriteInputPerMTok' | 'cacheWrite1hInputPerMTok'> {
  const long = pricing.longContext;
  return long !== undefined && inputTokens > long.aboveInputTokens ? long : pricing;
}

/**
 * USD for one request: uncached input (text, audio and image tokens each at their price), cached
 * input, cache writes and output (text, audio, image), each at its price per million tokens, plus
 * the request's share of pod time at the pod-second price, and its built-in tool calls at their
 * per-call prices. Audio and image prices default to the
 * text ones; a prompt past the long-context threshold has the whole request at those text prices.
 */
export function costUsd(usage: Usage, pricing: RequestPricing): number {
  const text = textPrices(pricing, usage.inputTokens);
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  // Cache writes are part of input (OpenAI semantics) and priced on their own when the Provider says so.
  const written = Math.min(usage.cacheWriteTokens ?? 0, usage.inputTokens - cached);
  const writtenForAnHour = Math.min(usage.cacheWrite1hTokens ?? 0, written);
  const writePrice = text.cacheWriteInputPerMTok ?? text.inputPerMTok;
  // Media tokens within what is left uncached: an upstream that counts cached audio among its audio
  // tokens without saying how many has them priced as audio (dearer), not as cached text.
  const audioIn = Math.min(usage.audioInputTokens ?? 0, usage.inputTokens - cached - written);
  const imageIn = Math.min(usage.imageInputTokens ?? 0, usage.inputTokens - cached - written - audioIn);
  const textIn = usage.inputTokens - cached - written - audioIn - imageIn;
  const audioOut = Math.min(usage.audioOutputTokens ?? 0, usage.outputTokens);
  const imageOut = Math.min(usage.imageOutputTokens ?? 0, usage.outputTokens - audioOut);
  const textOut = usage.outputTokens - audioOut - imageOut;
  const micro =
    (textIn * text.inputPerMTok +
      audioIn * (pricing.audioInputPerMTok ?? text.inputPerMTok) +
      imageIn * (pricing.imageInputPerMTok ?? text.inputPerMTok) +
      cached * text.cachedInputPerMTok +
      (written - writtenForAnHour) * writePrice +
      writtenForAnHour * (text.cacheWrite1hInputPerMTok ?? writePrice) +
      textOut * text.outputPerMTok +
      audioOut * (pricing.audioOutputPerMTok ?? text.outputPerMTok) +
      imageOut * (pricing.imageOutputPerMTok ?? text.outputPerMTok)) *
    (usage.priceMultiplier ?? 1);
  const podUsd = pricing.podSecondUsd === undefined ? 0 : pricing.podSecondUsd * Math.max(0, pricing.podSeconds?.() ?? 0);
  const toolUsd =
    (usage.webSearchCalls ?? 0) * (pricing.perWebSearchUsd ?? 0) + (usage.fileSearchCalls ?? 0) * (pricing.perFileSearchUsd ?? 0) + (usage.containerGb ?? 0) * (pricing.perContainerUsd ?? 0);
  return nonNegativeUsd(roundedUp(micro / 1e6 + podUsd + toolUsd));
}

/**
 * The dearest price an input token of a request with this prompt estimate can have on this target
 * (audio, image, cache write; long-context when the estimate is past the threshold): what a worst case holds.
 */
export function dearestInputPrice(pricing: Pricing, promptTokens: number): number {
  const text = textPrices(pricing, promptTokens);
  return Math.max(text.inputPerMTok, text.cacheWriteInputPerMTok ?? 0, text.cacheWrite1hInputPerMTok ?? 0, pricing.audioInputPerMTok ?? 0, pricing.imageInputPerMTok ?? 0);
}

/** The dearest price an output token of such a request can have (audio, image; long-context past the threshold). */
export function dearestOutputPrice(pricing: Pricing, promptTokens: number): number {
  return Math.max(textPrices(pricing, promptTokens).outputPerMTok, pricing.audioOutputPerMTok ?? 0, pricing.imageOutputPerMTok ?? 0);
}

/** The target's pricing with the pod time of this request attached (when the target is priced by pod time). */
export function withPodTime(pricing: Pricing, podSeconds: (() => number) | undefined): RequestPricing {
  if (pricing.podSecondUsd === undefined || podSeconds === undefined) return pricing;
  return { ...pricing, podSeconds };
}

/** What a pass-through request is priced by besides tokens (the Provider's per-request and per-unit prices). */
export interface BilledUnits {
  /** 1 for a request the upstream answered successfully. */
  requests: number;
  images: number;
  audioSeconds: number;
  /** Characters of speech input. */
  characters: number;
  /** Searches of a vector store (POST /v1/vector_stores/{id}/search), at the file search price. */
  fileSearches?: number;
  /** Seconds of video a generation asked for (POST /v1/videos, a remix, an edit, an extension). */
  videoSeconds?: number;
  /** GB of container sessions (POST /v1/containers: one session of its memory_limit), at the per-container price. */
  containerGb?: number;
  /** The built-in tool calls a request may make at most (Responses `max_tool_calls`): what a Budget holds for their fees. */
  toolCalls?: ToolCallBound;
}

/** A Responses request's `max_tool_calls` and the built-in tools it offers that are billed per call or per container. */
export interface ToolCallBound {
  calls: number;
  webSearch: boolean;
  fileSearch: boolean;
  /** GB of the largest auto container a code_interpreter tool asks for (0: none offered). */
  containerGb: number;
  /** code_interpreter tools asking for an auto container: each is made (and billed) whether or not the model runs code. */
  autoContainers: number;
}

/**
 * The most the built-in tools of a request bounded by `max_tool_calls` can cost: each call at the
 * dearest of the tools offered (a code interpreter call as a new container session of its memory),
 * and never less than the auto containers it asks for, made whatever it calls.
 */
export function toolCallBoundUsd(bound: ToolCallBound, pricing: Pricing): number {
  const container = bound.containerGb * (pricing.perContainerUsd ?? 0);
  const dearest = Math.max(bound.webSearch ? (pricing.perWebSearchUsd ?? 0) : 0, bound.fileSearch ? (pricing.perFileSearchUsd ?? 0) : 0, container);
  return Math.max(bound.calls * dearest, bound.autoContainers * container);
}

/** USD for the units of one pass-through request at the target's per-request and per-unit prices (0 where none is set). */
export function unitCostUsd(units: BilledUnits, pricing: Pricing): number {
  const usd =
    units.requests * (pricing.perRequestUsd ?? 0) +
    units.images * (pricing.perImageUsd ?? 0) +
    units.audioSeconds * (pricing.perAudioSecondUsd ?? 0) +
    (units.characters * (pricing.perMCharactersUsd ?? 0)) / 1e6 +
    (units.fileSearches ?? 0) * (pricing.perFileSearchUsd ?? 0) +
    (units.videoSeconds ?? 0) * (pricing.perVideoSecondUsd ?? 0) +
    (units.containerGb ?? 0) * (pricing.perContainerUsd ?? 0) +
    (units.toolCalls === undefined ? 0 : toolCallBoundUsd(units.toolCalls, pricing));
  return nonNegativeUsd(roundedUp(usd));
}

/**
 * A cost rounded up to a millionth of a cent (1e-8 USD), so that sums of many requests do not drift
 * in binary floating point, and no request is charged less than it cost: rounded to the nearest,
 * every request lost up to half a unit, and one cheaper than that (a token of a model priced below
 * $0.005 per million) was charged nothing. The tolerance keeps a cost that is a whole number of
 * units but computed a hair above it (0.1 + 0.2) from being rounded up a unit: at most 1e-8 USD over.
 */
export function roundedUp(usd: number): number {
  return Math.ceil(usd * 1e8 - 1e-6) / 1e8;
}

/**
 * A cost as it may be charged: never negative (nor NaN). A negative cost would credit every Budget
 * it is settled against (the exact ledger's INCRBYFLOAT subtracts it); callers check the counts
 * that could make one (metering/settled-usage.ts), this is the backstop behind them.
 */
export function nonNegativeUsd(usd: number): number {
  return Number.isFinite(usd) && usd > 0 ? usd : 0;
}
