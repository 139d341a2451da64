import { describe, expect, it } from 'vitest';
import type { CanonicalRequest } from '../../core/canonical.js';
import { anthropicAdapter } from '../anthropic/index.js';
import { azureOpenAiAdapter } from '../azure-openai/index.js';
import { bedrockAdapter } from '../bedrock/index.js';
import { geminiAdapter } from '../gemini/index.js';
import { openAiAdapter, openAiResponsesAdapter } from '../openai/index.js';

// Which requests each adapter says reason unseen: a stream of one cut short is charged a bound on
// that reasoning (metering/reasoning-bound.ts); any other, what it showed.

const chat = (body: Record<string, unknown>): CanonicalRequest => ({ op: 'chat', stream: true, clientWantsUsage: false, body: { messages: [{ role: 'user', content: 'hi' }], ...body } }) as CanonicalRequest;

describe('which adapters say a request reasons unseen', () => {
  it('OpenAI: its reasoning models unless the effort is none, and any model asked an effort', () => {
    for (const adapter of [openAiAdapter, openAiResponsesAdapter, azureOpenAiAdapter]) {
      expect(adapter.reasonsUnseen?.(chat({}), 'gpt-5')).toBe(true);
      expect(adapter.reasonsUnseen?.(chat({}), 'o4-mini')).toBe(true);
      expect(adapter.reasonsUnseen?.(chat({}), 'gpt-4o')).toBe(false);
      expect(adapter.reasonsUnseen?.(chat({}), 'gpt-5-chat-latest')).toBe(false);
      expect(adapter.reasonsUnseen?.(chat({ reasoning_effort: 'none' }), 'gpt-5.1')).toBe(false);
      expect(adapter.reasonsUnseen?.(chat({ reasoning_effort: 'low' }), 'deepseek-reasoner')).toBe(true);
    }
    const native = { ...chat({}), native: { api: 'responses', body: { input: 'hi', reasoning: { effort: 'high' } } } } as CanonicalRequest;
    expect(openAiResponsesAdapter.reasonsUnseen?.(native, 'my-deployment')).toBe(true);
  });

  it('Claude (Anthropic, Bedrock): when the request thinks', () => {
    expect(anthropicAdapter.reasonsUnseen?.(chat({}), 'claude-sonnet-4-5')).toBe(false);
    expect(anthropicAdapter.reasonsUnseen?.(chat({ reasoning_effort: 'high' }), 'claude-sonnet-4-5')).toBe(true);
    expect(anthropicAdapter.reasonsUnseen?.(chat({ thinking: { type: 'enabled', budget_tokens: 2048 } }), 'claude-opus-4-1')).toBe(true);
    expect(anthropicAdapter.reasonsUnseen?.(chat({ thinking: { type: 'disabled' } }), 'claude-opus-4-1')).toBe(false);
    expect(anthropicAdapter.reasonsUnseen?.(chat({ reasoning_effort: 'high' }), 'claude-3-5-sonnet-latest')).toBe(false);
    expect(bedrockAdapter.reasonsUnseen?.(chat({ reasoning_effort: 'medium' }), 'us.anthropic.claude-sonnet-4-5-20250929-v1:0')).toBe(true);
    expect(bedrockAdapter.reasonsUnseen?.(chat({}), 'us.anthropic.claude-sonnet-4-5-20250929-v1:0')).toBe(false);
    expect(bedrockAdapter.reasonsUnseen?.(chat({ reasoning_effort: 'medium' }), 'amazon.nova-pro-v1:0')).toBe(false);
  });

  it("Bedrock: an ARN that names no model thinks as the family the Provider's bedrock.modelFamilies gives it (before: never seen to reason)", () => {
    const profile = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3';
    const settings = (family: 'anthropic' | 'llama') => ({ bedrock: { region: 'us-east-1', modelFamilies: { [profile]: family } } });
    // Sent thinking (toConverseRequest reads the same families), so it bills reasoning a cut stream never shows.
    expect(bedrockAdapter.reasonsUnseen?.(chat({ reasoning_effort: 'medium' }), profile, settings('anthropic'))).toBe(true);
    expect(bedrockAdapter.reasonsUnseen?.(chat({ thinking: { type: 'enabled', budget_tokens: 2048 } }), profile, settings('anthropic'))).toBe(true);
    expect(bedrockAdapter.reasonsUnseen?.(chat({}), profile, settings('anthropic'))).toBe(false);
    expect(bedrockAdapter.reasonsUnseen?.(chat({ reasoning_effort: 'medium' }), profile, settings('llama'))).toBe(false);
    expect(bedrockAdapter.reasonsUnseen?.(chat({ reasoning_effort: 'medium' }), profile)).toBe(false);
  });

  it('Gemini: 2.5 and later unless thinking is off; Flash-Lite only when asked', () => {
    expect(geminiAdapter.reasonsUnseen?.(chat({}), 'gemini-2.5-pro')).toBe(true);
    expect(geminiAdapter.reasonsUnseen?.(chat({}), 'gemini-2.5-flash')).toBe(true);
    expect(geminiAdapter.reasonsUnseen?.(chat({ thinking: { type: 'disabled' } }), 'gemini-2.5-flash')).toBe(false);
    expect(geminiAdapter.reasonsUnseen?.(chat({}), 'gemini-2.5-flash-lite')).toBe(false);
    expect(geminiAdapter.reasonsUnseen?.(chat({ reasoning_effort: 'low' }), 'gemini-2.5-flash-lite')).toBe(true);
    expect(geminiAdapter.reasonsUnseen?.(chat({}), 'gemini-2.0-flash')).toBe(false);
  });
});
