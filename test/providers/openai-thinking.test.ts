import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureOpenAiEmulator } from '../emulators/azure-openai.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// A /v1/messages client's extended thinking (`thinking: {type: "enabled", budget_tokens}`) through the
// official Anthropic SDK, on routes to OpenAI reasoning models (OpenAI, Azure OpenAI, an
// OpenAI-compatible server with gpt-oss): the budget reaches the upstream as `reasoning_effort`,
// the reasoning tokens it reports are in the answer's output_tokens, and no thinking block is made
// up where the upstream returned no reasoning text. Before, `thinking` was dropped and the model
// reasoned at its default effort whatever the budget.

const ASK: Anthropic.MessageParam[] = [{ role: 'user', content: 'How many primes are below 20?' }];

/** The SDK refuses a large max_tokens without streaming unless the caller sets its own timeout. */
const LONG = { timeout: 20_000 };

describe('extended thinking from /v1/messages to OpenAI reasoning models', () => {
  let upstream: OpenAiUpstream;
  let azure: Emulator;
  let gateway: TestGateway;
  let client: Anthropic;

  beforeAll(async () => {
    // OpenAI's own parameter checks: `thinking` or a reasoning_effort for gpt-4o would be 400s.
    upstream = await startOpenAiUpstream({ platformChecks: true });
    // An Azure o4-mini deployment, with Azure's rules for reasoning deployments and its wire shapes.
    azure = await startAzureOpenAiEmulator('reasoner', 'azure-key', '2024-12-01-preview', { model: 'o4-mini' });
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('oai', 'openai', upstream.baseUrl, '{ secretRef: { name: keys, key: apiKey } }') +
        providerManifest('azure', 'azure-openai', upstream.url, '{ secretRef: { name: keys, key: apiKey } }', '  azure: { deployment: o3 }\n') +
        providerManifest('compatible', 'openai-compatible', upstream.baseUrl, '{ secretRef: { name: keys, key: apiKey } }') +
        providerManifest('azure-emulated', 'azure-openai', azure.url, '{ secretRef: { name: azure, key: apiKey } }', '  azure: { deployment: reasoner, apiVersion: "2024-12-01-preview" }\n') +
        secretManifest('keys', { apiKey: 'sk-up' }) +
        secretManifest('azure', { apiKey: 'azure-key' }),
      'routes.yaml':
        routeManifest('o3', [['oai', 'o3']]) +
        routeManifest('gpt-5-mini', [['oai', 'gpt-5-mini']]) +
        routeManifest('gpt-4o', [['oai', 'gpt-4o']]) +
        routeManifest('azure-o3', [['azure', 'o3']]) +
        routeManifest('gpt-oss', [['compatible', 'gpt-oss-120b']]) +
        routeManifest('azure-o4-mini', [['azure-emulated', 'o4-mini']]),
    });
    client = new Anthropic({ apiKey: 'client-key', baseURL: gateway.url, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([upstream?.close(), azure?.close()]);
  });

  const sent = (): Record<string, unknown> => upstream.requests[upstream.requests.length - 1]?.body ?? {};

  for (const [route, budget, effort] of [
    ['o3', 2048, 'low'],
    ['gpt-5-mini', 8000, 'medium'],
    ['azure-o3', 20000, 'high'],
  ] as const) {
    it(`${route}: budget_tokens ${budget} → reasoning_effort ${effort}; reasoning tokens are output tokens`, async () => {
      upstream.script({ kind: 'ok', content: 'Eight.', usage: { prompt: 12, completion: 300, reasoning: 256 } });
      const msg = await client.messages.create({ model: route, max_tokens: 32000, thinking: { type: 'enabled', budget_tokens: budget }, messages: ASK }, LONG);
      expect(sent()).toMatchObject({ reasoning_effort: effort, max_completion_tokens: 32000 });
      expect(sent()).not.toHaveProperty('thinking');
      // OpenAI's chat API returns no reasoning text: no thinking block is invented, and no signature.
      expect(msg.content).toEqual([{ type: 'text', text: 'Eight.' }]);
      // completion_tokens (reasoning included) is Anthropic's output_tokens, which counts thinking too.
      expect(msg.usage).toMatchObject({ input_tokens: 12, output_tokens: 300 });
    });
  }

  it('streamed: reasoning_effort sent, and the final message_delta counts the reasoning tokens as output', async () => {
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0, content: 'tok', reasoningTokens: 40 });
    const stream = client.messages.stream({ model: 'o3', max_tokens: 8000, thinking: { type: 'enabled', budget_tokens: 4096 }, messages: ASK });
    const final = await stream.finalMessage();
    expect(sent()).toMatchObject({ reasoning_effort: 'medium', stream: true });
    expect(final.content).toEqual([{ type: 'text', text: 'tok tok tok' }]);
    expect(final.usage.output_tokens).toBe(43);
  });

  it("an OpenAI-compatible gpt-oss: reasoning_effort sent, and its reasoning_content is an unsigned thinking block", async () => {
    upstream.script({ kind: 'ok', content: 'Eight.', reasoningContent: '2, 3, 5, 7, 11, 13, 17, 19.', usage: { prompt: 12, completion: 30, reasoning: 20 } });
    const msg = await client.messages.create({ model: 'gpt-oss', max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: ASK });
    expect(sent()).toMatchObject({ reasoning_effort: 'low' });
    expect(msg.content).toEqual([
      { type: 'thinking', thinking: '2, 3, 5, 7, 11, 13, 17, 19.', signature: '' },
      { type: 'text', text: 'Eight.' },
    ]);
    expect(msg.usage.output_tokens).toBe(30);
  });

  it('Azure o4-mini deployment: reasoning_effort on its deployment URL, whole and streamed; its reasoning tokens are output', async () => {
    azure.script({ kind: 'text', text: 'Eight primes.' });
    const msg = await client.messages.create({ model: 'azure-o4-mini', max_tokens: 8000, thinking: { type: 'enabled', budget_tokens: 5000 }, messages: ASK });
    expect(azure.requests.at(-1)?.body).toMatchObject({ reasoning_effort: 'medium', max_completion_tokens: 8000 });
    expect(msg.content).toEqual([{ type: 'text', text: 'Eight primes.' }]);
    // Azure's usage: 20 prompt (5 cached), 8 completion of which 6 reasoning.
    expect(msg.usage).toMatchObject({ input_tokens: 15, cache_read_input_tokens: 5, output_tokens: 8 });
    const final = await client.messages.stream({ model: 'azure-o4-mini', max_tokens: 8000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: ASK }).finalMessage();
    expect(azure.requests.at(-1)?.body).toMatchObject({ reasoning_effort: 'low', stream: true });
    expect(final.content).toEqual([{ type: 'text', text: 'Eight primes.' }]);
    expect(final.usage.output_tokens).toBe(8);
    expect(azure.problems).toEqual([]);
  });

  it('a model without reasoning_effort (gpt-4o) gets neither field and answers', async () => {
    upstream.script({ kind: 'ok', content: 'Eight.' });
    const msg = await client.messages.create({ model: 'gpt-4o', max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: ASK });
    expect(sent()).not.toHaveProperty('reasoning_effort');
    expect(sent()).not.toHaveProperty('thinking');
    expect(msg.content).toEqual([{ type: 'text', text: 'Eight.' }]);
  });

  it('disabled thinking sends no reasoning_effort (the model keeps its default)', async () => {
    upstream.script({ kind: 'ok', content: 'Eight.' });
    await client.messages.create({ model: 'o3', max_tokens: 4000, thinking: { type: 'disabled' }, messages: ASK });
    expect(sent()).not.toHaveProperty('reasoning_effort');
  });

  const SCHEMA = { type: 'object', properties: { count: { type: 'integer' } }, required: ['count'], additionalProperties: false };

  it('output_config: effort → reasoning_effort on a reasoning model (xhigh and max as high, over a thinking budget), format → response_format json_schema', async () => {
    // Before, output_config was dropped at the door: the model answered in free text at its default effort.
    upstream.script({ kind: 'ok', content: '{"count":8}' });
    const msg = await client.messages.create({ model: 'o3', max_tokens: 4000, output_config: { effort: 'xhigh', format: { type: 'json_schema', schema: SCHEMA } }, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: ASK });
    expect(sent()).toMatchObject({ reasoning_effort: 'high', response_format: { type: 'json_schema', json_schema: { name: 'output', schema: SCHEMA } } });
    expect(sent()).not.toHaveProperty('output_config');
    expect(msg.content).toEqual([{ type: 'text', text: '{"count":8}' }]);

    upstream.script({ kind: 'ok', content: '{"count":8}' });
    await client.messages.create({ model: 'gpt-4o', max_tokens: 4000, output_config: { effort: 'low', format: { type: 'json_schema', schema: SCHEMA } }, messages: ASK });
    expect(sent()).toMatchObject({ response_format: { type: 'json_schema', json_schema: { name: 'output', schema: SCHEMA } } });
    expect(sent()).not.toHaveProperty('reasoning_effort');
    expect(sent()).not.toHaveProperty('output_config');
  });

  it('temperature and top_p: dropped for a reasoning model when translated from /v1/messages, kept for others; an OpenAI client gets OpenAI\'s own 400', async () => {
    // Before, a Claude client's temperature reached o3 and the answer was OpenAI's 400 "Unsupported value".
    // (This SDK's types have dropped temperature and top_p; older SDKs and other clients still send them.)
    const sampling: Record<string, number> = { temperature: 0.2, top_p: 0.9 };
    upstream.script({ kind: 'ok', content: 'Eight.' });
    const msg = await client.messages.create({ model: 'o3', max_tokens: 4000, ...sampling, messages: ASK });
    expect(msg.content).toEqual([{ type: 'text', text: 'Eight.' }]);
    expect(sent()).not.toHaveProperty('temperature');
    expect(sent()).not.toHaveProperty('top_p');

    upstream.script({ kind: 'ok', content: 'Eight.' });
    await client.messages.create({ model: 'azure-o3', max_tokens: 4000, ...sampling, messages: ASK });
    expect(sent()).not.toHaveProperty('temperature');

    upstream.script({ kind: 'ok', content: 'Eight.' });
    await client.messages.create({ model: 'gpt-4o', max_tokens: 4000, ...sampling, messages: ASK });
    expect(sent()).toMatchObject({ temperature: 0.2, top_p: 0.9 });

    // An OpenAI client's own request is forwarded as sent: it sees OpenAI's error, naming the parameter.
    upstream.script({ kind: 'ok', content: 'Eight.' });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'o3', temperature: 0.2, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'temperature', code: 'unsupported_value' } });
    expect(sent()).toMatchObject({ temperature: 0.2 });
  });
});
