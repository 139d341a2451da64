import type { JsonObject } from '../../core/canonical.js';
import { isObject } from './json-guards.js';
import { THINKING_PARTS } from './openai-wire.js';

/**
 * OpenAI's `reasoning_effort` (the Responses API's `reasoning.effort`) for Claude models, which take
 * a thinking budget in tokens instead (docs/providers.md lists the numbers). `none` and `minimal`
 * ask for no (or next to no) reasoning: Claude's default is not to think, so nothing is sent.
 */

/** Claude's extended thinking: a budget of at least 1,024 tokens, below max_tokens. */
const CLAUDE_BUDGETS: Readonly<Record<string, number>> = { low: 1024, medium: 4096, high: 16384, xhigh: 32768, max: 32768 };
const CLAUDE_MIN_BUDGET = 1024;
/** Of the output cap, what thinking leaves for the answer itself. */
const ANSWER_ROOM = 1024;

export type ClaudeThinking = { type: 'enabled'; budget_tokens: number };

/** Claude models before 3.7 have no extended thinking (thinking there is a 400): they get none, as before. */
const WITHOUT_THINKING = /claude-(instant|[12]|3-(?!7))/i;

/** The Claude model has extended thinking (3.7 and later). */
export function claudeThinks(model: string): boolean {
  return !WITHOUT_THINKING.test(model);
}

/**
 * Whether Claude thinks on this request: the client's `thinking` (as the adapters send it), else its
 * `reasoning_effort` as claudeThinking restates it (with room for any budget: an over-estimate only
 * where the cap would leave none). Claude 4 streams a summary of thinking it bills whole, and a
 * redacted block shows nothing, so what the stream shows of it is not what it made.
 */
export function claudeReasonsUnseen(body: JsonObject, model: string): boolean {
  if (!claudeThinks(model)) return false;
  if (isObject(body.thinking) && typeof body.thinking.type === 'string') return body.thinking.type !== 'disabled';
  return claudeThinking(body, model, Number.MAX_SAFE_INTEGER, true) !== undefined;
}

/** The last assistant turn called tools and carries no signed reasoning to send back. */
function toolTurnWithoutThinking(body: JsonObject, carriesThinking: boolean): boolean {
  if (!Array.isArray(body.messages)) return false;
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const m: unknown = body.messages[i];
    if (!isObject(m) || m.role !== 'assistant') continue;
    if (!Array.isArray(m.tool_calls) || m.tool_calls.length === 0) return false;
    if (!carriesThinking || !Array.isArray(m.content)) return true;
    return !m.content.some((p) => isObject(p) && typeof p.type === 'string' && THINKING_PARTS.has(p.type) && (p.type === 'redacted_thinking' || (typeof p.signature === 'string' && p.signature !== '')));
  }
  return false;
}

/**
 * Claude's `thinking` for a request's `reasoning_effort`, or undefined when there is none to send.
 * Claude answers 400 to thinking beside a temperature other than 1, a top_p below 0.95, a top_k, a
 * forced tool (response_format's JSON tool included), or a tool loop whose last assistant turn lost
 * its thinking block; such a request keeps its other settings and goes without thinking, as it does
 * when `cap` (the max_tokens sent) leaves no room for the smallest budget and an answer, and on
 * `model`s without thinking.
 * `carriesThinking`: the adapter sends an assistant's signed thinking parts back.
 */
export function claudeThinking(body: JsonObject, model: string, cap: number, carriesThinking: boolean): ClaudeThinking | undefined {
  if (!claudeThinks(model)) return undefined;
  const wanted = typeof body.reasoning_effort === 'string' ? CLAUDE_BUDGETS[body.reasoning_effort] : undefined;
  if (wanted === undefined) return undefined;
  if (typeof body.temperature === 'number' && body.temperature !== 1) return undefined;
  if (typeof body.top_p === 'number' && body.top_p < 0.95) return undefined;
  if (typeof body.top_k === 'number') return undefined;
  if (isObject(body.response_format) && body.response_format.type !== 'text') return undefined;
  if (body.tool_choice === 'required' || isObject(body.tool_choice)) return undefined;
  if (toolTurnWithoutThinking(body, carriesThinking)) return undefined;
  const budget = Math.min(wanted, cap - ANSWER_ROOM);
  return budget >= CLAUDE_MIN_BUDGET ? { type: 'enabled', budget_tokens: budget } : undefined;
}
