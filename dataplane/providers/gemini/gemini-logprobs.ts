import type { JsonObject } from '../../core/canonical.js';
import { isObject } from '../shared/json-guards.js';

/** At most this many alternatives a token (OpenAI's own top_logprobs limit). */
const MAX_TOP = 20;

/** Gemini's logprobsResult of one candidate. */
export interface GeminiLogprobsResult {
  topCandidates?: { candidates?: GeminiTokenLogprob[] }[];
  chosenCandidates?: GeminiTokenLogprob[];
}

interface GeminiTokenLogprob {
  token?: string;
  tokenId?: number;
  logProbability?: number;
}

/** `logprobs`/`top_logprobs` of a chat request as Gemini's generationConfig fields; undefined when not asked for. */
export function geminiLogprobsConfig(body: JsonObject): { responseLogprobs: true; logprobs?: number } | undefined {
  if (body.logprobs !== true) return undefined;
  const top = body.top_logprobs;
  return typeof top === 'number' && Number.isInteger(top) && top > 0 ? { responseLogprobs: true, logprobs: Math.min(top, MAX_TOP) } : { responseLogprobs: true };
}

function entry(t: GeminiTokenLogprob): JsonObject {
  const token = typeof t.token === 'string' ? t.token : '';
  return { token, logprob: typeof t.logProbability === 'number' ? t.logProbability : 0, bytes: [...Buffer.from(token, 'utf8')] };
}

/**
 * A candidate's logprobsResult in OpenAI's shape (`{ content: [{ token, logprob, bytes,
 * top_logprobs }], refusal: null }`): each chosen token with the alternatives Gemini listed at its
 * step. Null when the candidate carries none.
 */
export function openAiLogprobs(result: unknown): JsonObject | null {
  if (!isObject(result)) return null;
  const { chosenCandidates, topCandidates } = result as GeminiLogprobsResult;
  if (!Array.isArray(chosenCandidates)) return null;
  const tops = Array.isArray(topCandidates) ? topCandidates : [];
  const content = chosenCandidates.filter(isObject).map((chosen, i) => {
    const alternatives = tops[i]?.candidates;
    return { ...entry(chosen), top_logprobs: Array.isArray(alternatives) ? alternatives.filter(isObject).slice(0, MAX_TOP).map(entry) : [] };
  });
  return { content, refusal: null };
}
