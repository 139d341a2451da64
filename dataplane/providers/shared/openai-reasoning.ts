import type { CanonicalRequest, JsonObject } from '../../core/canonical.js';
import { clientThinking } from './client-thinking.js';
import { isObject } from './json-guards.js';
import { outputEffort } from './output-config.js';

/**
 * A /v1/messages client's extended thinking (`thinking: {type:'enabled', budget_tokens}`) for an
 * OpenAI-wire reasoning model, which takes an effort level instead of a token budget. The bands are
 * those of the reverse mapping (reasoning_effort → Claude budget, shared/reasoning-effort.ts: low
 * 1,024, medium 4,096, high 16,384), so the budget the gateway sends for low, medium or high maps back to that effort.
 */
export function effortForBudget(budgetTokens: number): 'low' | 'medium' | 'high' {
  if (budgetTokens < 4096) return 'low';
  if (budgetTokens < 16384) return 'medium';
  return 'high';
}

/**
 * Models that take `reasoning_effort` with low, medium and high: OpenAI's o-series and gpt-5 family,
 * and the open-weight gpt-oss (served by OpenAI-compatible servers). A model name may carry a
 * provider prefix (`openai/o3-mini`). Left out: o1-mini and o1-preview (no reasoning_effort), the
 * gpt-5 chat models (not reasoning models) and gpt-5-pro (high only); every other model refuses the
 * field ("Unsupported parameter"), so it gets none, as before.
 */
const REASONING_MODEL = /^(?:o[1-9]\d*(?:-|$)|gpt-5|gpt-oss)/;
const NOT_REASONING = /^(?:o1-(?:mini|preview)|gpt-5(?:\.\d+)?-(?:chat|pro)(?:-|$))/;

/** The gpt-5 chat models: not reasoning models, they take sampling parameters. */
const CHAT_MODEL = /^gpt-5(?:\.\d+)?-chat(?:-|$)/;

/**
 * OpenAI's reasoning models, which refuse the sampling parameters: a `temperature` other than 1
 * ("Unsupported value … Only the default (1) value is supported") and `top_p` ("Unsupported
 * parameter"). The o-series (o1-mini and o1-preview too) and the gpt-5 family but its -chat models;
 * gpt-oss is left out, since the servers that host it take both.
 */
export function refusesSampling(model: string): boolean {
  const name = (model.split('/').pop() ?? model).toLowerCase();
  return /^(?:o[1-9]\d*(?:-|$)|gpt-5)/.test(name) && !CHAT_MODEL.test(name);
}

/**
 * Whether an OpenAI-wire request's model reasons without the stream showing it: OpenAI's reasoning
 * models (o-series, gpt-5 but its -chat models, gpt-oss) unless the effort asked is `none`, and any
 * model the request asks an effort of (`reasoning_effort`; a Response's `reasoning.effort`): the
 * chat stream of an OpenAI reasoning model carries none of its reasoning, a Response's only a summary.
 */
export function openAiReasonsUnseen(req: CanonicalRequest, model: string): boolean {
  const reasoning = req.native?.body.reasoning;
  const asked = req.native === undefined ? req.body.reasoning_effort : isObject(reasoning) ? reasoning.effort : undefined;
  if (asked === 'none') return false;
  return refusesSampling(model) || takesReasoningEffort(model) || typeof asked === 'string';
}

export function takesReasoningEffort(model: string): boolean {
  const name = (model.split('/').pop() ?? model).toLowerCase();
  return REASONING_MODEL.test(name) && !NOT_REASONING.test(name);
}

/**
 * The `reasoning_effort` to send for a client's `thinking`, or undefined: only `enabled` has an
 * effort (`disabled` and `adaptive` leave the model's default, since o-series models cannot stop
 * reasoning and their default is already theirs to choose), only to a model that takes the field,
 * and never over a `reasoning_effort` the body already carries.
 */
export function reasoningEffortForThinking(body: JsonObject, model: string): 'low' | 'medium' | 'high' | undefined {
  if (body.reasoning_effort !== undefined && body.reasoning_effort !== null) return undefined;
  const thinking = clientThinking(body);
  if (thinking?.type !== 'enabled' || !takesReasoningEffort(model)) return undefined;
  return effortForBudget(thinking.budgetTokens);
}

/**
 * The `reasoning_effort` to send for a /v1/messages client's request, or undefined: its
 * `output_config.effort` (the level it named, so it wins over a thinking budget), else its
 * `thinking` (reasoningEffortForThinking); only to a model that takes the field, never over a
 * `reasoning_effort` the body carries. Anthropic's `xhigh` and `max` are sent as `high`, the top
 * level every such model takes.
 */
export function reasoningEffortForClient(body: JsonObject, model: string): 'low' | 'medium' | 'high' | undefined {
  const effort = outputEffort(body);
  if (effort === undefined) return reasoningEffortForThinking(body, model);
  if ((body.reasoning_effort !== undefined && body.reasoning_effort !== null) || !takesReasoningEffort(model)) return undefined;
  return effort === 'low' || effort === 'medium' ? effort : 'high';
}
