import type { JsonObject } from '../../core/canonical.js';
import { isObject } from './json-guards.js';

/**
 * What a client asked of the model's thinking in the Anthropic Messages API's terms: the canonical
 * `thinking` extension (providers/shared/openai-wire.ts), which only /v1/messages clients send. An
 * Anthropic target takes it as sent; the other adapters read it through here and restate it in
 * their own API (Gemini's thinkingConfig, Bedrock Claude's additionalModelRequestFields), so that
 * no adapter parses the client's object by itself. `reasoning_effort` (shared/reasoning-effort.ts)
 * is the OpenAI clients' way of asking; where a body carries both, this one wins.
 */
export type ClientThinking =
  /** `{type:'enabled', budget_tokens}`: think, up to this many tokens. */
  | { type: 'enabled'; budgetTokens: number }
  /** `{type:'disabled'}`: do not think. */
  | { type: 'disabled' }
  /** `{type:'adaptive'}`: the model decides whether and how much to think. */
  | { type: 'adaptive' };

/** The client's thinking request, or undefined when it sent none (or one of a type no adapter restates). */
export function clientThinking(body: JsonObject): ClientThinking | undefined {
  const t = body.thinking;
  if (!isObject(t)) return undefined;
  if (t.type === 'enabled' && typeof t.budget_tokens === 'number' && Number.isInteger(t.budget_tokens) && t.budget_tokens > 0) return { type: 'enabled', budgetTokens: t.budget_tokens };
  if (t.type === 'disabled') return { type: 'disabled' };
  if (t.type === 'adaptive') return { type: 'adaptive' };
  return undefined;
}
