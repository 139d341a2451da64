import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicEmulator } from '../emulators/anthropic.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// The official openai client's Responses API (responses.create, its stream and responses.stream)
// against the gateway's POST /v1/responses, translated for an OpenAI-wire chat upstream, an
// Anthropic upstream and the quickstart's mock provider.

const ROUTES = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: via-openai }
spec:
  model: via-openai
  targets: [{ providerRef: { name: openai-up }, model: gpt-4o-mini }]
  retry: { attempts: 1 }
  timeouts: { streamIdle: 2s }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: small-answers }
spec:
  model: small-answers
  targets: [{ providerRef: { name: openai-up }, model: gpt-4o-mini }]
  retry: { attempts: 1 }
  limits: { maxResponseBytes: 4096 }
---
${routeManifest('via-anthropic', [['claude', 'claude-sonnet-4-5']])}`;

const WEATHER = { type: 'function' as const, name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false };

describe('inbound OpenAI Responses API (translated)', () => {
  let upstream: OpenAiUpstream;
  let claude: Emulator;
  let gateway: TestGateway;
  let client: OpenAI;

  const lastSent = (): Record<string, unknown> | undefined => upstream.requests[upstream.requests.length - 1]?.body;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream();
    claude = await startAnthropicEmulator('sk-ant-test');
    gateway = await startTestGateway({
      'providers.yaml': `${openAiProvider('openai-up', upstream.baseUrl, '  models: [{ name: gpt-4o-mini, pricing: { input: 1, output: 2 } }]\n')}---
${providerManifest('claude', 'anthropic', claude.url, '{ secretRef: { name: claude-key, key: apiKey } }')}${secretManifest('claude-key', { apiKey: 'sk-ant-test' })}${readFileSync('examples/quickstart/providers.yaml', 'utf8')}`,
      'routes.yaml': `${ROUTES}${readFileSync('examples/quickstart/routes.yaml', 'utf8')}`,
    });
    client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await claude?.close();
  });

  it('responses.create: a Response object with output_text and usage; the upstream got a chat request', async () => {
    upstream.script({ kind: 'ok', content: 'hi from chat', usage: { prompt: 12, completion: 3, cached: 2 } });
    const { data, response } = await client.responses
      .create({ model: 'via-openai', instructions: 'Be brief.', input: 'Hello', max_output_tokens: 64, temperature: 0.5 })
      .withResponse();
    expect(data.object).toBe('response');
    expect(data.id).toMatch(/^resp_/);
    expect(data.status).toBe('completed');
    expect(data.model).toBe('via-openai');
    expect(data.output_text).toBe('hi from chat');
    expect(data.output).toEqual([
      { id: expect.stringMatching(/^msg_/), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'hi from chat', annotations: [], logprobs: [] }] },
    ]);
    expect(data.usage).toEqual({ input_tokens: 12, input_tokens_details: { cached_tokens: 2 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 });
    expect(data.instructions).toBe('Be brief.');
    expect(data.max_output_tokens).toBe(64);
    expect(data).toMatchObject({ store: false, previous_response_id: null });
    expect(response.headers.get('x-tollgate-route')).toBe('default/via-openai');
    // 12 input × $1/M + 3 output × $2/M
    expect(response.headers.get('x-tollgate-cost-usd')).toBe((18 / 1e6).toFixed(8));
    expect(lastSent()).toMatchObject({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
      max_completion_tokens: 64,
      temperature: 0.5,
    });
    expect(upstream.requests[upstream.requests.length - 1]?.path).toBe('/v1/chat/completions');
    const rec = gateway.usage.records[gateway.usage.records.length - 1];
    expect(rec).toMatchObject({ routeId: 'default/via-openai', op: 'chat', inputTokens: 12, outputTokens: 3, estimated: false });
  });

  it('responses.stream: typed events in order, text deltas, finalResponse with usage', async () => {
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0, content: 'tok' });
    const stream = client.responses.stream({ model: 'via-openai', input: [{ role: 'user', content: 'Hello' }] });
    const types: string[] = [];
    const deltas: string[] = [];
    stream.on('event', (e) => types.push(e.type));
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(deltas.join('')).toBe('tok tok tok');
    expect(final.output_text).toBe('tok tok tok');
    expect(final.status).toBe('completed');
    expect(final.usage).toMatchObject({ input_tokens: 7, output_tokens: 3, total_tokens: 10 });
    expect(types[0]).toBe('response.created');
    expect(types[1]).toBe('response.in_progress');
    expect(types.slice(2, 4)).toEqual(['response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    // The gateway asks the upstream for usage whatever the client asked: the terminal event carries it.
    expect(lastSent()?.stream_options).toEqual({ include_usage: true });
  });

  it('responses.stream from an upstream that ignores include_usage: the terminal usage is the charged estimate, not 0', async () => {
    upstream.script({ kind: 'stream', chunks: 4, intervalMs: 0, omitUsage: true, content: 'abcdefg' });
    const before = gateway.usage.records.length;
    const final = await client.responses.stream({ model: 'via-openai', input: [{ role: 'user', content: 'Hello' }] }).finalResponse();
    expect(final.output_text).toBe('abcdefg abcdefg abcdefg abcdefg');
    // 31 bytes streamed: 8 tokens.
    expect(final.usage?.output_tokens).toBe(8);
    expect(final.usage?.input_tokens).toBeGreaterThan(0);
    for (let i = 0; i < 50 && gateway.usage.records.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(gateway.usage.records[before]).toMatchObject({ estimated: true, estimateReason: 'missing', outputTokens: 8, inputTokens: final.usage?.input_tokens });
  });

  it('responses.create({stream: true}): every event has a type and an increasing sequence_number, no [DONE]', async () => {
    upstream.script({ kind: 'stream', chunks: 2, intervalMs: 0, content: 'x' });
    const stream = await client.responses.create({ model: 'via-openai', input: 'Hi', stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const last = events[events.length - 1];
    expect(last?.type).toBe('response.completed');
    if (last?.type !== 'response.completed') throw new Error('no response.completed');
    expect(last.response.output_text ?? last.response.output.map((o) => (o.type === 'message' ? o.content.map((c) => (c.type === 'output_text' ? c.text : '')).join('') : '')).join('')).toBe('x x');
  });

  it("a stream whose answer passes the route's maxResponseBytes ends with error and response.failed, and upstream is let go", async () => {
    // 2,000 chunks of 100 characters: the gateway keeps the answer for the terminal event, at most 4,096 of it.
    upstream.script({ kind: 'stream', chunks: 2_000, intervalMs: 1, content: 'z'.repeat(99) });
    const stream = await client.responses.create({ model: 'small-answers', input: 'Hi', stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    expect(events.map((e) => e.type).slice(-2)).toEqual(['error', 'response.failed']);
    const failed = events[events.length - 1];
    if (failed?.type !== 'response.failed') throw new Error('no response.failed');
    expect(failed.response.error?.message).toBe("the answer passed the route's limit of 4096 bytes (limits.maxResponseBytes)");
    expect(events.filter((e) => e.type === 'response.output_text.delta').length).toBeLessThan(100);
    await upstream.requests.at(-1)?.aborted;
  });

  it('a stream the upstream cuts ends with error and response.failed', async () => {
    upstream.script({ kind: 'stream', chunks: 2, intervalMs: 0, content: 'y', truncate: true });
    const stream = await client.responses.create({ model: 'via-openai', input: 'Hi', stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    expect(types.slice(-2)).toEqual(['error', 'response.failed']);
    const failed = events[events.length - 1];
    if (failed?.type !== 'response.failed') throw new Error('no response.failed');
    expect(failed.response.status).toBe('failed');
    expect(failed.response.error?.code).toBe('server_error');
    // What was streamed before the cut is still in the failed response.
    expect(failed.response.output[0]).toMatchObject({ type: 'message', status: 'incomplete', content: [{ type: 'output_text', text: 'y y' }] });
  });

  it('function tools: a call through an Anthropic upstream, and its output sent back', async () => {
    claude.script({ kind: 'tool', name: 'get_weather', args: { city: 'Rome' } }, { kind: 'text', text: 'Sunny in Rome.' });
    const first = await client.responses.create({ model: 'via-anthropic', input: 'Weather in Rome?', tools: [WEATHER], max_output_tokens: 100 });
    const call = first.output.find((o) => o.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', call_id: 'toolu_01', status: 'completed' });
    if (call?.type !== 'function_call') throw new Error('no function_call');
    expect(JSON.parse(call.arguments)).toEqual({ city: 'Rome' });
    expect(first.output_text).toBe('Let me check.');
    // The emulator's numbers: 10 uncached + 5 cache writes + 5 cache reads in, 8 out.
    expect(first.usage).toMatchObject({ input_tokens: 20, input_tokens_details: { cached_tokens: 5 }, output_tokens: 8 });

    const second = await client.responses.create({
      model: 'via-anthropic',
      tools: [WEATHER],
      max_output_tokens: 100,
      input: [{ role: 'user', content: 'Weather in Rome?' }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: 'sunny' }],
    });
    expect(second.output_text).toBe('Sunny in Rome.');
    const sent = claude.requests[claude.requests.length - 1]?.body as { messages: { role: string; content: unknown }[] };
    expect(sent.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent.messages[2]?.content).toEqual([{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'sunny' }]);
    expect(claude.problems).toEqual([]);
  });

  it("a tool's image output: an Anthropic tool_result with the image block; on the chat wire, the tool message's text then the image from the user", async () => {
    const SHOT = 'data:image/png;base64,iVBORw0KGgo=';
    const input: OpenAI.Responses.ResponseInputItem[] = [
      { role: 'user', content: 'What is on screen?' },
      { type: 'function_call', call_id: 'toolu_01', name: 'get_weather', arguments: '{"city":"Rome"}' },
      { type: 'function_call_output', call_id: 'toolu_01', output: [{ type: 'input_text', text: 'screen:' }, { type: 'input_image', image_url: SHOT, detail: 'auto' }] },
    ];
    claude.script({ kind: 'text', text: 'A chart.' });
    expect((await client.responses.create({ model: 'via-anthropic', tools: [WEATHER], input })).output_text).toBe('A chart.');
    const sent = claude.requests[claude.requests.length - 1]?.body as { messages: { role: string; content: unknown }[] };
    expect(sent.messages[2]?.content).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_01', content: [{ type: 'text', text: 'screen:' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
    ]);
    expect(claude.problems).toEqual([]);

    upstream.script({ kind: 'ok', content: 'a chart' });
    expect((await client.responses.create({ model: 'via-openai', tools: [WEATHER], input })).output_text).toBe('a chart');
    expect(lastSent()?.messages).toEqual([
      { role: 'user', content: 'What is on screen?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_01', content: 'screen:' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: SHOT, detail: 'auto' } }] },
    ]);
  });

  it('function tools streamed: arguments arrive as function_call_arguments deltas and are assembled', async () => {
    claude.script({ kind: 'tool', name: 'get_weather', args: { city: 'Oslo' } });
    const stream = client.responses.stream({ model: 'via-anthropic', input: 'Weather in Oslo?', tools: [WEATHER], max_output_tokens: 100 });
    const argDeltas: string[] = [];
    stream.on('response.function_call_arguments.delta', (e) => argDeltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(argDeltas.length).toBeGreaterThan(0);
    const call = final.output.find((o) => o.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('no function_call');
    expect(JSON.parse(call.arguments)).toEqual({ city: 'Oslo' });
    expect(final.output[0]).toMatchObject({ type: 'message', content: [{ type: 'output_text', text: 'Let me check.' }] });
    expect(claude.problems).toEqual([]);
  });

  it('structured output: text.format json_schema becomes response_format upstream', async () => {
    upstream.script({ kind: 'ok', content: '{"city":"Rome"}' });
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const r = await client.responses.create({ model: 'via-openai', input: 'Where?', text: { format: { type: 'json_schema', name: 'place', schema, strict: true } } });
    expect(JSON.parse(r.output_text)).toEqual({ city: 'Rome' });
    expect(r.text?.format).toMatchObject({ type: 'json_schema', name: 'place' });
    expect(lastSent()?.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'place', schema, strict: true } });
  });

  it('structured output through Anthropic (the gateway forces a tool and unwraps it)', async () => {
    claude.script({ kind: 'json', value: { city: 'Paris' } });
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const r = await client.responses.create({ model: 'via-anthropic', input: 'Where?', max_output_tokens: 50, text: { format: { type: 'json_schema', name: 'place', schema } } });
    expect(JSON.parse(r.output_text)).toEqual({ city: 'Paris' });
    expect(claude.problems).toEqual([]);
  });

  it('the quickstart mock-chat answers responses.create and its stream', async () => {
    const plain = await client.responses.create({ model: 'mock-chat', input: 'Say something' });
    expect(plain.status).toBe('completed');
    expect(plain.output_text.length).toBeGreaterThan(0);
    expect(plain.usage?.output_tokens).toBeGreaterThan(0);
    const stream = client.responses.stream({ model: 'mock-chat', input: 'Say something' });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(plain.output_text);
    expect(final.usage?.output_tokens).toBe(plain.usage?.output_tokens);
  });

  it('state the gateway does not keep is refused with a 400 naming the field', async () => {
    const attempts: [Record<string, unknown>, string][] = [
      [{ previous_response_id: 'resp_abc' }, 'previous_response_id'],
      [{ store: true }, 'store'],
      [{ conversation: 'conv_1' }, 'conversation'],
      [{ background: true }, 'background'],
      [{ input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input.0.type'],
    ];
    for (const [extra, param] of attempts) {
      const err = await client.responses.create({ model: 'via-openai', input: 'Hi', ...extra } as OpenAI.Responses.ResponseCreateParamsNonStreaming).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect(bad.param).toBe(param);
      expect(bad.message).toMatch(/state that this gateway does not keep/);
    }
  });

  it('bad input: a missing input, a built-in tool and an unknown model get clear errors', async () => {
    const noInput = await client.responses.create({ model: 'via-openai' } as OpenAI.Responses.ResponseCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(noInput).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noInput as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input');
    const webSearch = await client.responses.create({ model: 'via-openai', input: 'Hi', tools: [{ type: 'web_search' }] }).catch((e: unknown) => e);
    expect(webSearch).toBeInstanceOf(OpenAI.BadRequestError);
    expect((webSearch as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/tool type web_search is not supported/);
    const unknown = await client.responses.create({ model: 'nope', input: 'Hi' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
  });
});
