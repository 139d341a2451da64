import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBedrockEmulator } from '../emulators/bedrock.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { startGeminiEmulator } from '../emulators/gemini.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// OpenAI's `service_tier` on Bedrock (Converse's `serviceTier`) and the Gemini API (its own
// `service_tier`): `flex` and `priority` are sold there under the same names and are sent; the
// standard tier (`auto`, `default`) is each API's default and is left out. An answer is charged
// at the tier it says it ran at (Converse's `serviceTier`, Gemini's `x-gemini-service-tier`), else
// at the one asked for. Before, the field was dropped: a caller asking for flex paid the standard
// price, one asking for priority did not get it.

const AWS = { accessKeyId: 'AKIDTIERS', secretAccessKey: 'tiers/secret' };
const BEDROCK_MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const GEMINI_MODEL = 'gemini-2.5-flash';
const hi: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];

describe('service_tier on Bedrock and Gemini targets', () => {
  let bedrock: Emulator;
  let gemini: Emulator;
  let gateway: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    [bedrock, gemini] = await Promise.all([startBedrockEmulator(AWS, 'us-east-1'), startGeminiEmulator('gemini-tiers')]);
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('bedrock', 'bedrock', bedrock.url, '{ aws: { secretName: aws } }', '  bedrock: { region: us-east-1 }\n', BEDROCK_MODEL) +
        secretManifest('aws', { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey }) +
        providerManifest('gemini', 'gemini', gemini.url, '{ secretRef: { name: gemini, key: apiKey } }', '', GEMINI_MODEL) +
        secretManifest('gemini', { apiKey: 'gemini-tiers' }),
      'routes.yaml': routeManifest('to-bedrock', [['bedrock', BEDROCK_MODEL]]) + routeManifest('to-gemini', [['gemini', GEMINI_MODEL]]),
    });
    client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([bedrock?.close(), gemini?.close()]);
  });

  /** The cost of one answer to this request, as recorded. */
  async function charged(model: string, params: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>, stream = false): Promise<number> {
    const before = gateway.usage.records.length;
    if (stream) {
      const s = await client.chat.completions.create({ model, messages: hi, ...params, stream: true });
      for await (const _ of s);
    } else {
      const answer = await client.chat.completions.create({ model, messages: hi, ...params, stream: false });
      expect(answer.choices[0]?.message.content).toBe('ok');
    }
    await expect.poll(() => gateway.usage.records.length, { timeout: 3_000 }).toBe(before + 1);
    return gateway.usage.records[before]?.costUsd ?? Number.NaN;
  }

  it.each([
    ['flex', { type: 'flex' }],
    ['priority', { type: 'priority' }],
    ['default', undefined],
    ['auto', undefined],
  ] as const)('Bedrock: service_tier %s → serviceTier %j', async (tier, sent) => {
    bedrock.script({ kind: 'text', text: 'ok' });
    await client.chat.completions.create({ model: 'to-bedrock', messages: hi, service_tier: tier });
    expect(bedrock.requests.at(-1)?.body.serviceTier).toEqual(sent);
    expect(bedrock.problems).toEqual([]);
  });

  it.each([
    ['flex', 'FLEX'],
    ['priority', 'PRIORITY'],
    ['default', undefined],
    ['auto', undefined],
  ] as const)('Gemini: service_tier %s → service_tier %j', async (tier, sent) => {
    gemini.script({ kind: 'text', text: 'ok' });
    await client.chat.completions.create({ model: 'to-gemini', messages: hi, service_tier: tier });
    expect(gemini.requests.at(-1)?.body.service_tier).toEqual(sent);
    expect(gemini.problems).toEqual([]);
  });

  it.each(['to-bedrock', 'to-gemini'])('%s: an answer run at the priority tier is charged twice the standard prices, whole or streamed; flex at the standard ones', async (model) => {
    const upstream = model === 'to-bedrock' ? bedrock : gemini;
    upstream.script({ kind: 'text', text: 'ok' }, { kind: 'text', text: 'ok' }, { kind: 'text', text: 'ok' }, { kind: 'text', text: 'ok' });
    const standard = await charged(model, {});
    expect(standard).toBeGreaterThan(0);
    expect(await charged(model, { service_tier: 'priority' })).toBeCloseTo(2 * standard, 9);
    expect(await charged(model, { service_tier: 'priority' }, true)).toBeCloseTo(2 * standard, 9);
    expect(await charged(model, { service_tier: 'flex' })).toBeCloseTo(standard, 9);
    expect(upstream.problems).toEqual([]);
  });
});
