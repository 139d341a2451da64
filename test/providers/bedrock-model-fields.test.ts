import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBedrockEmulator } from '../emulators/bedrock.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// The sampling fields Converse's inferenceConfig has no place for (top_k, the penalties) go in
// additionalModelRequestFields under the name each model family documents, and Converse answers
// 400 "extraneous key […] is not permitted" to any other (the emulator does as Bedrock, per family).
// Before, top_k went as `top_k` to every model, so /v1/messages requests with it failed on Nova,
// Llama or DeepSeek, and a penalty was refused even for the families that take one.

const AWS = { accessKeyId: 'AKIDFAMILY', secretAccessKey: 'family/secret' };
const MODELS = {
  claude: 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0',
  nova: 'us.amazon.nova-pro-v1:0',
  llama: 'meta.llama3-1-70b-instruct-v1:0',
  deepseek: 'us.deepseek.r1-v1:0',
  cohere: 'cohere.command-r-plus-v1:0',
  gptoss: 'openai.gpt-oss-120b-1:0',
  gpt: 'us.openai.gpt-5.6-luna-v1:0',
  mistral: 'mistral.mistral-large-2407-v1:0',
  mixtral: 'mistral.mixtral-8x7b-instruct-v0:1',
  nova2: 'us.amazon.nova-2-lite-v1:0',
  // ARNs that name no model (the emulator knows what each serves, as Bedrock does): a Nova and a
  // Llama provisioned throughput the Provider does not place, and a Nova one and a Claude
  // application inference profile it does (bedrock.modelFamilies).
  ptNova: 'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/pt-nova1',
  ptLlama: 'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/pt-llama',
  ptNamedNova: 'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/pt-nova2',
  appClaude: 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/app-claude',
} as const;
const FAMILIES = `{ ${JSON.stringify(MODELS.ptNamedNova)}: nova, ${JSON.stringify(MODELS.appClaude)}: anthropic }`;
type Family = keyof typeof MODELS;

describe('Bedrock: sampling fields per model family', () => {
  let bedrock: Emulator;
  let gateway: TestGateway;

  beforeAll(async () => {
    bedrock = await startBedrockEmulator(AWS, 'us-east-1');
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('bedrock', 'bedrock', bedrock.url, '{ aws: { secretName: aws } }', `  bedrock: { region: us-east-1, modelFamilies: ${FAMILIES} }\n`) +
        secretManifest('aws', { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey }),
      'routes.yaml': Object.entries(MODELS)
        .map(([name, model]) => routeManifest(name, [['bedrock', model]]))
        .join(''),
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await bedrock?.close();
  });

  const post = (path: string, body: object): Promise<Response> =>
    fetch(`${gateway.url}${path}`, { method: 'POST', headers: { authorization: 'Bearer client-key', 'x-api-key': 'client-key', 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
  const sent = (): Record<string, unknown> => bedrock.requests.at(-1)?.body ?? {};

  it.each<[Family, unknown]>([
    ['claude', { top_k: 5 }],
    ['nova', { inferenceConfig: { topK: 5 } }],
    ['cohere', { k: 5 }],
    ['mixtral', { top_k: 5 }],
    ['llama', undefined],
    ['deepseek', undefined],
    ['gptoss', undefined],
    ['gpt', undefined],
    ['mistral', undefined],
    // Before, an ARN that names no model got Claude's top_k, and Nova's or Llama's 400.
    ['ptNova', undefined],
    ['ptLlama', undefined],
    ['ptNamedNova', { inferenceConfig: { topK: 5 } }],
    ['appClaude', { top_k: 5 }],
  ])('/v1/messages top_k to %s: additionalModelRequestFields %j, and the model answers', async (family, fields) => {
    bedrock.script({ kind: 'text', text: 'sampled' });
    const problemsBefore = bedrock.problems.length;
    const res = await post('/v1/messages', { model: family, max_tokens: 64, top_k: 5, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { content: { text: string }[] }).content[0]?.text).toBe('sampled');
    expect(sent().additionalModelRequestFields).toEqual(fields);
    expect(bedrock.problems.slice(problemsBefore)).toEqual([]);
  });

  it.each<Family>(['cohere', 'gptoss'])('non-zero penalties and seed reach %s, which takes them, as frequency_penalty, presence_penalty and seed', async (family) => {
    bedrock.script({ kind: 'text', text: 'penalised' });
    const problemsBefore = bedrock.problems.length;
    const res = await post('/v1/chat/completions', { model: family, messages: [{ role: 'user', content: 'hi' }], frequency_penalty: 0.5, presence_penalty: 0.25, seed: 42 });
    expect(res.status).toBe(200);
    expect(sent().additionalModelRequestFields).toEqual({ frequency_penalty: 0.5, presence_penalty: 0.25, seed: 42 });
    expect(bedrock.problems.slice(problemsBefore)).toEqual([]);
  });

  it.each<[object, string]>([
    [{ reasoning_effort: 'high' }, 'high'],
    [{ reasoning_effort: 'minimal' }, 'low'],
    [{ reasoning_effort: 'xhigh' }, 'high'],
  ])('reasoning_effort %j reaches gpt-oss as reasoning_effort %s', async (params, effort) => {
    bedrock.script({ kind: 'text', text: 'reasoned' });
    const problemsBefore = bedrock.problems.length;
    const res = await post('/v1/chat/completions', { model: 'gptoss', messages: [{ role: 'user', content: 'hi' }], ...params });
    expect(res.status).toBe(200);
    expect(sent().additionalModelRequestFields).toEqual({ reasoning_effort: effort });
    expect(bedrock.problems.slice(problemsBefore)).toEqual([]);
  });

  it('a /v1/messages thinking budget reaches gpt-oss as its reasoning_effort band; Llama gets none', async () => {
    bedrock.script({ kind: 'text', text: 'reasoned' });
    const thinking = { type: 'enabled', budget_tokens: 2048 };
    expect((await post('/v1/messages', { model: 'gptoss', max_tokens: 4096, thinking, messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
    expect(sent().additionalModelRequestFields).toEqual({ reasoning_effort: 'low' });
    bedrock.script({ kind: 'text', text: 'plain' });
    expect((await post('/v1/messages', { model: 'llama', max_tokens: 4096, thinking, messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
    expect(sent()).not.toHaveProperty('additionalModelRequestFields');
  });

  it.each<[object, string]>([
    [{ reasoning_effort: 'high' }, 'high'],
    [{ reasoning_effort: 'minimal' }, 'low'],
    [{ reasoning_effort: 'xhigh' }, 'high'],
  ])('reasoning_effort %j reaches Nova 2 as reasoningConfig.maxReasoningEffort %s; Nova 1, which has no reasoningConfig, gets none', async (params, effort) => {
    // Before, Nova 2's extended thinking could not be turned on through the gateway.
    bedrock.script({ kind: 'text', text: 'reasoned' }, { kind: 'text', text: 'plain' });
    const problemsBefore = bedrock.problems.length;
    expect((await post('/v1/chat/completions', { model: 'nova2', messages: [{ role: 'user', content: 'hi' }], ...params })).status).toBe(200);
    expect(sent().additionalModelRequestFields).toEqual({ reasoningConfig: { type: 'enabled', maxReasoningEffort: effort } });
    expect((await post('/v1/chat/completions', { model: 'nova', messages: [{ role: 'user', content: 'hi' }], ...params })).status).toBe(200);
    expect(sent()).not.toHaveProperty('additionalModelRequestFields');
    expect(bedrock.problems.slice(problemsBefore)).toEqual([]);
  });

  it('a /v1/messages thinking budget reaches Nova 2 as its effort band; reasoning_effort none leaves its reasoning off', async () => {
    bedrock.script({ kind: 'text', text: 'reasoned' }, { kind: 'text', text: 'plain' });
    expect((await post('/v1/messages', { model: 'nova2', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
    expect(sent().additionalModelRequestFields).toEqual({ reasoningConfig: { type: 'enabled', maxReasoningEffort: 'low' } });
    expect((await post('/v1/chat/completions', { model: 'nova2', reasoning_effort: 'none', messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
    expect(sent()).not.toHaveProperty('additionalModelRequestFields');
  });

  it('seed is left out for the families without one (Llama), which answer', async () => {
    bedrock.script({ kind: 'text', text: 'seeded' });
    const res = await post('/v1/chat/completions', { model: 'llama', messages: [{ role: 'user', content: 'hi' }], seed: 42 });
    expect(res.status).toBe(200);
    expect(sent()).not.toHaveProperty('additionalModelRequestFields');
  });

  it.each<Family>(['llama', 'nova', 'claude', 'gpt'])('a non-zero penalty to %s, which has none, is a 400 unsupported_by_provider naming it and the model, before any upstream call', async (family) => {
    const before = bedrock.requests.length;
    const res = await post('/v1/chat/completions', { model: family, messages: [{ role: 'user', content: 'hi' }], presence_penalty: 0.5 });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; param: string; message: string } };
    expect(error).toMatchObject({ code: 'unsupported_by_provider', param: 'presence_penalty' });
    expect(error.message).toContain(MODELS[family]);
    expect(bedrock.requests.length).toBe(before);
  });

  it('penalties of 0 (the default some client libraries send) are dropped, and Llama answers', async () => {
    bedrock.script({ kind: 'text', text: 'zero' });
    const res = await post('/v1/chat/completions', { model: 'llama', messages: [{ role: 'user', content: 'hi' }], presence_penalty: 0, frequency_penalty: 0 });
    expect(res.status).toBe(200);
    expect(sent()).not.toHaveProperty('additionalModelRequestFields');
  });
});
