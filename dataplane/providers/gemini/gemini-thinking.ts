import type { JsonObject } from '../../core/canonical.js';
import { clientThinking } from '../shared/client-thinking.js';
import type { GeminiThinkingConfig } from './gemini-wire.js';

/**
 * thinkingBudget per `reasoning_effort`: the numbers Google's own OpenAI-compatible endpoint uses.
 * `none` and `minimal` are not sent: 2.5 Pro cannot stop thinking (budget 0 is its 400), so the
 * model's own default stands. Gemini 3 models take a budget too (in place of thinkingLevel).
 */
const THINKING_BUDGETS: Readonly<Record<string, number>> = { low: 1024, medium: 8192, high: 24576, xhigh: 24576, max: 24576 };
/** Models before 2.5 do not think: a thinkingConfig is not sent to them (it was never honoured). */
const WITHOUT_THINKING = /gemini-(1\.|2\.0)/i;
/** Pro models cannot stop thinking (budget 0 is their 400) and take budgets of 128 to 32,768 tokens. */
const PRO = /gemini-[\d.]+-pro/i;
/** Flash-Lite takes 512 to 24,576; the other Flash models 1 to 24,576 (0 turns thinking off). */
const FLASH_LITE = /flash-lite/i;

/** The budgets a model accepts: Gemini answers 400 to one outside them, where Claude's clients ask up to 32k and more. */
function budgetRange(model: string): { min: number; max: number } {
  if (PRO.test(model)) return { min: 128, max: 32_768 };
  if (FLASH_LITE.test(model)) return { min: 512, max: 24_576 };
  return { min: 1, max: 24_576 };
}

/**
 * generationConfig.thinkingConfig for a request, or undefined to leave the model's default. A
 * /v1/messages client's `thinking` wins over `reasoning_effort`: `enabled` is its budget (within the
 * model's range) with `includeThoughts`, so that the thought summaries come back as thinking blocks;
 * `adaptive` is the dynamic budget (-1) with them; `disabled` is budget 0, except on Pro models,
 * which cannot stop thinking: they keep their default and the answer carries no thoughts.
 */
export function geminiThinkingConfig(body: JsonObject, model: string): GeminiThinkingConfig | undefined {
  if (WITHOUT_THINKING.test(model)) return undefined;
  const asked = clientThinking(body);
  if (asked !== undefined) {
    if (asked.type === 'adaptive') return { thinkingBudget: -1, includeThoughts: true };
    if (asked.type === 'disabled') return PRO.test(model) ? undefined : { thinkingBudget: 0 };
    const { min, max } = budgetRange(model);
    return { thinkingBudget: Math.min(max, Math.max(min, asked.budgetTokens)), includeThoughts: true };
  }
  const budget = typeof body.reasoning_effort === 'string' ? THINKING_BUDGETS[body.reasoning_effort] : undefined;
  return budget === undefined ? undefined : { thinkingBudget: budget };
}

/**
 * Whether the model thinks on this request: a 2.5 or later model whose thinkingConfig (as sent)
 * leaves thinking on, or, with none sent, whose default is to think (all but Flash-Lite). Its
 * thoughts are left out of the stream, or summarized where the client asked for them.
 */
export function geminiReasonsUnseen(body: JsonObject, model: string): boolean {
  if (WITHOUT_THINKING.test(model)) return false;
  const config = geminiThinkingConfig(body, model);
  return config === undefined ? !FLASH_LITE.test(model) : config.thinkingBudget !== 0;
}
