import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAnthropicEmulator } from '../emulators/anthropic.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { type ResponsesEmulator, startResponsesEmulator } from '../emulators/openai-responses.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import type { UsageRecord } from '../../dataplane/metering/usage-record.js';
import { captureUsage, providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// POST /v1/responses served natively by OpenAI and Azure OpenAI targets (the official openai client
// against emulators of both wire formats): the request forwarded as sent, stored responses continued
// with previous_response_id, events relayed, usage metered from the Response; failover to and past
// translated targets, and the 400 where no target keeps state.

const credentials = (secret: string): string => `{ secretRef: { name: ${secret}, key: apiKey } }`;

/** The route also serves the stored responses of its target (GET/DELETE /v1/responses/{id}). */
const withStoredResponses = (manifest: string): string => manifest.replace(/---\n$/, '  passThrough: { endpoints: [responses] }\n---\n');

// 20 input tokens (5 cached) at $1/M ($0.5/M cached), 8 output at $2/M.
const COST = ((15 * 1 + 5 * 0.5 + 8 * 2) / 1e6).toFixed(8);

describe('Responses API served natively', () => {
  let openai: ResponsesEmulator;
  let azure: ResponsesEmulator;
  let claude: Emulator;
  let gateway: TestGateway;
  let client: OpenAI;
  let usage: UsageRecord[];

  beforeAll(async () => {
    openai = await startResponsesEmulator('openai', 'sk-openai');
    azure = await startResponsesEmulator('azure', 'azure-key');
    claude = await startAnthropicEmulator('sk-ant-test');
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('oai', 'openai', `${openai.url}/v1`, credentials('oai-key'), '', 'gpt-4.1') +
        secretManifest('oai-key', { apiKey: 'sk-openai' }) +
        // The same upstream, its model priced with OpenAI's web search fee ($10 per 1,000 calls).
        providerManifest('oai-search', 'openai', `${openai.url}/v1`, credentials('oai-key'), '  models: [{ name: gpt-4.1, pricing: { input: 1, output: 2, cachedInput: 0.5, perWebSearch: 0.01, perContainer: 0.03 } }]\n') +
        providerManifest('az', 'azure-openai', azure.url, credentials('az-key'), '  azure: { deployment: gpt41-prod, apiVersion: "2024-10-21" }\n', 'gpt-4.1') +
        secretManifest('az-key', { apiKey: 'azure-key' }) +
        providerManifest('claude', 'anthropic', claude.url, credentials('claude-key'), '', 'claude-sonnet-4-5') +
        secretManifest('claude-key', { apiKey: 'sk-ant-test' }),
      'routes.yaml':
        withStoredResponses(routeManifest('native-openai', [['oai', 'gpt-4.1']])) +
        withStoredResponses(routeManifest('native-azure', [['az', 'gpt-4.1']])) +
        routeManifest('native-search', [['oai-search', 'gpt-4.1']]) +
        routeManifest('openai-then-claude', [['oai', 'gpt-4.1'], ['claude', 'claude-sonnet-4-5']]) +
        routeManifest('claude-then-openai', [['claude', 'claude-sonnet-4-5'], ['oai', 'gpt-4.1']]) +
        routeManifest('claude-only', [['claude', 'claude-sonnet-4-5']]) +
        routeManifest('guarded', [['oai', 'gpt-4.1']]) +
        `apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: guarded }
spec:
  subjects: { routes: [{ name: guarded }] }
  rules:
    - { name: no-cards, phase: Request, action: Block, detector: { builtin: [PaymentCard] } }
    - { name: mask-email, phase: Request, action: Mask, detector: { builtin: [Email] } }
    - { name: watch-answers, phase: Response, action: Monitor, detector: { builtin: [Email] } }
---
` +
        routeManifest('masked', [['oai', 'gpt-4.1']]) +
        `apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: mask-only }
spec:
  subjects: { routes: [{ name: masked }] }
  rules:
    - { name: mask-email, phase: Request, action: Mask, detector: { builtin: [Email] } }
---
` +
        routeManifest('native-capped', [['oai-search', 'gpt-4.1']]) +
        `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: tools-cap }
spec:
  limit: { amount: 0.05, unit: USD }
  period: Day
  subjects: { routes: [{ name: native-capped }] }
`,
    });
    usage = captureUsage(gateway);
    client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await openai?.close();
    await azure?.close();
    await claude?.close();
  });

  it('OpenAI: the request goes to /v1/responses as sent (target model, provider key, built-in tools); the Response comes back as it is, metered', async () => {
    openai.script({ kind: 'text' });
    const { data, response } = await client.responses
      .create({ model: 'native-openai', instructions: 'Be brief.', input: 'Hello', tools: [{ type: 'web_search_preview' }], metadata: { app: 't' } })
      .withResponse();
    const sent = openai.requests.at(-1);
    expect(sent?.url).toBe('/v1/responses');
    expect(sent?.headers.authorization).toBe('Bearer sk-openai');
    expect(sent?.body).toEqual({ model: 'gpt-4.1', instructions: 'Be brief.', input: 'Hello', tools: [{ type: 'web_search_preview' }], metadata: { app: 't' } });
    expect(data).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-4.1', store: true, output_text: 'turn 1: Hello' });
    expect(data.usage).toEqual({ input_tokens: 20, input_tokens_details: { cached_tokens: 5 }, output_tokens: 8, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 28 });
    expect(response.headers.get('x-tollgate-provider')).toBe('default/oai');
    expect(response.headers.get('x-tollgate-cost-usd')).toBe(COST);
    expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-openai', inputTokens: 20, cachedInputTokens: 5, outputTokens: 8, estimated: false });
    expect(openai.problems).toEqual([]);
  });

  it('what the translation to chat cannot carry still reaches a native target as sent: a tool output with an image or a file, a stored prompt without input, a content part of a newer type', async () => {
    const toolOutput = {
      type: 'function_call_output' as const,
      call_id: 'call_1',
      output: [
        { type: 'input_text' as const, text: 'sunny' },
        { type: 'input_image' as const, image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'auto' as const },
        { type: 'input_file' as const, file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' },
      ],
    };
    const input: OpenAI.Responses.ResponseInputItem[] = [{ role: 'user', content: 'Weather?' }, { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}' }, toolOutput];
    expect((await client.responses.create({ model: 'native-openai', input })).status).toBe('completed');
    expect(openai.requests.at(-1)).toMatchObject({ url: '/v1/responses', body: { model: 'gpt-4.1', input } });

    const prompt = { id: 'pmpt_1', version: '2', variables: { city: 'Paris' } };
    expect((await client.responses.create({ model: 'native-openai', prompt })).status).toBe('completed');
    expect(openai.requests.at(-1)).toMatchObject({ url: '/v1/responses', body: { model: 'gpt-4.1', prompt } });
    expect(openai.requests.at(-1)?.body).not.toHaveProperty('input');

    const newer = [{ role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_future', foo: 1 }] }];
    expect((await client.responses.create({ model: 'native-openai', input: newer as OpenAI.Responses.ResponseInputItem[] })).status).toBe('completed');
    expect(openai.requests.at(-1)?.body).toEqual({ model: 'gpt-4.1', input: newer });

    // Where no target serves it natively: a 400 naming what only such a target could take.
    const noPrompt = await client.responses.create({ model: 'claude-only', prompt }).catch((e: unknown) => e);
    expect(noPrompt).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noPrompt as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('prompt');
    const noPart = await client.responses.create({ model: 'claude-only', input: newer as OpenAI.Responses.ResponseInputItem[] }).catch((e: unknown) => e);
    expect(noPart).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noPart as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input.0.content.1.type');
    expect((noPart as Error).message).toMatch(/content part of type input_future has no chat translation/);
    expect(openai.problems).toEqual([]);
  });

  it('a web search the Response ran is charged at the per-call price besides its tokens, whole or streamed', async () => {
    const search = (await client.responses.create({ model: 'native-search', input: 'What happened today?', tools: [{ type: 'web_search' }] }).withResponse()).response;
    expect(search.headers.get('x-tollgate-cost-usd')).toBe(((15 * 1 + 5 * 0.5 + 8 * 2) / 1e6 + 0.01).toFixed(8));
    expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-search', costUsd: (15 * 1 + 5 * 0.5 + 8 * 2) / 1e6 + 0.01 });
    const stream = await client.responses.create({ model: 'native-search', input: 'And yesterday?', tools: [{ type: 'web_search' }], stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toContain('response.web_search_call.completed');
    await vi.waitFor(() => expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-search', stream: true, costUsd: (15 * 1 + 5 * 0.5 + 8 * 2) / 1e6 + 0.01 }));
    // Without a tool there is no search and no fee.
    await client.responses.create({ model: 'native-search', input: 'Hello' });
    expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-search', costUsd: (15 * 1 + 5 * 0.5 + 8 * 2) / 1e6 });
  });

  it('a Response that runs code_interpreter is charged a container session (per GB of its memory) besides its tokens, whole or streamed; a container it names is not charged again', async () => {
    const tokens = (15 * 1 + 5 * 0.5 + 8 * 2) / 1e6;
    const ran = await client.responses.create({ model: 'native-search', input: 'Compute 6 * 7', tools: [{ type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }] }).withResponse();
    expect(ran.data.output.map((item) => item.type)).toEqual(['code_interpreter_call', 'message']);
    // A 4g session is billed 4 times a 1g one ($0.03): $0.12. Before, containers were not charged.
    expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-search' });
    expect(usage.at(-1)?.costUsd).toBeCloseTo(tokens + 0.12, 10);
    expect(ran.response.headers.get('x-tollgate-cost-usd')).toBe((tokens + 0.12).toFixed(8));
    const stream = await client.responses.create({ model: 'native-search', input: 'Again', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }], stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toContain('response.code_interpreter_call.completed');
    await vi.waitFor(() => expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-search', stream: true }));
    expect(usage.at(-1)?.costUsd).toBeCloseTo(tokens + 0.03, 10);
    // A container made by POST /v1/containers was charged there.
    await client.responses.create({ model: 'native-search', input: 'In mine', tools: [{ type: 'code_interpreter', container: 'cntr_mine' }] });
    expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-search', stream: false });
    expect(usage.at(-1)?.costUsd).toBeCloseTo(tokens, 10);
  });

  it('a stream cut before response.completed is charged the tool calls and containers it showed, besides the tokens it showed', async () => {
    openai.script({ kind: 'stream-error' });
    const events: ResponseStreamEvent[] = [];
    const tools: OpenAI.Responses.Tool[] = [{ type: 'web_search' }, { type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }];
    const stream = await client.responses.create({ model: 'native-search', input: 'Search, then compute', tools, stream: true });
    for await (const e of stream) events.push(e);
    openai.script({ kind: 'text' });
    expect(events.map((e) => e.type)).toContain('response.code_interpreter_call.completed');
    expect(events.at(-1)?.type).toBe('response.failed');
    await vi.waitFor(() => expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-search', stream: true, estimated: true }));
    // The search ($0.01) and the 4g session ($0.12) ran before the cut: charged beside the estimated tokens. Before, neither was.
    const record = usage.at(-1) as UsageRecord;
    const tokens = (record.inputTokens * 1 + record.outputTokens * 2) / 1e6;
    expect(record.costUsd).toBeCloseTo(tokens + 0.01 + 0.12, 8);
  });

  it('a Budget holds the tool fees of a Response that bounds its tool calls (max_tool_calls): each call at the dearest tool offered', async () => {
    // max_tool_calls is newer than this client's types.
    const ask = (max_tool_calls: number) =>
      client.responses
        .create({ model: 'native-capped', input: 'What happened today?', tools: [{ type: 'web_search' }], max_tool_calls, max_output_tokens: 16 } as OpenAI.Responses.ResponseCreateParamsNonStreaming)
        .withResponse();
    // 10 searches at $0.01 are more than the $0.05 Budget: refused before anything goes upstream. Before, the hold left the searches out.
    const before = openai.requests.length;
    const refused = await ask(10).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).message).toMatch(/budget default\/tools-cap cannot cover this request's worst case: it would hold 0\.10\d\d USD/);
    expect(openai.requests.length).toBe(before);
    // Two are within it: served, and charged the one search it ran.
    const served = await ask(2);
    expect(served.data.output.map((item) => item.type)).toEqual(['web_search_call', 'message']);
    expect(usage.at(-1)?.routeId).toBe('default/native-capped');
    expect(usage.at(-1)?.costUsd).toBeCloseTo((15 * 1 + 5 * 0.5 + 8 * 2) / 1e6 + 0.01, 10);
  });

  it('a Budget holds the auto containers a Response asks for, with or without max_tool_calls: they are made whatever it calls', async () => {
    const before = openai.requests.length;
    // A 4g auto container is a $0.12 session, more than the $0.05 Budget: refused before anything goes upstream. Before, held nothing and served.
    const refused = await client.responses.create({ model: 'native-capped', input: 'Compute 6 * 7', tools: [{ type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }], max_output_tokens: 16 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).message).toMatch(/budget default\/tools-cap cannot cover this request's worst case: it would hold 0\.12\d\d USD/);
    expect(openai.requests.length).toBe(before);
  });

  it('background: the queued Response is charged its worst case at once; retrieving the finished one charges nothing more', async () => {
    openai.script({ kind: 'text' });
    const before = usage.length;
    const queued = await client.responses.create({ model: 'native-openai', input: 'Write a long report', background: true, max_output_tokens: 1000 });
    expect(queued).toMatchObject({ status: 'queued', usage: null });
    expect(usage.slice(before)).toHaveLength(1);
    expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-openai', outputTokens: 1000, estimated: true });
    expect(usage.at(-1)?.inputTokens).toBeGreaterThan(0);
    const done = await client.responses.retrieve(queued.id, {}, { headers: { 'x-tollgate-model': 'native-openai' } });
    expect(done).toMatchObject({ status: 'completed', output_text: 'turn 1: Write a long report' });
    expect(usage.slice(before).filter((r) => r.costUsd > 0)).toHaveLength(1);
    expect(openai.problems).toEqual([]);
  });

  it('background: a queued Response that asks for an auto container is charged its session too, besides its worst case in tokens', async () => {
    const queued = await client.responses.create({ model: 'native-search', input: 'Compute 6 * 7', background: true, max_output_tokens: 100, tools: [{ type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }] });
    expect(queued).toMatchObject({ status: 'queued', usage: null });
    const record = usage.at(-1) as UsageRecord;
    expect(record).toMatchObject({ routeId: 'default/native-search', outputTokens: 100, estimated: true });
    // The 4g session ($0.12) is made when the Response starts. Before, the worst case had tokens only.
    expect(record.costUsd).toBeCloseTo((record.inputTokens * 1 + 100 * 2) / 1e6 + 0.12, 8);
  });

  it('previous_response_id continues a response the target stored; an unknown one is the upstream 400 as OpenAI words it', async () => {
    const first = await client.responses.create({ model: 'native-openai', input: 'My name is Ada.' });
    expect(openai.stored.has(first.id)).toBe(true);
    const second = await client.responses.create({ model: 'native-openai', input: 'What is my name?', previous_response_id: first.id, store: false });
    expect(second.output_text).toBe('turn 2: My name is Ada. | What is my name?');
    expect(second.previous_response_id).toBe(first.id);
    expect(openai.stored.has(second.id)).toBe(false);

    const err = await client.responses.create({ model: 'native-openai', input: 'Hi', previous_response_id: 'resp_missing' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.code).toBe('previous_response_not_found');
    expect(bad.param).toBe('previous_response_id');
    expect(bad.message).toMatch(/Previous response with id 'resp_missing' not found/);
  });

  it('streaming: the upstream events reach responses.stream as sent (sequence numbers and ids), usage metered from response.completed', async () => {
    const events: ResponseStreamEvent[] = [];
    const stream = client.responses.stream({ model: 'native-openai', input: 'Stream please' });
    stream.on('event', (e) => events.push(e));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe('turn 1: Stream please');
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(openai.stored.get(final.id)?.response.id).toBe(final.id);
    expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-openai', stream: true, inputTokens: 20, outputTokens: 8, estimated: false });
  });

  it('a native stream the upstream breaks off ends with error and response.failed, numbered on from the upstream events', async () => {
    openai.script({ kind: 'stream-error' });
    const events: ResponseStreamEvent[] = [];
    const stream = await client.responses.create({ model: 'native-openai', input: 'Hi', stream: true });
    for await (const e of stream) events.push(e);
    openai.script({ kind: 'text' });
    const tail = events.slice(-2);
    expect(tail.map((e) => e.type)).toEqual(['error', 'response.failed']);
    expect(tail.map((e) => e.sequence_number)).toEqual([events.length - 2, events.length - 1]);
    expect(tail[1]).toMatchObject({ response: { status: 'failed', error: { code: 'server_error' } } });
    expect(usage.at(-1)).toMatchObject({ estimated: true });
  });

  it('a failed Response, whole or as response.failed, reaches the client with its error scrubbed of the Provider key', async () => {
    openai.script({ kind: 'response-failed' });
    try {
      const send = (stream: boolean): Promise<Response> =>
        fetch(`${gateway.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'native-openai', input: 'Hi', stream }) });
      const error = { code: 'server_error', message: 'upstream proxy rejected Bearer [redacted]' };
      const whole = await (await send(false)).text();
      expect(whole).not.toContain('sk-openai');
      expect(JSON.parse(whole)).toMatchObject({ object: 'response', status: 'failed', error });
      const streamed = await (await send(true)).text();
      expect(streamed).not.toContain('sk-openai');
      const events = streamed.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { type: string; sequence_number: number; response?: unknown });
      expect(events.map((e) => e.type)).toEqual(['response.created', 'response.in_progress', 'response.failed']);
      expect(events[2]).toMatchObject({ sequence_number: 2, response: { status: 'failed', error } });
      expect(openai.requests.at(-1)?.headers.authorization).toBe('Bearer sk-openai');
    } finally {
      openai.script({ kind: 'text' });
    }
  });

  it('Azure OpenAI: /openai/v1/responses with the api-key header and the deployment as model; state works there too', async () => {
    const first = await client.responses.create({ model: 'native-azure', input: 'One' });
    const sent = azure.requests.at(-1);
    expect(sent?.url).toBe('/openai/v1/responses');
    expect(sent?.headers['api-key']).toBe('azure-key');
    expect(sent?.body.model).toBe('gpt41-prod');
    const second = await client.responses.create({ model: 'native-azure', input: 'Two', previous_response_id: first.id });
    expect(second.output_text).toBe('turn 2: One | Two');
    const final = await client.responses.stream({ model: 'native-azure', input: 'Three', previous_response_id: second.id }).finalResponse();
    expect(final.output_text).toBe('turn 3: One | Two | Three');
    expect(usage.at(-1)).toMatchObject({ routeId: 'default/native-azure', providerId: 'default/az', outputTokens: 8 });
    expect(azure.problems).toEqual([]);
  });

  it('failover: an OpenAI target that fails hands a stateless request to a translated target', async () => {
    openai.script({ kind: 'server-error' });
    const { data, response } = await client.responses.create({ model: 'openai-then-claude', input: 'Hello' }).withResponse();
    openai.script({ kind: 'text' });
    expect(data.status).toBe('completed');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/claude');
    expect(response.headers.get('x-tollgate-attempts')).toBe('2');
    expect(claude.requests.at(-1)?.body).toMatchObject({ model: 'claude-sonnet-4-5', messages: [{ role: 'user' }] });
  });

  it('state: targets that would translate are passed over; a route with none that keeps it answers 400 naming the field', async () => {
    const before = claude.requests.length;
    const first = await client.responses.create({ model: 'claude-then-openai', input: 'Keep this', store: true });
    expect(first.model).toBe('gpt-4.1');
    const next = await client.responses.create({ model: 'claude-then-openai', input: 'And this', previous_response_id: first.id });
    expect(next.output_text).toBe('turn 2: Keep this | And this');
    expect(claude.requests.length).toBe(before);

    const err = await client.responses.create({ model: 'claude-only', input: 'Hi', previous_response_id: first.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.param).toBe('previous_response_id');
    expect(bad.message).toMatch(/previous_response_id needs state that this gateway does not keep.*route default\/claude-only has no such target: default\/claude/);
    expect(claude.requests.length).toBe(before);
  });

  it('guardrails: request rules read the Responses input; with response rules a request only a native target can serve is refused, naming why', async () => {
    const before = openai.requests.length;
    const blocked = await client.responses.create({ model: 'guarded', input: [{ role: 'user', content: 'card 4111 1111 1111 1111' }] }).catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(OpenAI.BadRequestError);
    expect((blocked as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('guardrail_blocked');
    const stateful = await client.responses.create({ model: 'guarded', input: 'Hi', previous_response_id: 'resp_1' }).catch((e: unknown) => e);
    expect(stateful).toBeInstanceOf(OpenAI.BadRequestError);
    expect((stateful as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('previous_response_id');
    expect((stateful as Error).message).toMatch(/but guardrail response rules apply on this route/);
    expect(openai.requests.length).toBe(before);
  });

  it('guardrails: a stateless request a Mask rule changed goes to the OpenAI target over chat completions, masked, and comes back a Response; unmasked it stays native', async () => {
    const before = openai.requests.length;
    const { data, response } = await client.responses
      .create({ model: 'masked', instructions: 'Be brief.', input: 'Write to ada@example.com please', max_output_tokens: 50 })
      .withResponse();
    const sent = openai.requests.at(-1);
    expect(openai.requests.length).toBe(before + 1);
    expect(sent?.url).toBe('/v1/chat/completions');
    expect(sent?.headers.authorization).toBe('Bearer sk-openai');
    expect(sent?.body).toMatchObject({ model: 'gpt-4.1', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Write to [EMAIL] please' }] });
    expect(JSON.stringify(sent?.body)).not.toContain('ada@example.com');
    expect(data).toMatchObject({ object: 'response', status: 'completed', model: 'masked', output_text: 'chat: Write to [EMAIL] please' });
    expect(data.output[0]).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'chat: Write to [EMAIL] please' }] });
    expect(data.usage).toMatchObject({ input_tokens: 20, input_tokens_details: { cached_tokens: 5 }, output_tokens: 8, total_tokens: 28 });
    expect(response.headers.get('x-tollgate-guardrail')).toBe('default/mask-only');
    expect(response.headers.get('x-tollgate-cost-usd')).toBe(COST);

    const stream = client.responses.stream({ model: 'masked', input: [{ role: 'user', content: 'stream to ada@example.com' }] });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe('chat: stream to [EMAIL]');
    expect(openai.requests.at(-1)).toMatchObject({ url: '/v1/chat/completions', body: { stream: true, messages: [{ role: 'user', content: 'stream to [EMAIL]' }] } });

    // Nothing masked: the same route serves the request natively.
    const plain = await client.responses.create({ model: 'masked', input: 'Hello' });
    expect(openai.requests.at(-1)?.url).toBe('/v1/responses');
    expect(plain.output_text).toBe('turn 1: Hello');

    // Masked and stateful: only the native API could keep the state, and it may not see the masked request.
    const stateful = await client.responses.create({ model: 'masked', input: 'Mail ada@example.com', previous_response_id: plain.id }).catch((e: unknown) => e);
    expect(stateful).toBeInstanceOf(OpenAI.BadRequestError);
    expect((stateful as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('previous_response_id');
    expect((stateful as Error).message).toMatch(/but guardrail policy default\/mask-only masked it/);
    expect(openai.requests.length).toBe(before + 3);
    expect(openai.problems).toEqual([]);
  });

  it('stored responses: retrieve, list input items and delete through the route that stored them (OpenAI and Azure OpenAI)', async () => {
    for (const [model, emulator] of [['native-openai', openai], ['native-azure', azure]] as const) {
      const created = await client.responses.create({ model, input: 'Remember me' });
      const options = { headers: { 'x-tollgate-model': model } };
      const got = await client.responses.retrieve(created.id, {}, options);
      expect(got).toMatchObject({ id: created.id, output_text: 'turn 1: Remember me' });
      const items = await client.responses.inputItems.list(created.id, {}, options);
      expect(items.data[0]).toMatchObject({ type: 'message', role: 'user' });
      await client.responses.delete(created.id, options);
      expect(emulator.stored.has(created.id)).toBe(false);
      const gone = await client.responses.retrieve(created.id, {}, options).catch((e: unknown) => e);
      expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
      expect(emulator.requests.at(-1)?.url).toBe(model === 'native-azure' ? `/openai/v1/responses/${created.id}` : `/v1/responses/${created.id}`);
    }
    expect(azure.problems).toEqual([]);
    expect(openai.problems).toEqual([]);
  });
});
