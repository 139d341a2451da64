import { describe, expect, it } from 'vitest';
import { bedrockFamily } from './bedrock-family.js';
import { bedrockReasonsUnseen, toConverseRequest } from './bedrock-request.js';
import { RequestTranslationError } from '../types.js';

describe('bedrockFamily', () => {
  it.each([
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'anthropic'],
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'anthropic'],
    ['global.anthropic.claude-opus-4-5-20251101-v1:0', 'anthropic'],
    ['arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0', 'anthropic'],
    ['arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2:1', 'anthropic'],
    ['arn:aws:bedrock:us-east-1:123456789012:provisioned-model/claude-prod', 'anthropic'],
    ['amazon.nova-pro-v1:0', 'nova'],
    ['us.amazon.nova-pro-v1:0', 'nova'],
    ['global.amazon.nova-2-lite-v1:0', 'nova'],
    ['arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/abcdef', 'nova'],
    ['amazon.titan-text-express-v1', 'titan'],
    ['meta.llama3-1-70b-instruct-v1:0', 'llama'],
    ['us-gov.meta.llama3-8b-instruct-v1:0', 'llama'],
    ['arn:aws:bedrock:us-west-2::foundation-model/meta.llama4-maverick-17b-instruct-v1:0', 'llama'],
    ['mistral.mistral-large-2407-v1:0', 'mistral'],
    ['cohere.command-r-plus-v1:0', 'cohere'],
    ['ai21.jamba-1-5-large-v1:0', 'ai21'],
    ['us.deepseek.r1-v1:0', 'deepseek'],
    ['openai.gpt-oss-120b-1:0', 'openai'],
    ['qwen.qwen3-32b-v1:0', 'qwen'],
    ['writer.palmyra-x5-v1:0', 'other'],
    ['arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3', 'unknown'],
    ['arn:aws:bedrock:us-east-1:123456789012:imported-model/xyz', 'unknown'],
  ])('%s → %s', (id, family) => {
    expect(bedrockFamily(id)).toBe(family);
  });
});

describe('toConverseRequest: top_k and penalties per family', () => {
  const hi = { messages: [{ role: 'user', content: 'hi' }] };
  it.each([
    ['us.anthropic.claude-3-5-haiku-20241022-v1:0', { top_k: 7 }],
    ['us.amazon.nova-pro-v1:0', { inferenceConfig: { topK: 7 } }],
    ['cohere.command-r-v1:0', { k: 7 }],
    ['mistral.mistral-7b-instruct-v0:2', { top_k: 7 }],
    ['mistral.mistral-large-2407-v1:0', undefined],
    ['meta.llama3-1-70b-instruct-v1:0', undefined],
    ['openai.gpt-oss-20b-1:0', undefined],
    // An ARN that names no family gets no family-specific field (before: Claude's top_k, a 400 elsewhere).
    ['arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc', undefined],
  ])('top_k to %s → additionalModelRequestFields %j', (model, fields) => {
    expect(toConverseRequest({ ...hi, top_k: 7 }, model).additionalModelRequestFields).toEqual(fields);
  });

  it("an ARN the Provider's modelFamilies places gets that family's fields; an own key only", () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc';
    expect(bedrockFamily(arn, { [arn]: 'nova' })).toBe('nova');
    expect(toConverseRequest({ ...hi, top_k: 7 }, arn, { [arn]: 'nova' }).additionalModelRequestFields).toEqual({ inferenceConfig: { topK: 7 } });
    expect(toConverseRequest({ ...hi, top_k: 7 }, arn, { [arn]: 'cohere' }).additionalModelRequestFields).toEqual({ k: 7 });
    expect(bedrockFamily('constructor', {})).toBe('unknown');
  });

  it('penalties: as sent to Cohere Command R and gpt-oss, a 400 naming the field and the model elsewhere, 0 dropped', () => {
    const penalties = { frequency_penalty: 0.5, presence_penalty: -0.5 };
    expect(toConverseRequest({ ...hi, ...penalties }, 'cohere.command-r-plus-v1:0').additionalModelRequestFields).toEqual(penalties);
    expect(toConverseRequest({ ...hi, ...penalties, seed: 3 }, 'openai.gpt-oss-120b-1:0').additionalModelRequestFields).toEqual({ ...penalties, seed: 3 });
    expect(() => toConverseRequest({ ...hi, frequency_penalty: 1 }, 'us.openai.gpt-5.6-luna-v1:0')).toThrow(/frequency_penalty \(other than 0\) is not supported by bedrock model us\.openai\.gpt-5\.6-luna-v1:0/);
    expect(toConverseRequest({ ...hi, seed: 3 }, 'meta.llama3-1-70b-instruct-v1:0')).not.toHaveProperty('additionalModelRequestFields');
    expect(() => toConverseRequest({ ...hi, presence_penalty: 1 }, 'us.deepseek.r1-v1:0')).toThrow(
      new RequestTranslationError('presence_penalty (other than 0) is not supported by bedrock model us.deepseek.r1-v1:0', 'presence_penalty'),
    );
    expect(toConverseRequest({ ...hi, presence_penalty: 0, frequency_penalty: 0 }, 'meta.llama3-1-70b-instruct-v1:0')).not.toHaveProperty('additionalModelRequestFields');
  });
});

describe('toConverseRequest: reasoning_effort for gpt-oss', () => {
  const hi = { messages: [{ role: 'user', content: 'hi' }] };
  it.each([
    ['low', 'low'],
    ['medium', 'medium'],
    ['none', 'low'],
    ['max', 'high'],
    ['bogus', undefined],
  ])('%s → %s; other families get none', (asked, sent) => {
    const fields = toConverseRequest({ ...hi, reasoning_effort: asked }, 'openai.gpt-oss-20b-1:0').additionalModelRequestFields;
    expect(fields).toEqual(sent === undefined ? undefined : { reasoning_effort: sent });
    expect(toConverseRequest({ ...hi, reasoning_effort: asked }, 'meta.llama3-1-70b-instruct-v1:0')).not.toHaveProperty('additionalModelRequestFields');
  });
});

describe('Nova 2 reasoning', () => {
  const hi = { messages: [{ role: 'user', content: 'hi' }] };
  it('reasoning_effort is reasoningConfig beside top_k; it marks the request as reasoning unseen (Nova 2 bills its [REDACTED] reasoning)', () => {
    expect(toConverseRequest({ ...hi, top_k: 3, reasoning_effort: 'medium' }, 'us.amazon.nova-2-lite-v1:0').additionalModelRequestFields).toEqual({
      inferenceConfig: { topK: 3 },
      reasoningConfig: { type: 'enabled', maxReasoningEffort: 'medium' },
    });
    expect(bedrockReasonsUnseen({ ...hi, reasoning_effort: 'medium' }, 'us.amazon.nova-2-lite-v1:0')).toBe(true);
    expect(bedrockReasonsUnseen({ ...hi, reasoning_effort: 'none' }, 'us.amazon.nova-2-lite-v1:0')).toBe(false);
    expect(bedrockReasonsUnseen({ ...hi, reasoning_effort: 'medium' }, 'amazon.nova-pro-v1:0')).toBe(false);
  });
});
