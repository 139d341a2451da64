import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../core/canonical.js';
import { toAnthropicRequest } from '../anthropic/anthropic-request.js';
import { toConverseRequest } from '../bedrock/bedrock-request.js';
import { toGeminiRequest } from '../gemini/gemini-request.js';
import { claudeThinking } from './reasoning-effort.js';

const ask = (extra: JsonObject): JsonObject => ({ model: 'm', messages: [{ role: 'user', content: 'Think' }], ...extra });
const SETTINGS = { version: '2023-06-01', defaultMaxTokens: 4096 };
const think = (body: JsonObject, cap: number, carriesThinking: boolean) => claudeThinking(body, 'claude-sonnet-4-5', cap, carriesThinking);

describe('reasoning_effort as a thinking budget', () => {
  it('Claude: low, medium, high are 1,024, 4,096 and 16,384 tokens, fitted below the output cap with room for the answer', () => {
    expect(think(ask({ reasoning_effort: 'low' }), 64_000, true)).toEqual({ type: 'enabled', budget_tokens: 1024 });
    expect(think(ask({ reasoning_effort: 'medium' }), 64_000, true)).toEqual({ type: 'enabled', budget_tokens: 4096 });
    expect(think(ask({ reasoning_effort: 'high' }), 64_000, true)).toEqual({ type: 'enabled', budget_tokens: 16384 });
    expect(think(ask({ reasoning_effort: 'high' }), 4096, true)).toEqual({ type: 'enabled', budget_tokens: 3072 });
    // No room for the smallest budget and an answer; no reasoning asked for.
    expect(think(ask({ reasoning_effort: 'high' }), 2000, true)).toBeUndefined();
    expect(think(ask({ reasoning_effort: 'minimal' }), 64_000, true)).toBeUndefined();
    expect(think(ask({ reasoning_effort: 'none' }), 64_000, true)).toBeUndefined();
    expect(think(ask({}), 64_000, true)).toBeUndefined();
    // Models before Claude 3.7 have no extended thinking: as before, nothing is sent.
    for (const model of ['claude-3-5-sonnet-20241022', 'claude-3-haiku-20240307', 'us.anthropic.claude-3-5-sonnet-20241022-v2:0']) {
      expect(claudeThinking(ask({ reasoning_effort: 'high' }), model, 64_000, true)).toBeUndefined();
    }
    expect(claudeThinking(ask({ reasoning_effort: 'low' }), 'claude-3-7-sonnet-20250219', 64_000, true)).toBeDefined();
  });

  it('Claude: what it refuses beside thinking keeps the request without it (a temperature, a low top_p, top_k, a forced tool, JSON output, a tool turn without its thinking)', () => {
    const high = { reasoning_effort: 'high' };
    expect(think(ask({ ...high, temperature: 0.2 }), 64_000, true)).toBeUndefined();
    expect(think(ask({ ...high, temperature: 1, top_p: 0.95 }), 64_000, true)).toBeDefined();
    expect(think(ask({ ...high, top_p: 0.5 }), 64_000, true)).toBeUndefined();
    expect(think(ask({ ...high, top_k: 5 }), 64_000, true)).toBeUndefined();
    expect(think(ask({ ...high, tool_choice: 'required' }), 64_000, true)).toBeUndefined();
    expect(think(ask({ ...high, tool_choice: { type: 'function', function: { name: 'f' } } }), 64_000, true)).toBeUndefined();
    expect(think(ask({ ...high, tool_choice: 'auto' }), 64_000, true)).toBeDefined();
    expect(think(ask({ ...high, response_format: { type: 'json_object' } }), 64_000, true)).toBeUndefined();
    const call = { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } };
    const loop = (assistant: JsonObject): JsonObject => ({ ...high, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', ...assistant, tool_calls: [call] }, { role: 'tool', tool_call_id: 'c1', content: 'r' }] });
    expect(think(loop({ content: null }), 64_000, true)).toBeUndefined();
    const signed = { content: [{ type: 'thinking', thinking: 'hm', signature: 'sig' }] };
    expect(think(loop(signed), 64_000, true)).toBeDefined();
    // An adapter that does not send thinking back cannot continue such a loop with thinking.
    expect(think(loop(signed), 64_000, false)).toBeUndefined();
  });

  it("Anthropic: sent as thinking within max_tokens; the client's own thinking wins", () => {
    expect(toAnthropicRequest(ask({ reasoning_effort: 'high', max_completion_tokens: 20_000 }), 'claude', false, SETTINGS)).toMatchObject({ max_tokens: 20_000, thinking: { type: 'enabled', budget_tokens: 16384 } });
    expect(toAnthropicRequest(ask({ reasoning_effort: 'high' }), 'claude', false, SETTINGS)).toMatchObject({ max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 3072 } });
    const own = { type: 'enabled', budget_tokens: 2000 };
    expect(toAnthropicRequest(ask({ reasoning_effort: 'high', thinking: own, max_tokens: 20_000 }), 'claude', false, SETTINGS).thinking).toEqual(own);
    expect(toAnthropicRequest(ask({ reasoning_effort: 'high', temperature: 0 }), 'claude', false, SETTINGS)).not.toHaveProperty('thinking');
  });

  it('Bedrock: Claude models get thinking in additionalModelRequestFields (with a cap when the client set none); other models nothing', () => {
    expect(toConverseRequest(ask({ reasoning_effort: 'low', top_p: 1 }), 'us.anthropic.claude-sonnet-4-5-20250929-v1:0')).toMatchObject({
      inferenceConfig: { maxTokens: 4096, topP: 1 },
      additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1024 } },
    });
    expect(toConverseRequest(ask({ reasoning_effort: 'high', max_tokens: 30_000 }), 'anthropic.claude-opus-4-1-20250805-v1:0').additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 16384 } });
    const nova = toConverseRequest(ask({ reasoning_effort: 'high' }), 'amazon.nova-pro-v1:0');
    expect(nova).not.toHaveProperty('additionalModelRequestFields');
    expect(nova).not.toHaveProperty('inferenceConfig');
  });

  it("Gemini: generationConfig.thinkingConfig.thinkingBudget, Google's numbers (1,024, 8,192, 24,576); none, minimal and models before 2.5 leave the model's default", () => {
    expect(toGeminiRequest(ask({ reasoning_effort: 'low' }), 'gemini-2.5-flash').generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 1024 } });
    expect(toGeminiRequest(ask({ reasoning_effort: 'medium', max_tokens: 100 }), 'gemini-2.5-pro').generationConfig).toEqual({ maxOutputTokens: 100, thinkingConfig: { thinkingBudget: 8192 } });
    expect(toGeminiRequest(ask({ reasoning_effort: 'high' }), 'gemini-3-pro-preview').generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 24576 } });
    expect(toGeminiRequest(ask({ reasoning_effort: 'minimal' }), 'gemini-2.5-flash').generationConfig).toBeUndefined();
    // Models before 2.5 do not think.
    expect(toGeminiRequest(ask({ reasoning_effort: 'high' }), 'gemini-2.0-flash').generationConfig).toBeUndefined();
  });
});
