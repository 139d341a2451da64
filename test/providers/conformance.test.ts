import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../dataplane/metering/usage-record.js';
import { startAnthropicEmulator } from '../emulators/anthropic.js';
import { startAzureOpenAiEmulator } from '../emulators/azure-openai.js';
import { startBedrockEmulator } from '../emulators/bedrock.js';
import { CANONICAL_USAGE, type Emulator } from '../emulators/emulator-server.js';
import { startGeminiEmulator, startVertexEmulator } from '../emulators/gemini.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { captureUsage } from './provider-manifests.js';

// One suite, every adapter: the official openai client talks to the real gateway (`tollgate dev`
// on manifests), which talks to a local emulator of each provider's wire format.

interface ProviderUnderTest {
  type: string;
  model: string;
  start(): Promise<Emulator>;
  /** Provider (and Secret) manifests pointing at the emulator. */
  manifests(emulator: Emulator): string;
  /** The system prompt as the provider received it. */
  systemOf(body: Record<string, unknown>): string;
  /** What a safety block looks like to an OpenAI client. */
  safety: 'finish_reason' | 'http_400';
  /** Usage the provider's stream reports before its end (Anthropic's message_start, Gemini's every chunk). */
  reportsEarly?: { inputTokens: number; outputTokens: number };
  /**
   * The reasoning setting as the provider received it, and what `reasoning_effort: medium` (with
   * 8,000 tokens of cap) must become for this model (none for models without thinking: Gemini 2.0, Claude 3.5).
   */
  thinking: { of(body: Record<string, unknown>): unknown; medium: unknown };
}

const AWS = { accessKeyId: 'AKIDTOLLGATETEST', secretAccessKey: 'tollgate/secret+key', sessionToken: 'session-token-123' };
const PRICED = `  models:
    - name: MODEL
      pricing: { input: 1, output: 2, cachedInput: 0.5 }
`;

function provider(type: string, emulator: Emulator, model: string, extra: string, credentials: string): string {
  return `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: under-test }
spec:
  type: ${type}
  url: ${emulator.url}
  credentials: ${credentials}
${extra}${PRICED.replace('MODEL', JSON.stringify(model))}`;
}

function secret(name: string, data: Record<string, string>): string {
  return `---
apiVersion: v1
kind: Secret
metadata: { name: ${name} }
stringData: ${JSON.stringify(data)}
`;
}

const blocks = (v: unknown): string =>
  typeof v === 'string' ? v : Array.isArray(v) ? v.map((b) => String((b as { text?: unknown }).text ?? '')).join('\n') : '';

const PROVIDERS: ProviderUnderTest[] = [
  {
    type: 'anthropic',
    model: 'claude-sonnet-4-5',
    start: () => startAnthropicEmulator('sk-ant-test'),
    manifests: (e) => provider('anthropic', e, 'claude-sonnet-4-5', '', '{ secretRef: { name: anthropic, key: apiKey } }') + secret('anthropic', { apiKey: 'sk-ant-test' }),
    systemOf: (b) => blocks(b.system),
    safety: 'finish_reason',
    reportsEarly: { inputTokens: 20, outputTokens: 1 },
    thinking: { of: (b) => b.thinking, medium: { type: 'enabled', budget_tokens: 4096 } },
  },
  {
    type: 'gemini',
    model: 'gemini-2.0-flash',
    start: () => startGeminiEmulator('gemini-test-key'),
    manifests: (e) => provider('gemini', e, 'gemini-2.0-flash', '', '{ secretRef: { name: gemini, key: apiKey } }') + secret('gemini', { apiKey: 'gemini-test-key' }),
    systemOf: (b) => blocks((b.systemInstruction as { parts?: unknown } | undefined)?.parts),
    safety: 'http_400',
    reportsEarly: { inputTokens: 20, outputTokens: 8 },
    thinking: { of: (b) => (b.generationConfig as { thinkingConfig?: unknown } | undefined)?.thinkingConfig, medium: undefined },
  },
  {
    type: 'vertex',
    model: 'gemini-2.0-flash',
    start: () => startVertexEmulator('my-project', 'us-central1'),
    manifests: (e) =>
      provider('vertex', e, 'gemini-2.0-flash', '  vertex: { project: my-project, location: us-central1 }\n', '{ serviceAccountKeyRef: { name: gcp, key: key.json } }') +
      secret('gcp', { 'key.json': (e as Emulator & { serviceAccountKey: string }).serviceAccountKey }),
    systemOf: (b) => blocks((b.systemInstruction as { parts?: unknown } | undefined)?.parts),
    safety: 'finish_reason',
    reportsEarly: { inputTokens: 20, outputTokens: 8 },
    thinking: { of: (b) => (b.generationConfig as { thinkingConfig?: unknown } | undefined)?.thinkingConfig, medium: undefined },
  },
  {
    type: 'bedrock',
    // An inference-profile id with ':' exercises path encoding and SigV4's double encoding.
    model: 'us.anthropic.claude-3-5-sonnet-20241022-v2:0',
    start: () => startBedrockEmulator(AWS, 'us-east-1'),
    manifests: (e) =>
      provider('bedrock', e, 'us.anthropic.claude-3-5-sonnet-20241022-v2:0', '  bedrock: { region: us-east-1 }\n', '{ aws: { secretName: aws } }') +
      secret('aws', { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey, AWS_SESSION_TOKEN: AWS.sessionToken }),
    systemOf: (b) => blocks(b.system),
    safety: 'finish_reason',
    thinking: { of: (b) => (b.additionalModelRequestFields as { thinking?: unknown } | undefined)?.thinking, medium: undefined },
  },
  {
    type: 'azure-openai',
    model: 'gpt-4o',
    start: () => startAzureOpenAiEmulator('gpt4o-prod', 'azure-test-key', '2024-10-21'),
    manifests: (e) =>
      provider('azure-openai', e, 'gpt-4o', '  azure: { deployment: gpt4o-prod, apiVersion: "2024-10-21" }\n', '{ secretRef: { name: azure, key: apiKey } }') +
      secret('azure', { apiKey: 'azure-test-key' }),
    systemOf: (b) => {
      const first = (b.messages as { role: string; content: unknown }[])[0];
      return first?.role === 'system' ? blocks(first.content) : '';
    },
    safety: 'http_400',
    thinking: { of: (b) => b.reasoning_effort, medium: 'medium' },
  },
];

const ROUTE = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: conformance }
spec:
  model: conformance
  targets:
    - providerRef: { name: under-test }
      model: MODEL
      priority: 0
    - providerRef: { name: backup }
      model: backup-model
      priority: 10
  retry: { attempts: 2, backoff: { initial: 1ms, max: 5ms } }
  timeouts: { total: 20s, streamIdle: 5s }
`;

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  },
};

// A 1×1 transparent PNG.
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

describe.each(PROVIDERS)('provider conformance: $type', (p) => {
  let emulator: Emulator;
  let backup: OpenAiUpstream;
  let gateway: TestGateway;
  let client: OpenAI;
  let records: UsageRecord[] = [];

  beforeAll(async () => {
    emulator = await p.start();
    backup = await startOpenAiUpstream();
    gateway = await startTestGateway({
      'providers.yaml': `${p.manifests(emulator)}---\n${openAiProvider('backup', backup.baseUrl)}`,
      'routes.yaml': ROUTE.replace('MODEL', JSON.stringify(p.model)),
    });
    records = captureUsage(gateway);
    client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await emulator?.close();
    await backup?.close();
  });

  const lastRecord = (): UsageRecord | undefined => records[records.length - 1];

  it('plain text: content, finish reason, usage normalised to OpenAI semantics, cost metered', async () => {
    emulator.script({ kind: 'text', text: 'Hello there, friend' });
    const { data, response } = await client.chat.completions
      .create({ model: 'conformance', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 100 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello there, friend');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 8, total_tokens: 28, prompt_tokens_details: { cached_tokens: 5 } });
    expect(response.headers.get('x-tollgate-provider')).toBe('default/under-test');
    // At input 1, output 2, cached 0.5: 10 uncached + 5 cached + 8 output. Anthropic and Bedrock report 5 of the
    // input as cache writes, 3 for five minutes and 2 for an hour: priced by default as Claude bills them, 1.25× and 2× input.
    const writes = p.type === 'anthropic' || p.type === 'bedrock' ? 3 * 1.25 + 2 * 2 : 5 * 1;
    expect(lastRecord()).toMatchObject({ ...CANONICAL_USAGE, estimated: false, providerId: 'default/under-test', costUsd: (10 * 1 + 5 * 0.5 + writes + 8 * 2) / 1e6 });
    expect(emulator.problems).toEqual([]);
  });

  it('system prompt goes where the provider expects it', async () => {
    emulator.script({ kind: 'text' });
    await client.chat.completions.create({
      model: 'conformance',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    const body = emulator.requests[emulator.requests.length - 1]?.body ?? {};
    expect(p.systemOf(body)).toContain('You are terse.');
    expect(emulator.problems).toEqual([]);
  });

  it('tool calling round trip', async () => {
    emulator.script({ kind: 'tool', name: 'get_weather', args: { city: 'Paris' } }, { kind: 'text', text: 'It is sunny in Paris.' });
    const first = await client.chat.completions.create({
      model: 'conformance',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER_TOOL],
      tool_choice: 'auto',
    });
    const choice = first.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('no function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
    const second = await client.chat.completions.create({
      model: 'conformance',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: choice?.message.content ?? null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '{"forecast":"sunny"}' },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(second.choices[0]?.message.content).toBe('It is sunny in Paris.');
    expect(JSON.stringify(emulator.requests[emulator.requests.length - 1]?.body)).toContain('sunny');
    expect(emulator.problems).toEqual([]);
  });

  it("reasoning_effort reaches the upstream as the provider's thinking setting, and the answer is metered as before", async () => {
    emulator.script({ kind: 'text', text: 'Thought it through.' });
    const data = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Think' }], reasoning_effort: 'medium', max_tokens: 8000 });
    expect(data.choices[0]?.message.content).toBe('Thought it through.');
    expect(p.thinking.of(emulator.requests[emulator.requests.length - 1]?.body ?? {})).toEqual(p.thinking.medium);
    expect(lastRecord()).toMatchObject({ ...CANONICAL_USAGE, estimated: false });
    expect(emulator.problems).toEqual([]);
  });

  it('images are sent in the provider format', async () => {
    emulator.script({ kind: 'text' });
    await client.chat.completions.create({
      model: 'conformance',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: PNG } }] }],
    });
    const sent = JSON.stringify(emulator.requests[emulator.requests.length - 1]?.body);
    expect(sent).toContain(PNG.slice('data:image/png;base64,'.length));
    // Azure speaks the OpenAI format: the part passes through; everyone else gets their own image block.
    if (p.type === 'azure-openai') expect(sent).toContain('image_url');
    else expect(sent).not.toContain('image_url');
    expect(emulator.problems).toEqual([]);
  });

  it('streaming text: chunks arrive in order, the usage chunk is synthesised and metered', async () => {
    emulator.script({ kind: 'text', text: 'Streaming works fine' });
    const stream = await client.chat.completions.create({
      model: 'conformance',
      messages: [{ role: 'user', content: 'Stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      chunks++;
      ids.add(chunk.id);
      expect(chunk.object).toBe('chat.completion.chunk');
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Streaming works fine');
    expect(chunks).toBeGreaterThanOrEqual(3);
    expect(ids.size).toBe(1);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 8 });
    await new Promise((r) => setTimeout(r, 20));
    expect(lastRecord()).toMatchObject({ ...CANONICAL_USAGE, stream: true, estimated: false });
    expect(emulator.problems).toEqual([]);
  });

  it('streaming without include_usage: no usage chunk for the client, still metered', async () => {
    emulator.script({ kind: 'text' });
    const stream = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    for await (const chunk of stream) expect(chunk.usage ?? null).toBeNull();
    await new Promise((r) => setTimeout(r, 20));
    expect(lastRecord()).toMatchObject({ ...CANONICAL_USAGE, estimated: false });
  });

  it('streaming tool call: fragments assemble into the call', async () => {
    emulator.script({ kind: 'tool', name: 'get_weather', args: { city: 'Oslo', unit: 'celsius' } });
    const stream = await client.chat.completions.create({
      model: 'conformance',
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      tools: [WEATHER_TOOL],
      stream: true,
    });
    const calls = new Map<number, { id?: string; name?: string; args: string }>();
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      for (const t of chunk.choices[0]?.delta.tool_calls ?? []) {
        const c = calls.get(t.index) ?? { args: '' };
        if (t.id) c.id = t.id;
        if (t.function?.name) c.name = t.function.name;
        c.args += t.function?.arguments ?? '';
        calls.set(t.index, c);
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect([...calls.keys()]).toEqual([0]);
    expect(calls.get(0)?.name).toBe('get_weather');
    expect(calls.get(0)?.id).toBeTruthy();
    expect(JSON.parse(calls.get(0)?.args ?? '')).toEqual({ city: 'Oslo', unit: 'celsius' });
    expect(finish).toBe('tool_calls');
  });

  it('response_format json_schema: the JSON answer is the message content, finish reason stop (JSON mode or a forced tool)', async () => {
    const value = { city: 'Paris', temperature_c: 21, sunny: true };
    const schema = { type: 'object', properties: { city: { type: 'string' }, temperature_c: { type: 'number' }, sunny: { type: 'boolean' } }, required: ['city', 'temperature_c', 'sunny'] };
    emulator.script({ kind: 'json', value });
    const res = await client.chat.completions.create({
      model: 'conformance',
      messages: [{ role: 'user', content: 'Weather in Paris as JSON' }],
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema, strict: true } },
    });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.choices[0]?.message.tool_calls ?? []).toEqual([]);
    expect(JSON.parse(res.choices[0]?.message.content ?? '')).toEqual(value);
    const sent = emulator.requests[emulator.requests.length - 1]?.body ?? {};
    if (p.type === 'anthropic') {
      expect(sent.tools).toEqual([{ name: 'json_tool_call', description: expect.stringContaining('"weather"') as unknown, input_schema: schema }]);
      expect(sent.tool_choice).toEqual({ type: 'tool', name: 'json_tool_call' });
    }
    if (p.type === 'bedrock') expect(sent.toolConfig).toMatchObject({ tools: [{ toolSpec: { name: 'json_tool_call', inputSchema: { json: schema } } }], toolChoice: { tool: { name: 'json_tool_call' } } });

    emulator.script({ kind: 'json', value });
    const stream = await client.chat.completions.create({
      model: 'conformance',
      messages: [{ role: 'user', content: 'Weather in Paris as JSON' }],
      response_format: { type: 'json_object' },
      stream: true,
    });
    let text = '';
    let finish: string | null | undefined;
    let toolDeltas = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      toolDeltas += chunk.choices[0]?.delta.tool_calls?.length ?? 0;
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(JSON.parse(text)).toEqual(value);
    expect(finish).toBe('stop');
    expect(toolDeltas).toBe(0);
    expect(emulator.problems).toEqual([]);
  });

  it('429 is retried, then the route fails over to the next target', async () => {
    emulator.script({ kind: 'rate-limit' });
    backup.script({ kind: 'ok', content: 'from backup' });
    const { data, response } = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe('from backup');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/backup');
    expect(response.headers.get('x-tollgate-attempts')).toBe('3');
  });

  it('overloaded / 5xx is retried on the same target', async () => {
    emulator.script({ kind: 'overloaded' }, { kind: 'server-error' }, { kind: 'text', text: 'third time lucky' });
    const retry = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    // Two attempts per target: overloaded, then 500, then the backup answers.
    expect(retry.response.headers.get('x-tollgate-attempts')).toBe('3');
    emulator.script({ kind: 'overloaded' }, { kind: 'text', text: 'second time' });
    const { data, response } = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe('second time');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/under-test');
    expect(response.headers.get('x-tollgate-attempts')).toBe('2');
  });

  it('400 is relayed to the client, not retried', async () => {
    emulator.script({ kind: 'bad-request', message: 'temperature is out of range' });
    const before = emulator.requests.length;
    const err = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('temperature is out of range');
    expect(emulator.requests.length - before).toBe(1);
  });

  it('context length exceeded is classified', async () => {
    emulator.script({ kind: 'context-length' });
    const err = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('context_length_exceeded');
  });

  it('a failure after the stream started becomes an in-band error', async () => {
    emulator.script({ kind: 'stream-error' });
    const stream = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(text).toBe('Partial'.slice(0, text.length));
    // Charged at least what the upstream had reported when it broke off (the real prompt, hidden thinking).
    await new Promise((r) => setTimeout(r, 20));
    const charged = lastRecord();
    expect(charged).toMatchObject({ stream: true, estimated: true });
    expect(charged?.inputTokens).toBeGreaterThanOrEqual(p.reportsEarly?.inputTokens ?? 0);
    expect(charged?.outputTokens).toBeGreaterThanOrEqual(p.reportsEarly?.outputTokens ?? 0);
  });

  it('safety blocks surface as content_filter', async () => {
    emulator.script({ kind: 'safety' });
    if (p.safety === 'finish_reason') {
      const res = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Something unsafe' }] });
      expect(res.choices[0]?.finish_reason).toBe('content_filter');
    } else {
      const err = await client.chat.completions.create({ model: 'conformance', messages: [{ role: 'user', content: 'Something unsafe' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('content_filter');
      if (p.type === 'azure-openai') {
        // Which filter fired is relayed, and the refusal is not tried again elsewhere: the backup
        // target would refuse the same prompt, or worse, serve what the platform's filter refused.
        expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: { violence: { filtered: true, severity: 'medium' } } } });
        expect((err as InstanceType<typeof OpenAI.BadRequestError>).headers?.get('x-tollgate-attempts')).toBe('1');
      }
    }
  });

  it('received only valid requests', () => {
    expect(emulator.problems).toEqual([]);
  });
});
