import type { Pricing } from '../config/snapshot.js';
import type { Usage } from '../core/canonical.js';

/**
 * The prices of one request: the target's, plus — for self-hosted pods priced by GPU time — the pod
 * time the request held, measured by the endpoint picker (read when the cost is computed, after the
 * response or stream ended).
 */
export type RequestPricing = Pricing & { podSeconds?: () => number };

/**
 * USD for one request: uncached input (text, audio and image tokens each at their price), cached
 * input, cache writes and output (text, audio, image), each at its price per million tokens, plus
 * the request's share of pod time at the pod-second price. Audio and image prices default to the
 * text ones.
 */
export function costUsd(usage: Usage, pricing: RequestPricing): number {
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  // Cache writes are part of input (OpenAI semantics) and priced on their own when the Provider says so.
  const written = Math.min(usage.cacheWriteTokens ?? 0, usage.inputTokens - cached);
  const writtenForAnHour = Math.min(usage.cacheWrite1hTokens ?? 0, written);
  const writePrice = pricing.cacheWriteInputPerMTok ?? pricing.inputPerMTok;
  // Media tokens within what is left uncached: an upstream that counts cached audio among its audio
  // tokens without saying how many has them priced as audio (dearer), not as cached text.
  const audioIn = Math.min(usage.audioInputTokens ?? 0, usage.inputTokens - cached - written);
  const imageIn = Math.min(usage.imageInputTokens ?? 0, usage.inputTokens - cached - written - audioIn);
  const textIn = usage.inputTokens - cached - written - audioIn - imageIn;
  const audioOut = Math.min(usage.audioOutputTokens ?? 0, usage.outputTokens);
  const imageOut = Math.min(usage.imageOutputTokens ?? 0, usage.outputTokens - audioOut);
  const textOut = usage.outputTokens - audioOut - imageOut;
  const micro =
    (textIn * pricing.inputPerMTok +
      audioIn * (pricing.audioInputPerMTok ?? pricing.inputPerMTok) +
      imageIn * (pricing.imageInputPerMTok ?? pricing.inputPerMTok) +
      cached * pricing.cachedInputPerMTok +
      (written - writtenForAnHour) * writePrice +
      writtenForAnHour * (pricing.cacheWrite1hInputPerMTok ?? writePrice) +
      textOut * pricing.outputPerMTok +
      audioOut * (pricing.audioOutputPerMTok ?? pricing.outputPerMTok) +
      imageOut * (pricing.imageOutputPerMTok ?? pricing.outputPerMTok)) *
    (usage.priceMultiplier ?? 1);
  const podUsd = pricing.podSecondUsd === undefined ? 0 : pricing.podSecondUsd * Math.max(0, pricing.podSeconds?.() ?? 0);
  // Rounded to a millionth of a cent so that sums of many requests do not drift in binary floating point.
  return Math.round((micro / 1e6 + podUsd) * 1e8) / 1e8;
}

/** The dearest price an input token of this target can have (audio, image, cache write): what a worst case holds. */
export function dearestInputPrice(pricing: Pricing): number {
  return Math.max(pricing.inputPerMTok, pricing.cacheWriteInputPerMTok ?? 0, pricing.cacheWrite1hInputPerMTok ?? 0, pricing.audioInputPerMTok ?? 0, pricing.imageInputPerMTok ?? 0);
}

/** The dearest price an output token of this target can have (audio, image). */
export function dearestOutputPrice(pricing: Pricing): number {
  return Math.max(pricing.outputPerMTok, pricing.audioOutputPerMTok ?? 0, pricing.imageOutputPerMTok ?? 0);
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
}

/** USD for the units of one pass-through request at the target's per-request and per-unit prices (0 where none is set). */
export function unitCostUsd(units: BilledUnits, pricing: Pricing): number {
  const usd =
    units.requests * (pricing.perRequestUsd ?? 0) +
    units.images * (pricing.perImageUsd ?? 0) +
    units.audioSeconds * (pricing.perAudioSecondUsd ?? 0) +
    (units.characters * (pricing.perMCharactersUsd ?? 0)) / 1e6;
  return Math.round(usd * 1e8) / 1e8;
}
