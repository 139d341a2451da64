import type { JsonObject, Usage } from '../core/canonical.js';
import { estimateOutputTokens } from './token-estimate.js';

/** Why a request was metered from the gateway's estimate instead of the upstream's usage. */
export type EstimateReason = 'missing' | 'invalid' | 'client_gone' | 'truncated' | 'background' | 'lost_attempt' | 'shutdown' | 'batch_worst_case' | 'fine_tuning_worst_case' | 'eval_worst_case' | 'cut_short' | 'transcription_unreported' | 'cut_reasoning_bound';

/** More tokens than any one request can use (largest context windows × the largest `n`): a report above it is a bug upstream. */
export const MAX_PLAUSIBLE_TOKENS = 100_000_000;

function plausibleCount(value: number | undefined): boolean {
  return value === undefined || (Number.isInteger(value) && value >= 0 && value <= MAX_PLAUSIBLE_TOKENS);
}

/**
 * Usage an upstream reported that can be true: whole, non-negative, bounded counts, with cached and
 * cache-write tokens part of input (audio and image counts past their part are capped when priced,
 * metering/cost.ts). Anything else is treated as missing (metered from the estimate) rather than
 * trusted: negative counts would credit budgets, absurd ones would bill a fortune, and either would
 * break the usage report that carries them.
 */
export function plausibleUsage(usage: Usage): boolean {
  const { audioInputTokens: audioIn = 0, imageInputTokens: imageIn = 0, audioOutputTokens: audioOut = 0, imageOutputTokens: imageOut = 0 } = usage;
  if (![usage.inputTokens, usage.outputTokens, usage.cachedInputTokens, usage.cacheWriteTokens, usage.cacheWrite1hTokens, usage.webSearchCalls, usage.fileSearchCalls, usage.containerGb, audioIn, imageIn, audioOut, imageOut].every(plausibleCount)) return false;
  return usage.cachedInputTokens + (usage.cacheWriteTokens ?? 0) <= usage.inputTokens;
}

/**
 * Why reported usage cannot be charged as is, or undefined when it can. All-zero usage counts as
 * missing: a request that reached a model always bills some input, and the Anthropic, Gemini and
 * Bedrock mappers read an absent usage object as zeros.
 */
export function usageProblem(usage: Usage | undefined): 'missing' | 'invalid' | undefined {
  if (usage === undefined || (usage.inputTokens === 0 && usage.outputTokens === 0)) return 'missing';
  return plausibleUsage(usage) ? undefined : 'invalid';
}

export interface MeteredUsage {
  usage: Usage;
  /** Set when the usage is the gateway's estimate, with why. */
  estimated?: EstimateReason;
}

/**
 * What a non-streaming response is charged: the upstream's usage when it can be true, else the
 * prompt estimate plus the output estimated from the body (every choice), marked estimated.
 */
export function responseUsage(reported: Usage | undefined, body: JsonObject, promptTokens: number, promptAudioTokens = 0): MeteredUsage {
  const problem = usageProblem(reported);
  if (problem === undefined && reported !== undefined) return { usage: reported };
  return { usage: estimatedUsage(promptTokens, estimateOutputTokens(body), promptAudioTokens), estimated: problem ?? 'missing' };
}

/** Usage from the gateway's estimates: the prompt's audio part (input_audio) kept apart, so that it is priced as audio. */
export function estimatedUsage(promptTokens: number, outputTokens: number, promptAudioTokens = 0): Usage {
  const usage: Usage = { inputTokens: promptTokens, outputTokens, cachedInputTokens: 0 };
  if (promptAudioTokens > 0) usage.audioInputTokens = Math.min(promptAudioTokens, promptTokens);
  return usage;
}
