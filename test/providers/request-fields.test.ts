import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicEmulator } from '../emulators/anthropic.js';
import { startBedrockEmulator } from '../emulators/bedrock.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { startGeminiEmulator } from '../emulators/gemini.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// The OpenAI request fields that are about the caller rather than the answer (`user` and
// `safety_identifier`, `metadata`, `service_tier`, `store`, `prediction`, `seed`) on translated
// targets: each is sent in the target's own terms where it has them, and otherwise left out without
// the target refusing the request. /v1/messages' mirror fields (`metadata.user_id`, `service_tier`)
// the same way, to every target.

const AWS = { accessKeyId: 'AKIDFIELDS', secretAccessKey: 'fields/secret' };
const hi: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];
/** The caller-side fields no translated target has (OpenAI-only: stored completions, predicted outputs). */
const OPENAI_ONLY = { store: true, prediction: { type: 'content' as const, content: 'hi there' } };

describe('request fields on translated targets', () => {
  let claude: Emulator;
  let gemini: Emulator;
  let bedrock: Emulator;
  let openai: OpenAiUpstream;
  let gateway: TestGateway;
  let client: OpenAI;
  let anthropicClient: Anthropic;

  beforeAll(async () => {
    [claude, gemini, bedrock, openai] = await Promise.all([
      startAnthropicEmulator('sk-ant-fields'),
      startGeminiEmulator('gemini-fields'),
      startBedrockEmulator(AWS, 'eu-west-1'),
      // OpenAI's own checks: a service_tier it does not know (Anthropic's standard_only) is its 400.
      startOpenAiUpstream({ platformChecks: true }),
    ]);
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('claude', 'anthropic', claude.url, '{ secretRef: { name: claude, key: apiKey } }') +
        secretManifest('claude', { apiKey: 'sk-ant-fields' }) +
        providerManifest('gemini', 'gemini', gemini.url, '{ secretRef: { name: gemini, key: apiKey } }') +
        secretManifest('gemini', { apiKey: 'gemini-fields' }) +
        providerManifest('bedrock', 'bedrock', bedrock.url, '{ aws: { secretName: aws } }', '  bedrock: { region: eu-west-1 }\n') +
        secretManifest('aws', { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey }) +
        openAiProvider('oai', openai.baseUrl),
      'routes.yaml':
        routeManifest('to-claude', [['claude', 'claude-sonnet-4-5']]) +
        routeManifest('to-gemini', [['gemini', 'gemini-2.0-flash']]) +
        routeManifest('to-bedrock', [['bedrock', 'anthropic.claude-3-5-haiku-20241022-v1:0']]) +
        routeManifest('to-bedrock-nova', [['bedrock', 'amazon.nova-lite-v1:0']]) +
        routeManifest('to-openai', [['oai', 'gpt-4o']]),
    });
    client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    anthropicClient = new Anthropic({ apiKey: 'client-key', baseURL: gateway.url, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([claude?.close(), gemini?.close(), bedrock?.close(), openai?.close()]);
  });

  it.each([
    [{ safety_identifier: 'hash-safe', user: 'hash-user' }, 'hash-safe'],
    [{ user: 'hash-user' }, 'hash-user'],
    [{ safety_identifier: 'x'.repeat(257), user: 'hash-user' }, 'hash-user'],
    [{ user: 'x'.repeat(257) }, undefined],
  ])('Anthropic: %j → metadata.user_id %j (safety_identifier first; an id longer than the API takes is left out)', async (params, userId) => {
    // Before, safety_identifier (OpenAI's successor to user) was dropped, and an over-long user was Anthropic's 400.
    claude.script({ kind: 'text', text: 'ok' });
    const answer = await client.chat.completions.create({ model: 'to-claude', messages: hi, ...params } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(answer.choices[0]?.message.content).toBe('ok');
    const sent = claude.requests.at(-1)?.body ?? {};
    expect(sent.metadata).toEqual(userId === undefined ? undefined : { user_id: userId });
    expect(claude.problems).toEqual([]);
  });

  it.each([
    ['default', 'standard_only'],
    ['flex', 'standard_only'],
    ['auto', 'auto'],
    ['priority', 'auto'],
    ['scale', 'auto'],
  ] as const)('Anthropic: service_tier %s → %s', async (tier, anthropicTier) => {
    // Before, it was dropped: a caller asking for standard processing could use up Priority Tier capacity.
    claude.script({ kind: 'text', text: 'ok' });
    await client.chat.completions.create({ model: 'to-claude', messages: hi, service_tier: tier });
    expect(claude.requests.at(-1)?.body.service_tier).toBe(anthropicTier);
    expect(claude.problems).toEqual([]);
  });

  it('Anthropic, Gemini and Bedrock take a request with metadata, store, prediction, seed and service_tier: what they have no equivalent of is left out (service_tier: see service-tiers.test.ts)', async () => {
    const params = { messages: hi, metadata: { team: 'search' }, seed: 7, service_tier: 'priority' as const, user: 'u-1', ...OPENAI_ONLY };
    claude.script({ kind: 'text', text: 'ok' });
    gemini.script({ kind: 'text', text: 'ok' });
    bedrock.script({ kind: 'text', text: 'ok' });
    for (const model of ['to-claude', 'to-gemini', 'to-bedrock']) {
      const answer = await client.chat.completions.create({ model, ...params });
      expect(answer.choices[0]?.message.content).toBe('ok');
    }
    const toClaude = claude.requests.at(-1)?.body ?? {};
    expect(toClaude.metadata).toEqual({ user_id: 'u-1' });
    for (const key of ['store', 'prediction', 'seed']) expect(toClaude).not.toHaveProperty(key);
    const toGemini = gemini.requests.at(-1)?.body ?? {};
    expect(toGemini.generationConfig).toMatchObject({ seed: 7 });
    expect(Object.keys(toGemini).sort()).toEqual(['contents', 'generationConfig', 'service_tier']);
    const toBedrock = bedrock.requests.at(-1)?.body ?? {};
    expect(Object.keys(toBedrock).sort()).toEqual(['messages', 'requestMetadata', 'serviceTier']);
    expect([...claude.problems, ...gemini.problems, ...bedrock.problems]).toEqual([]);
  });

  it('Bedrock: metadata → requestMetadata (Claude and other models), pairs Converse would refuse left out', async () => {
    // Before, metadata was dropped: the account's invocation logs could not be filtered by it.
    const metadata = { team: 'search', 'run id': 'eval-2026/12:a+b', note: 'ünïcode', long: 'x'.repeat(257), empty: '' };
    for (const model of ['to-bedrock', 'to-bedrock-nova']) {
      bedrock.script({ kind: 'text', text: 'ok' });
      const answer = await client.chat.completions.create({ model, messages: hi, metadata });
      expect(answer.choices[0]?.message.content).toBe('ok');
      expect(bedrock.requests.at(-1)?.body.requestMetadata).toEqual({ team: 'search', 'run id': 'eval-2026/12:a+b', empty: '' });
    }
    bedrock.script({ kind: 'text', text: 'ok' });
    await client.chat.completions.create({ model: 'to-bedrock', messages: hi, metadata: { note: 'ünïcode' } });
    expect(bedrock.requests.at(-1)?.body).not.toHaveProperty('requestMetadata');
    expect(bedrock.problems).toEqual([]);
  });

  it('/v1/messages: service_tier and metadata.user_id reach an Anthropic target as sent, OpenAI in its terms, and are left out where there is none', async () => {
    // Before, service_tier was dropped on the way to every target, Anthropic's included.
    const request = { max_tokens: 32, messages: [{ role: 'user' as const, content: 'hi' }], metadata: { user_id: 'hash-9' } };
    for (const tier of ['standard_only', 'auto'] as const) {
      claude.script({ kind: 'text', text: 'ok' });
      await anthropicClient.messages.create({ model: 'to-claude', ...request, service_tier: tier });
      expect(claude.requests.at(-1)?.body).toMatchObject({ service_tier: tier, metadata: { user_id: 'hash-9' } });

      openai.script({ kind: 'ok', content: 'ok' });
      const viaOpenAi = await anthropicClient.messages.create({ model: 'to-openai', ...request, service_tier: tier });
      expect(viaOpenAi.content).toEqual([{ type: 'text', text: 'ok' }]);
      expect(openai.requests.at(-1)?.body).toMatchObject({ service_tier: tier === 'standard_only' ? 'default' : 'auto', user: 'hash-9' });
    }
    gemini.script({ kind: 'text', text: 'ok' });
    await anthropicClient.messages.create({ model: 'to-gemini', ...request, service_tier: 'standard_only' });
    expect(Object.keys(gemini.requests.at(-1)?.body ?? {}).sort()).toEqual(['contents', 'generationConfig']);
    bedrock.script({ kind: 'text', text: 'ok' });
    await anthropicClient.messages.create({ model: 'to-bedrock', ...request, service_tier: 'standard_only' });
    expect(Object.keys(bedrock.requests.at(-1)?.body ?? {}).sort()).toEqual(['inferenceConfig', 'messages']);
    expect([...claude.problems, ...gemini.problems, ...bedrock.problems]).toEqual([]);
  });

  it('/v1/messages: a service_tier the Messages API does not know is its 400, naming the field', async () => {
    const err = (await anthropicClient.messages
      .create({ model: 'to-claude', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }], service_tier: 'priority' as 'auto' })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.message).toMatch(/service_tier/);
  });
});
