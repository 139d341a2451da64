import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../core/canonical.js';
import { toAnthropicRequest } from '../anthropic/anthropic-request.js';
import { ANTHROPIC_DEFAULTS } from '../anthropic/anthropic-settings.js';
import { toConverseRequest } from '../bedrock/bedrock-request.js';
import { toGeminiRequest } from '../gemini/gemini-request.js';
import { RequestTranslationError } from '../types.js';

// What a real OpenAI client sends that Anthropic, Gemini and Bedrock have no field for: each is
// either translated or refused with a 400 naming the parameter, never dropped when the answer
// would change.

const fn = (name: string): JsonObject => ({ type: 'function', function: { name, parameters: { type: 'object', properties: { q: { type: 'string' } } } } });
const ask = (extra: JsonObject): JsonObject => ({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], tools: [fn('search'), fn('delete_all'), fn('time')], ...extra });
const allowed = (mode: string, names: string[]): JsonObject => ({ type: 'allowed_tools', allowed_tools: { mode, tools: names.map((name) => ({ type: 'function', function: { name } })) } });

const translators: [string, (body: JsonObject) => unknown][] = [
  ['anthropic', (body) => toAnthropicRequest(body, 'claude-sonnet-4-5', false, ANTHROPIC_DEFAULTS)],
  ['gemini', (body) => toGeminiRequest(body, 'gemini-2.5-flash')],
  ['bedrock', (body) => toConverseRequest(body, 'anthropic.claude-3-5-sonnet')],
];

/** The names of the tools a translated request offers, in each provider's shape. */
function offered(provider: string, out: unknown): string[] {
  const o = out as { tools?: { name?: string; functionDeclarations?: { name: string }[] }[]; toolConfig?: { tools?: { toolSpec: { name: string } }[] } };
  if (provider === 'anthropic') return (o.tools ?? []).map((t) => t.name ?? '');
  if (provider === 'gemini') return (o.tools?.[0]?.functionDeclarations ?? []).map((d) => d.name);
  return (o.toolConfig?.tools ?? []).map((t) => t.toolSpec.name);
}

function refusal(call: () => unknown): RequestTranslationError | undefined {
  try {
    call();
  } catch (err) {
    if (err instanceof RequestTranslationError) return err;
    throw err;
  }
  return undefined;
}

describe('fields a translated provider has no equivalent of', () => {
  for (const [provider, translate] of translators) {
    it(`${provider}: tool_choice allowed_tools offers only the allowed tools, with its mode`, () => {
      // Before, Gemini and Bedrock ignored it (every tool callable, delete_all too) and Anthropic refused it.
      const auto = translate(ask({ tool_choice: allowed('auto', ['search', 'time']) }));
      expect(offered(provider, auto)).toEqual(['search', 'time']);
      const required = translate(ask({ tool_choice: allowed('required', ['search']) })) as Record<string, unknown>;
      expect(offered(provider, required)).toEqual(['search']);
      if (provider === 'anthropic') expect(required.tool_choice).toEqual({ type: 'any' });
      if (provider === 'gemini') expect(required.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
      if (provider === 'bedrock') expect((required.toolConfig as Record<string, unknown>).toolChoice).toEqual({ any: {} });
      expect(refusal(() => translate(ask({ tool_choice: allowed('auto', ['missing']) })))?.param).toBe('tool_choice.allowed_tools.tools');
    });

    it(`${provider}: tool_choice none, auto, required and a named function are translated; another shape is a 400 naming tool_choice`, () => {
      for (const choice of ['none', 'auto', 'required', { type: 'function', function: { name: 'search' } }]) expect(refusal(() => translate(ask({ tool_choice: choice })))).toBeUndefined();
      expect(refusal(() => translate(ask({ tool_choice: { type: 'custom', custom: { name: 'x' } } })))?.param).toBe('tool_choice');
    });

    it(`${provider}: logit_bias, audio output and web_search_options are refused naming the field; their empty forms pass`, () => {
      expect(refusal(() => translate(ask({ logit_bias: { '50256': -100 } })))?.param).toBe('logit_bias');
      expect(refusal(() => translate(ask({ modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } })))?.param).toBe('modalities');
      expect(refusal(() => translate(ask({ audio: { voice: 'alloy', format: 'wav' } })))?.param).toBe('audio');
      expect(refusal(() => translate(ask({ web_search_options: {} })))?.param).toBe('web_search_options');
      expect(refusal(() => translate(ask({ logit_bias: {}, modalities: ['text'], audio: null, web_search_options: null })))).toBeUndefined();
    });
  }
});
