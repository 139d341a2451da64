import { once } from 'node:events';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type PassThroughEmulator, startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { REALTIME_USAGE, type RealtimeEmulator, startRealtimeEmulator } from '../emulators/realtime.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// Pass-through and Realtime on Azure OpenAI (its deployment and resource paths, api-version, the
// api-key header), per-request and per-unit prices metered into spend, budgets checked before a
// pass-through request, and failover between targets where the body can be sent again.

const AZURE = { deployment: 'media-prod', apiVersion: '2025-04-01-preview' };
const azureSettings = `  azure: { deployment: ${AZURE.deployment}, apiVersion: "${AZURE.apiVersion}" }\n`;
const key = (secret: string): string => `{ secretRef: { name: ${secret}, key: apiKey } }`;

const route = (name: string, targets: [string, string][], endpoints: string, extra = ''): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets:
${targets.map(([p, m], i) => `    - { providerRef: { name: ${p} }, model: ${m}, priority: ${i * 10} }`).join('\n')}
  passThrough: { endpoints: [${endpoints}] }
${extra}---
`;

describe('pass-through and Realtime: Azure OpenAI, unit prices, budgets, failover', () => {
  let openai: PassThroughEmulator;
  let flaky: PassThroughEmulator;
  let azure: PassThroughEmulator;
  let azureRealtime: RealtimeEmulator;
  let gateway: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    openai = await startPassThroughEmulator('sk-upstream');
    flaky = await startPassThroughEmulator('sk-upstream');
    azure = await startPassThroughEmulator('az-key', AZURE);
    azureRealtime = await startRealtimeEmulator('az-key', AZURE);
    const azureModels = `  models:
    - { name: gpt-image-1, pricing: { perImage: 0.04, perRequest: 0.001 } }
    - { name: whisper-1, pricing: { perAudioSecond: 0.0001 } }
    - { name: tts-1, pricing: { perMillionCharacters: 15 } }
    - { name: gpt-realtime, pricing: { input: 4, output: 16, cachedInput: 0.4 } }
`;
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('az-media', 'azure-openai', azure.url, key('az-key'), azureSettings + azureModels) +
        providerManifest('az-rt', 'azure-openai', azureRealtime.url, key('az-key'), azureSettings + azureModels) +
        secretManifest('az-key', { apiKey: 'az-key' }) +
        providerManifest('openai-up', 'openai', `${openai.url}/v1`, key('up-key'), '  models: [{ name: omni-moderation-latest, pricing: { perRequest: 0.5 } }]\n') +
        providerManifest('flaky', 'openai', `${flaky.url}/v1`, key('up-key')) +
        // Nothing listens on port 9 (discard) of loopback: connections are refused.
        providerManifest('nowhere', 'openai-compatible', 'http://127.0.0.1:9/v1', key('up-key')) +
        secretManifest('up-key', { apiKey: 'sk-upstream' }),
      'routes.yaml':
        route('az-images', [['az-media', 'gpt-image-1']], 'images, files, batches, moderations') +
        route('az-whisper', [['az-media', 'whisper-1']], 'audio') +
        route('az-speech', [['az-media', 'tts-1']], 'audio') +
        route('az-voice', [['nowhere', 'm'], ['az-rt', 'gpt-realtime']], 'realtime') +
        route('failover', [['nowhere', 'm'], ['flaky', 'omni-moderation-latest'], ['openai-up', 'omni-moderation-latest']], 'moderations, audio') +
        route('budgeted', [['openai-up', 'omni-moderation-latest']], 'moderations') +
        route('slow-then-up', [['flaky', 'omni-moderation-latest'], ['openai-up', 'omni-moderation-latest']], 'moderations', '  timeouts: { total: 5s, attempt: 1s }\n') +
        route('slow', [['flaky', 'omni-moderation-latest']], 'moderations', '  timeouts: { total: 5s, attempt: 1s }\n') +
        `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: moderation-cap }
spec:
  limit: { amount: 0.9, unit: USD }
  period: Day
  subjects: { routes: [{ name: budgeted }] }
  action: { type: Downgrade, downgradeTo: failover }
`,
    });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    for (const e of [openai, flaky, azure]) await e?.close();
    await azureRealtime?.close();
  });

  const records = (routeId: string) => gateway.usage.records.filter((r) => r.routeId === routeId);

  it('Azure OpenAI images: the deployment path with api-version and api-key; priced per image and per request', async () => {
    const { data, response } = await client.images.generate({ model: 'az-images', prompt: 'a fox', n: 1 }).withResponse();
    expect(data.data?.length).toBe(1);
    const sent = azure.requests.at(-1);
    expect(sent?.url).toBe('/v1/images/generations');
    expect(sent?.headers['api-key']).toBe('az-key');
    expect(sent?.headers.authorization).toBeUndefined();
    expect(JSON.parse(sent?.body.toString() ?? '{}')).toMatchObject({ model: 'gpt-image-1', prompt: 'a fox' });
    expect(response.headers.get('x-tollgate-provider')).toBe('default/az-media');
    // Token usage is unpriced here; one image at $0.04 and the call at $0.001.
    expect(records('default/az-images').at(-1)).toMatchObject({ op: 'passthrough', costUsd: 0.041, inputTokens: 10, outputTokens: 100 });
    expect(azure.problems).toEqual([]);
  });

  it('Azure OpenAI files and batches at the resource, transcription priced per second, speech per character', async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from('{"custom_id":"1"}\n'), 'batch.jsonl'), purpose: 'batch' }, { headers: { 'x-tollgate-model': 'az-images' } });
    expect(file.id).toBe('file-abc');
    expect((await client.batches.retrieve('batch_abc', { headers: { 'x-tollgate-model': 'az-images' } })).id).toBe('batch_abc');
    const text = await client.audio.transcriptions.create({ model: 'whisper-1', file: await toFile(Buffer.alloc(2048, 1), 'a.wav') }, { headers: { 'x-tollgate-model': 'az-whisper' } });
    expect(text.text).toBe('heard 2048 bytes with whisper-1');
    // 12 seconds × $0.0001
    expect(records('default/az-whisper').at(-1)).toMatchObject({ costUsd: 0.0012, inputTokens: 0, outputTokens: 0 });
    const speech = await client.audio.speech.create({ model: 'az-speech', voice: 'alloy', input: 'Hello there' });
    expect(Buffer.from(await speech.arrayBuffer()).toString()).toBe('mp3:Hello there');
    // 11 characters × $15 per million
    expect(records('default/az-speech').at(-1)?.costUsd).toBeCloseTo((11 * 15) / 1e6, 10);
    expect(azure.problems).toEqual([]);
  });

  it('an endpoint Azure OpenAI does not serve (moderations) is a 400 naming the route', async () => {
    const err = await client.moderations.create({ model: 'az-images', input: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    // The types named are those that serve moderations (before, azure-openai was among them).
    expect((err as Error).message).toMatch(/route default\/az-images has no target that can serve \/v1\/moderations \(endpoint moderations\): pass-through needs a Provider that serves it \(of type openai, openai-compatible, vllm\)/);
  });

  it('Realtime on Azure OpenAI: wss to /openai/realtime with the deployment, api-version and api-key, after failing over from a refusing target; usage metered', async () => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=az-voice`);
    const types: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      ws.on('message', (data) => {
        const event = JSON.parse(String(data)) as { type: string };
        types.push(event.type);
        if (event.type === 'session.created') ws.send(JSON.stringify({ type: 'response.create' }));
        if (event.type === 'response.done') resolve();
      });
      ws.on('error', reject);
    });
    await done;
    expect(types[0]).toBe('session.created');
    const seen = azureRealtime.connections.at(-1);
    expect(seen?.headers['api-key']).toBe('az-key');
    const url = new URL(seen?.url ?? '', 'http://x');
    expect(url.pathname).toBe('/openai/realtime');
    expect(Object.fromEntries(url.searchParams)).toEqual({ 'api-version': AZURE.apiVersion, deployment: AZURE.deployment });
    expect(records('default/az-voice').at(-1)).toMatchObject({ op: 'realtime', providerId: 'default/az-rt', inputTokens: REALTIME_USAGE.input_tokens });
    const closed = once(ws, 'close');
    ws.close();
    await closed;
  });

  it('failover: a JSON request passes a refusing target and a 500 to the next; a streamed upload is not sent twice', async () => {
    flaky.failWith = 500;
    try {
      const before = flaky.requests.length;
      const { data, response } = await client.moderations.create({ model: 'failover', input: 'hi' }).withResponse();
      expect(data.results).toHaveLength(1);
      expect(response.headers.get('x-tollgate-provider')).toBe('default/openai-up');
      expect(response.headers.get('x-tollgate-attempts')).toBe('3');
      expect(flaky.requests.length).toBe(before + 1);
      expect(JSON.parse(openai.requests.at(-1)?.body.toString() ?? '{}')).toMatchObject({ model: 'omni-moderation-latest', input: 'hi' });

      const upload = await client.audio.transcriptions
        .create({ model: 'whisper-1', file: await toFile(Buffer.alloc(512, 1), 'a.wav') }, { headers: { 'x-tollgate-model': 'failover' } })
        .catch((e: unknown) => e);
      expect(upload).toBeInstanceOf(OpenAI.InternalServerError);
      expect((upload as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect(flaky.requests.length).toBe(before + 1);
    } finally {
      flaky.failWith = undefined;
    }
  });

  it("timeouts: a hung upstream is given up after the route's timeout and failed over; with nothing left, a 504 saying which", async () => {
    flaky.hang = true;
    try {
      const started = Date.now();
      // The client's own timeout is there only so that a gateway that never gives up fails the test, not holds it.
      const { data, response } = await client.moderations.create({ model: 'slow-then-up', input: 'hi' }, { timeout: 8_000 }).withResponse();
      expect(data.results).toHaveLength(1);
      expect(response.headers.get('x-tollgate-provider')).toBe('default/openai-up');
      expect(response.headers.get('x-tollgate-attempts')).toBe('2');

      const err = (await client.moderations.create({ model: 'slow', input: 'hi' }, { timeout: 8_000 }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err.status).toBe(504);
      expect(err.code).toBe('upstream_timeout');
      expect(err.type).toBe('timeout_error');
      expect(err.message).toMatch(/pass-through to default\/flaky timed out: the upstream sent nothing for 1000 ms \(the route's attempt timeout/);
      // One second each.
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      flaky.hang = false;
    }
  });

  it('budgets: a pass-through request is refused once its budget cannot cover its price (per-request price $0.5, limit $0.9), even where the budget would downgrade chat', async () => {
    await client.moderations.create({ model: 'budgeted', input: 'one' });
    expect(records('default/budgeted').map((r) => r.costUsd)).toEqual([0.5]);
    // $0.4 left holds no second $0.5 request (before, pass-through requests held nothing, and this one overspent).
    const err = await client.moderations.create({ model: 'budgeted', input: 'two' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const refused = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(refused.code).toBe('budget_exceeded');
    expect(refused.headers?.get('x-tollgate-budget')).toBe('default/moderation-cap');
    // As every budget refusal: the SDKs do not retry it; the budget is not exhausted, so no reset time.
    expect(refused.headers?.get('x-should-retry')).toBe('false');
    expect(refused.message).toContain('budget default/moderation-cap cannot cover this request: it is exhausted, or what is left is less than the request');
    expect(records('default/budgeted')).toHaveLength(1);
  });
});
