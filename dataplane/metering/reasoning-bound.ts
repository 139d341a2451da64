/**
 * The ceiling on a reasoning model's output speed when its pricing sets none, in tokens a second.
 * Above the fastest output speed published for any hosted model (about 3,000 tokens/s: gpt-oss-120b
 * on wafer-scale and other inference-specialised hardware); the first-party APIs of OpenAI, Anthropic and
 * Google are measured at a few hundred tokens/s at most. An over-estimate on purpose: a ceiling
 * below the real speed would under-count, one above it only charges a cut stream more.
 */
export const DEFAULT_REASONING_TOKENS_PER_SECOND = 4000;

/** StreamMeter.answerAt once reasoning showed after the answer had begun: reasoning may have gone on until the cut. */
export const REASONED_AFTER_ANSWER = -1;

/**
 * The most reasoning tokens a stream cut short may have made without showing them. A model reasons
 * before it answers, and makes no more than `tokensPerSecond` tokens a second (`choices` at once
 * with n > 1): so no more than that rate times the time from the request's sending (`sentAt`, on
 * or before it) to its first answer token (`answerAt`), or to the cut (`cutAt`) when none came or
 * reasoning showed after it (REASONED_AFTER_ANSWER); and no more than the output cap leaves beside
 * what was shown (`room`). Times are Date.now() milliseconds; a `sentAt` unknown (0) leaves the room.
 */
export function hiddenReasoningBound(sentAt: number, answerAt: number, cutAt: number, tokensPerSecond: number, choices: number, room: number): number {
  if (!(room > 0) || !(tokensPerSecond > 0)) return 0;
  const until = answerAt > 0 ? answerAt : cutAt;
  const ms = Math.max(0, until - sentAt);
  return Math.min(Math.floor(room), Math.ceil((ms * tokensPerSecond * Math.max(1, choices)) / 1000));
}
