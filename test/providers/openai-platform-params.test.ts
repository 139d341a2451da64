import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// What reaches OpenAI's own API (and Azure OpenAI) from the official SDKs: the output cap as
// max_completion_tokens (reasoning models refuse max_tokens) and no top_k (OpenAI refuses it), while
// an OpenAI-compatible server (vLLM takes top_k) gets the fields as they came.

/** With the Messages API's top_k, which this SDK version no longer types (nor temperature); the API still takes them. */
function withTopK(params: Record<string, unknown>): Anthropic.MessageCreateParamsNonStreaming {
  return { ...params, top_k: 5 } as unknown as Anthropic.MessageCreateParamsNonStreaming;
}

describe('request fields OpenAI does not take', () => {
  let upstream: OpenAiUpstream;
  let gateway: TestGateway;
  let anthropic: Anthropic;
  let openai: OpenAI;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream();
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('oai', 'openai', upstream.baseUrl, '{ secretRef: { name: keys, key: apiKey } }') +
        providerManifest('azure', 'azure-openai', upstream.url, '{ secretRef: { name: keys, key: apiKey } }', '  azure: { deployment: o3 }\n') +
        providerManifest('compatible', 'openai-compatible', upstream.baseUrl, '{ secretRef: { name: keys, key: apiKey } }') +
        secretManifest('keys', { apiKey: 'sk-up' }),
      'routes.yaml': routeManifest('via-openai', [['oai', 'o3']]) + routeManifest('via-azure', [['azure', 'o3']]) + routeManifest('via-vllm', [['compatible', 'm']]),
    });
    anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gateway.url, maxRetries: 0 });
    openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  const sent = (): Record<string, unknown> => upstream.requests[upstream.requests.length - 1]?.body ?? {};

  for (const model of ['via-openai', 'via-azure']) {
    it(`/v1/messages with top_k to ${model}: max_completion_tokens, no max_tokens, no top_k (nor the temperature o3 refuses)`, async () => {
      upstream.script({ kind: 'ok', content: 'hi' });
      const msg = await anthropic.messages.create(withTopK({ model, max_tokens: 64, temperature: 0.2, messages: [{ role: 'user', content: 'Hello' }] }));
      expect(msg.content).toEqual([{ type: 'text', text: 'hi' }]);
      expect(sent()).toMatchObject({ max_completion_tokens: 64 });
      // o3 is a reasoning model: a translated request's temperature is left out (openai-thinking.test.ts).
      expect(sent()).not.toHaveProperty('temperature');
      expect(sent()).not.toHaveProperty('max_tokens');
      expect(sent()).not.toHaveProperty('top_k');
    });
  }

  it('/v1/chat/completions with max_tokens to OpenAI: sent as max_completion_tokens', async () => {
    upstream.script({ kind: 'ok', content: 'hi' });
    await openai.chat.completions.create({ model: 'via-openai', max_tokens: 32, messages: [{ role: 'user', content: 'Hello' }] });
    expect(sent()).toMatchObject({ max_completion_tokens: 32 });
    expect(sent()).not.toHaveProperty('max_tokens');
  });

  it('an OpenAI-compatible server (vLLM) keeps max_tokens and top_k', async () => {
    upstream.script({ kind: 'ok', content: 'hi' });
    await anthropic.messages.create(withTopK({ model: 'via-vllm', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] }));
    expect(sent()).toMatchObject({ max_tokens: 64, top_k: 5 });
    expect(sent()).not.toHaveProperty('max_completion_tokens');
  });
});
