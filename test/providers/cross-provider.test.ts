import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../dataplane/metering/usage-record.js';
import { startAnthropicEmulator } from '../emulators/anthropic.js';
import { startAzureOpenAiEmulator } from '../emulators/azure-openai.js';
import { startBedrockEmulator } from '../emulators/bedrock.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { startGeminiEmulator } from '../emulators/gemini.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { captureUsage, providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// Failover between providers that speak different wire formats: the first target's failure is
// classified by its own adapter, retried per the route's policy, and the next target's adapter
// serves the same OpenAI request in its own format. Streaming and not.

const AWS = { accessKeyId: 'AKIDCROSSTEST', secretAccessKey: 'cross/secret', sessionToken: 'cross-session' };

const RETRY = '{ attempts: 2, backoff: { initial: 1ms, max: 5ms } }';

async function collect(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<{ text: string; finish: string | null | undefined; usage: OpenAI.CompletionUsage | undefined; ids: Set<string> }> {
  let text = '';
  let finish: string | null | undefined;
  let usage: OpenAI.CompletionUsage | undefined;
  const ids = new Set<string>();
  for await (const chunk of stream) {
    ids.add(chunk.id);
    text += chunk.choices[0]?.delta.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, finish, usage, ids };
}

describe('cross-provider failover', () => {
  let anthropic: Emulator;
  let gemini: Emulator;
  let bedrock: Emulator;
  let azure: Emulator;
  let openai: OpenAiUpstream;
  let gateway: TestGateway;
  let client: OpenAI;
  let records: UsageRecord[] = [];

  beforeAll(async () => {
    [anthropic, gemini, bedrock, azure, openai] = await Promise.all([
      startAnthropicEmulator('sk-ant-cross'),
      startGeminiEmulator('gemini-cross'),
      startBedrockEmulator(AWS, 'eu-west-1'),
      startAzureOpenAiEmulator('gpt4o-cross', 'azure-cross', '2024-10-21'),
      startOpenAiUpstream(),
    ]);
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('claude', 'anthropic', anthropic.url, '{ secretRef: { name: claude, key: apiKey } }', '', 'claude-sonnet-4-5') +
        secretManifest('claude', { apiKey: 'sk-ant-cross' }) +
        providerManifest('gemini', 'gemini', gemini.url, '{ secretRef: { name: gemini, key: apiKey } }', '', 'gemini-2.0-flash') +
        secretManifest('gemini', { apiKey: 'gemini-cross' }) +
        providerManifest('bedrock', 'bedrock', bedrock.url, '{ aws: { secretName: aws } }', '  bedrock: { region: eu-west-1 }\n', 'anthropic.claude-3-5-haiku-20241022-v1:0') +
        secretManifest('aws', { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey, AWS_SESSION_TOKEN: AWS.sessionToken }) +
        providerManifest('azure', 'azure-openai', azure.url, '{ secretRef: { name: azure, key: apiKey } }', '  azure: { deployment: gpt4o-cross, apiVersion: "2024-10-21" }\n', 'gpt-4o') +
        secretManifest('azure', { apiKey: 'azure-cross' }) +
        openAiProvider('oai', openai.baseUrl),
      'routes.yaml':
        routeManifest('claude-then-gemini', [['claude', 'claude-sonnet-4-5'], ['gemini', 'gemini-2.0-flash']], RETRY) +
        routeManifest('bedrock-then-azure', [['bedrock', 'anthropic.claude-3-5-haiku-20241022-v1:0'], ['azure', 'gpt-4o']], RETRY) +
        routeManifest('claude-then-openai', [['claude', 'claude-sonnet-4-5'], ['oai', 'gpt-4o']], RETRY) +
        routeManifest('openai-then-claude', [['oai', 'gpt-4o'], ['claude', 'claude-sonnet-4-5']], RETRY) +
        routeManifest('claude-then-bedrock', [['claude', 'claude-sonnet-4-5'], ['bedrock', 'anthropic.claude-3-5-haiku-20241022-v1:0']], RETRY),
    });
    records = captureUsage(gateway);
    client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([anthropic?.close(), gemini?.close(), bedrock?.close(), azure?.close(), openai?.close()]);
  });

  const last = (): UsageRecord | undefined => records[records.length - 1];

  it('Anthropic 529 overloaded is retried on Anthropic, then served by Gemini', async () => {
    anthropic.script({ kind: 'overloaded' });
    gemini.script({ kind: 'text', text: 'Gemini to the rescue' });
    const before = anthropic.requests.length;
    const geminiBefore = gemini.requests.length;
    const { data, response } = await client.chat.completions
      .create({ model: 'claude-then-gemini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello?' }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Gemini to the rescue');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 8, prompt_tokens_details: { cached_tokens: 5 } });
    expect(response.headers.get('x-tollgate-provider')).toBe('default/gemini');
    expect(response.headers.get('x-tollgate-attempts')).toBe('3');
    // Gemini names no request: no upstream id (not the failed Anthropic attempts').
    expect(response.headers.get('x-upstream-request-id')).toBeNull();
    // Two Anthropic attempts (the retry policy), one Gemini attempt, each in its own wire format.
    expect(anthropic.requests.length - before).toBe(2);
    expect(gemini.requests.length - geminiBefore).toBe(1);
    const sent = gemini.requests[gemini.requests.length - 1]?.body ?? {};
    expect(sent.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }] });
    expect(gemini.requests[gemini.requests.length - 1]?.url).toBe('/v1beta/models/gemini-2.0-flash:generateContent');
    expect(last()).toMatchObject({ providerId: 'default/gemini', inputTokens: 20, outputTokens: 8, cachedInputTokens: 5, estimated: false });
  });

  it('streaming: Anthropic 529 before the first byte fails over to a Gemini stream', async () => {
    anthropic.script({ kind: 'overloaded' });
    gemini.script({ kind: 'text', text: 'Streamed by Gemini' });
    const before = anthropic.requests.length;
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'claude-then-gemini', messages: [{ role: 'user', content: 'Stream?' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(response.headers.get('x-tollgate-provider')).toBe('default/gemini');
    const out = await collect(stream);
    expect(out.text).toBe('Streamed by Gemini');
    expect(out.finish).toBe('stop');
    expect(out.ids.size).toBe(1);
    expect(out.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 8 });
    expect(anthropic.requests.length - before).toBe(2);
    expect(anthropic.requests[anthropic.requests.length - 1]?.body.stream).toBe(true);
    expect(gemini.requests[gemini.requests.length - 1]?.url).toBe('/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
    await new Promise((r) => setTimeout(r, 20));
    expect(last()).toMatchObject({ providerId: 'default/gemini', stream: true, estimated: false });
  });

  it('Anthropic 529 then success stays on Anthropic (the retry, not the failover, serves it)', async () => {
    anthropic.script({ kind: 'overloaded' }, { kind: 'text', text: 'Claude recovered' });
    const geminiBefore = gemini.requests.length;
    const { data, response } = await client.chat.completions.create({ model: 'claude-then-gemini', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe('Claude recovered');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/claude');
    expect(response.headers.get('x-tollgate-attempts')).toBe('2');
    // Anthropic's own request id (its request-id header), relayed.
    expect(response.headers.get('x-upstream-request-id')).toBe('req_emulated');
    expect(gemini.requests.length).toBe(geminiBefore);
  });

  it('tool calls survive the failover: the Gemini function call comes back as an OpenAI tool call', async () => {
    anthropic.script({ kind: 'overloaded' });
    gemini.script({ kind: 'tool', name: 'lookup', args: { q: 'tollgate' } });
    const res = await client.chat.completions.create({
      model: 'claude-then-gemini',
      messages: [{ role: 'user', content: 'Look it up' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
    });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' ? JSON.parse(call.function.arguments) : undefined).toEqual({ q: 'tollgate' });
    // Anthropic received the tool in its format before failing.
    expect(anthropic.requests[anthropic.requests.length - 1]?.body.tools).toEqual([{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }]);
  });

  it('Bedrock ThrottlingException is retried, then served by Azure OpenAI', async () => {
    bedrock.script({ kind: 'rate-limit' });
    azure.script({ kind: 'text', text: 'Azure answers' });
    const before = bedrock.requests.length;
    const { data, response } = await client.chat.completions.create({ model: 'bedrock-then-azure', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe('Azure answers');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/azure');
    expect(response.headers.get('x-tollgate-attempts')).toBe('3');
    expect(response.headers.get('x-upstream-request-id')).toBe('emulated');
    expect(bedrock.requests.length - before).toBe(2);
    expect(bedrock.requests[bedrock.requests.length - 1]?.url).toBe('/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse');
    expect(last()).toMatchObject({ providerId: 'default/azure', inputTokens: 20, outputTokens: 8, cachedInputTokens: 5 });
  });

  it('streaming: Bedrock ThrottlingException fails over to an Azure OpenAI stream', async () => {
    bedrock.script({ kind: 'rate-limit' });
    azure.script({ kind: 'text', text: 'Azure streams' });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'bedrock-then-azure', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(response.headers.get('x-tollgate-provider')).toBe('default/azure');
    expect(response.headers.get('x-tollgate-attempts')).toBe('3');
    const out = await collect(stream);
    expect(out.text).toBe('Azure streams');
    expect(out.finish).toBe('stop');
    expect(out.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 8 });
    expect(bedrock.requests[bedrock.requests.length - 1]?.url).toBe('/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream');
  });

  it('a client error on the first provider is not failed over', async () => {
    anthropic.script({ kind: 'bad-request', message: 'max_tokens: too large' });
    const geminiBefore = gemini.requests.length;
    const err = await client.chat.completions.create({ model: 'claude-then-gemini', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(gemini.requests.length).toBe(geminiBefore);
  });

  it('a response_format the forced tool cannot express goes to the next target, which can; nothing is sent to the first', async () => {
    gemini.script({ kind: 'text', text: '[]' });
    const before = anthropic.requests.length;
    const { data, response } = await client.chat.completions
      .create({ model: 'claude-then-gemini', messages: [{ role: 'user', content: 'List' }], response_format: { type: 'json_schema', json_schema: { name: 'list', schema: { type: 'array' } } } })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('[]');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/gemini');
    expect(response.headers.get('x-tollgate-attempts')).toBe('1');
    expect(anthropic.requests.length).toBe(before);
  });

  it('completions, which Anthropic cannot serve, are served by the OpenAI target of the route', async () => {
    const before = anthropic.requests.length;
    const { data, response } = await client.completions.create({ model: 'claude-then-openai', prompt: 'say hi', max_tokens: 5 }).withResponse();
    expect(data.choices[0]?.text).toBe('hi');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/oai');
    expect(response.headers.get('x-tollgate-attempts')).toBe('1');
    expect(anthropic.requests.length).toBe(before);
    expect(openai.requests.at(-1)?.body.model).toBe('gpt-4o');
  });

  it('a target that took the request and failed says why, not the one that could not express it', async () => {
    openai.script({ kind: 'error', status: 500 });
    try {
      const err = (await client.completions.create({ model: 'openai-then-claude', prompt: 'say hi', max_tokens: 5 }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err.status).toBe(502);
      expect(err.message).toMatch(/default\/oai \(gpt-4o\): HTTP 500 ServerError/);
    } finally {
      openai.script();
    }
  });

  it("when no target can express the request: the first one's 400, before any upstream call", async () => {
    const before = anthropic.requests.length + bedrock.requests.length;
    const err = (await client.completions.create({ model: 'claude-then-bedrock', prompt: 'say hi', max_tokens: 5 }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('unsupported_by_provider');
    expect(err.message).toBe('400 completions is not supported by anthropic providers; use chat completions');
    expect(err.headers?.get('x-tollgate-attempts')).toBe('0');
    expect(anthropic.requests.length + bedrock.requests.length).toBe(before);
  });

  it.each([
    [{ logprobs: true }, 'logprobs'],
    [{ logprobs: false, top_logprobs: 3 }, 'top_logprobs'],
  ])('logprobs asked of Anthropic and Bedrock (%j) is a 400 unsupported_by_provider naming the parameter, before any upstream call', async (params, param) => {
    // Before, they were dropped: the answer said logprobs: null.
    const before = anthropic.requests.length + bedrock.requests.length;
    const err = (await client.chat.completions.create({ model: 'claude-then-bedrock', messages: [{ role: 'user', content: 'hi' }], ...params }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('unsupported_by_provider');
    expect(err.param).toBe(param);
    expect(anthropic.requests.length + bedrock.requests.length).toBe(before);
  });

  it.each([
    [{ presence_penalty: 0.5 }, 'presence_penalty'],
    [{ frequency_penalty: -1 }, 'frequency_penalty'],
  ])('a non-zero penalty (%j) asked of Anthropic and Bedrock is a 400 unsupported_by_provider naming it; Gemini, which has it, serves the failover', async (params, param) => {
    // Before, it was dropped silently: the answer was sampled without the penalty asked for.
    const before = anthropic.requests.length + bedrock.requests.length;
    const err = (await client.chat.completions.create({ model: 'claude-then-bedrock', messages: [{ role: 'user', content: 'hi' }], ...params }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('unsupported_by_provider');
    expect(err.param).toBe(param);
    expect(anthropic.requests.length + bedrock.requests.length).toBe(before);
    gemini.script({ kind: 'text', text: 'penalised' });
    const { data, response } = await client.chat.completions.create({ model: 'claude-then-gemini', messages: [{ role: 'user', content: 'hi' }], ...params }).withResponse();
    expect(data.choices[0]?.message.content).toBe('penalised');
    expect(gemini.requests.at(-1)?.body.generationConfig).toMatchObject(param === 'presence_penalty' ? { presencePenalty: 0.5 } : { frequencyPenalty: -1 });
    expect(response.headers.get('x-tollgate-provider')).toBe('default/gemini');
    expect(anthropic.requests.length + bedrock.requests.length).toBe(before);
    gemini.script();
  });

  it('penalties of 0 (the default some client libraries always send) are dropped on Anthropic, which serves the request', async () => {
    anthropic.script({ kind: 'text', text: 'zero is fine' });
    const { data, response } = await client.chat.completions
      .create({ model: 'claude-then-gemini', messages: [{ role: 'user', content: 'hi' }], presence_penalty: 0, frequency_penalty: 0 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('zero is fine');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/claude');
    const sent = anthropic.requests.at(-1)?.body ?? {};
    expect(sent).not.toHaveProperty('presence_penalty');
    expect(sent).not.toHaveProperty('frequency_penalty');
    anthropic.script();
  });

  it.each([
    [{ logit_bias: { '50256': -100 } }, 'logit_bias'],
    [{ modalities: ['text', 'audio'] as ('text' | 'audio')[], audio: { voice: 'alloy' as const, format: 'wav' as const } }, 'modalities'],
    [{ web_search_options: {} }, 'web_search_options'],
  ])('%j asked of Anthropic and Bedrock is a 400 unsupported_by_provider naming the parameter, and Gemini refuses it too', async (params, param) => {
    // Before, they were dropped: a banned token could be written, the answer came as text only, or without a search.
    const before = anthropic.requests.length + bedrock.requests.length + gemini.requests.length;
    for (const model of ['claude-then-bedrock', 'claude-then-gemini']) {
      const err = (await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], ...params }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.code).toBe('unsupported_by_provider');
      expect(err.param).toBe(param);
    }
    expect(anthropic.requests.length + bedrock.requests.length + gemini.requests.length).toBe(before);
  });

  it('tool_choice allowed_tools reaches Gemini and Bedrock as the allowed tools only, with its mode', async () => {
    const tool = (name: string): OpenAI.ChatCompletionTool => ({ type: 'function', function: { name, parameters: { type: 'object', properties: { q: { type: 'string' } } } } });
    const tools = [tool('search'), tool('delete_all')];
    const tool_choice: OpenAI.ChatCompletionToolChoiceOption = { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'search' } }] } };
    anthropic.script({ kind: 'overloaded' });
    gemini.script({ kind: 'tool', name: 'search', args: { q: 'x' } });
    const viaGemini = await client.chat.completions.create({ model: 'claude-then-gemini', messages: [{ role: 'user', content: 'find x' }], tools, tool_choice });
    expect(viaGemini.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: 'search' } });
    expect(anthropic.requests.at(-1)?.body).toMatchObject({ tools: [{ name: 'search' }], tool_choice: { type: 'any' } });
    expect(gemini.requests.at(-1)?.body).toMatchObject({ tools: [{ functionDeclarations: [{ name: 'search' }] }], toolConfig: { functionCallingConfig: { mode: 'ANY' } } });
    anthropic.script();
    gemini.script();
  });

  it('every emulator received only valid requests', () => {
    expect([...anthropic.problems, ...gemini.problems, ...bedrock.problems, ...azure.problems]).toEqual([]);
  });
});
