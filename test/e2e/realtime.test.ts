import type { UsageRecord } from '../../dataplane/metering/usage-record.js';
import type { RequestUsage } from '../../dataplane/config/request-usage.js';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import type { RealtimeProxy } from '../../dataplane/server/realtime/realtime-proxy.js';
import { RelayQueue } from '../../dataplane/server/realtime/relay-queue.js';
import { createCa, issueCertificate } from '../../operator/tls/certificates.js';
import { REALTIME_USAGE, type RealtimeEmulator, startRealtimeEmulator } from '../emulators/realtime.js';
import { apiKeySecretManifest, providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { metricValue } from '../support/admin-metrics.js';

// Realtime over WebSocket through the gateway, driven by the official openai client's
// OpenAIRealtimeWS (and the ws package for refusals): identity at the upgrade, the Provider's key
// upstream, connection limits, idle timeouts and usage metered from response.done.

const CALLER_KEY = 'tg-realtime-key';

/** A Budget of `usd` a day on one route. */
const dailyBudget = (name: string, usd: number, routeName: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: ${name} }
spec:
  limit: { amount: ${usd}, unit: USD }
  period: Day
  subjects: { routes: [{ name: ${routeName} }] }
`;

function files(url: string): Record<string, string> {
  const route = (name: string, passThrough: string, provider = 'openai-up', model = 'gpt-realtime-upstream') => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: ${provider} }, model: ${model} }]
${passThrough}`;
  return {
    'providers.yaml':
      providerManifest('openai-up', 'openai', `${url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-realtime-upstream, pricing: { input: 4, output: 16, cachedInput: 0.4 } }]\n') +
      // gpt-realtime's published prices: audio is 8× text in, 4× out.
      providerManifest('openai-voice', 'openai', `${url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-realtime, pricing: { input: 4, output: 16, cachedInput: 0.4, audioInput: 32, audioOutput: 64 } }, { name: gpt-4o-transcribe, pricing: { input: 2.5, output: 10, cachedInput: 0, audioInput: 6 } }, { name: gpt-4o-mini-realtime-preview, pricing: { input: 0.6, output: 2.4 } }]\n') +
      // Nothing listens on port 9 (discard) of loopback: connections are refused.
      providerManifest('nowhere', 'openai-compatible', 'http://127.0.0.1:9/v1', '{ secretRef: { name: up-key, key: apiKey } }') +
      // Link-local (the cloud instance-metadata services' range): never called. fe80::1 without a
      // zone cannot be connected to at all (EINVAL): no packet could leave even without the guard.
      providerManifest('metadata', 'openai-compatible', '"http://[fe80::1]:9/v1"', '{ secretRef: { name: up-key, key: apiKey } }') +
      secretManifest('up-key', { apiKey: 'sk-upstream' }) +
      apiKeySecretManifest('caller', CALLER_KEY),
    'routes.yaml': [
      route('voice', '  passThrough: { endpoints: [realtime] }\n'),
      route('voice-metrics', '  passThrough: { endpoints: [realtime] }\n'),
      route('voice-one', '  passThrough: { endpoints: [realtime], realtime: { maxConnections: 1 } }\n'),
      route('voice-idle', '  passThrough: { endpoints: [realtime], realtime: { idleTimeout: 300ms } }\n'),
      route('chat-only', ''),
      route('voice-budgeted', '  passThrough: { endpoints: [realtime] }\n'),
      // One response.done costs $0.0001616 at these prices: the first connection spends it all. A
      // response.create is held at its worst case, so the tests on Budgets cap their responses'
      // output (max_output_tokens); the emulator answers its usage whatever the cap, as an upstream
      // overshooting it would.
      dailyBudget('voice-cap', 0.0001, 'voice-budgeted'),
      route('voice-audio', '  passThrough: { endpoints: [realtime] }\n', 'openai-voice', 'gpt-realtime'),
      route('voice-audio-budgeted', '  passThrough: { endpoints: [realtime] }\n', 'openai-voice', 'gpt-realtime'),
      route('transcribe', '  passThrough: { endpoints: [audio] }\n', 'openai-voice', 'gpt-4o-transcribe'),
      route('voice-mini', '  passThrough: { endpoints: [realtime] }\n', 'openai-voice', 'gpt-4o-mini-realtime-preview'),
      route('voice-audio-race', '  passThrough: { endpoints: [realtime] }\n', 'openai-voice', 'gpt-realtime'),
      dailyBudget('voice-race-cap', 0.03, 'voice-audio-race'),
      // One spoken answer (REALTIME_AUDIO_USAGE) costs $0.05568 at the audio prices, $0.01252 were its audio priced as text.
      dailyBudget('voice-audio-cap', 0.03, 'voice-audio-budgeted'),
      route('voice-session-cap', '  passThrough: { endpoints: [realtime] }\n'),
      dailyBudget('session-cap', 0.0001, 'voice-session-cap'),
      route('voice-cut', '  passThrough: { endpoints: [realtime] }\n'),
      // A spoken answer at these text prices costs $0.01252: it crosses the limit of a response running beside it.
      `${dailyBudget('cut-cap', 0.005, 'voice-cut').trimEnd()}\n  action: { type: Reject, cutStreams: true }\n`,
      route('voice-nowhere', '  passThrough: { endpoints: [realtime] }\n', 'nowhere', 'm'),
      route('voice-metadata', '  passThrough: { endpoints: [realtime] }\n', 'metadata', 'm'),
    ].join('---\n'),
  };
}

interface Refused {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A connection's spend is charged once the gateway's side of it has closed: connects (closing each
 * one admitted) until an upgrade is refused, bounded; the refusal, if one came.
 */
async function refusedOnceSettled(gatewayUrl: string, model: string): Promise<Refused | undefined> {
  for (let i = 0; i < 100; i++) {
    const next = await connect(gatewayUrl, model, CALLER_KEY);
    if (!(next instanceof WebSocket)) return next;
    next.close();
    await once(next, 'close');
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

/** Opens a raw WebSocket to the gateway; resolves with the HTTP answer of a refused upgrade, or the open socket. */
function connect(gatewayUrl: string, model: string, key?: string, headers: Record<string, string> = {}): Promise<Refused | WebSocket> {
  const ws = new WebSocket(`${gatewayUrl.replace('http', 'ws')}/v1/realtime?model=${model}`, { headers: { ...headers, ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.once('error', reject);
  });
}

describe('Realtime over WebSocket', () => {
  let upstream: RealtimeEmulator;
  let gateway: TestGateway;
  let client: OpenAI;
  // The SDK only speaks wss://: a TLS hop in front of the gateway, as an ingress would terminate it.
  let ingress: TlsServer;
  const ca = createCa('realtime-test-ca', 1);
  // Usage history: every finished request (and Realtime connection) as the operator would get it.
  const history: { request: RequestUsage; costUsd: number }[] = [];

  const metric = (name: string, labels: Record<string, string>): Promise<number | undefined> => metricValue(gateway, name, labels);

  beforeAll(async () => {
    upstream = await startRealtimeEmulator('sk-upstream');
    gateway = await startTestGateway(files(upstream.url), { auth: new Authenticator({}), admin: true, onRequest: (request, costUsd) => history.push({ request, costUsd }) });
    const gatewayPort = Number(new URL(gateway.url).port);
    ingress = createTlsServer(issueCertificate(ca, 'gateway', ['127.0.0.1'], 1), (tls) => {
      const plain = tcpConnect(gatewayPort, '127.0.0.1');
      tls.pipe(plain).pipe(tls);
      tls.on('error', () => plain.destroy());
      plain.on('error', () => tls.destroy());
    });
    ingress.listen(0, '127.0.0.1');
    await once(ingress, 'listening');
    const { port } = ingress.address() as { port: number };
    client = new OpenAI({ apiKey: CALLER_KEY, baseURL: `https://127.0.0.1:${port}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    ingress?.close();
    await gateway?.close();
    await upstream?.close();
  });

  it('OpenAIRealtimeWS: events both ways, the Provider key and target model upstream, usage metered from response.done', async () => {
    const rt = new OpenAIRealtimeWS({ model: 'voice', options: { ca: ca.cert } }, client);
    const types: string[] = [];
    let text = '';
    const done = new Promise<void>((resolve, reject) => {
      rt.on('event', (e) => {
        types.push(e.type);
        if (e.type === 'response.output_text.delta') text += e.delta;
        if (e.type === 'session.created') rt.send({ type: 'response.create' });
        if (e.type === 'response.done') resolve();
      });
      rt.on('error', reject);
    });
    await done;
    expect(types).toEqual(['session.created', 'response.created', 'response.output_text.delta', 'response.output_text.delta', 'response.done']);
    expect(text).toBe('Hello');
    const seen = upstream.connections[upstream.connections.length - 1];
    expect(seen?.headers.authorization).toBe('Bearer sk-upstream');
    expect(JSON.stringify(seen?.headers)).not.toContain(CALLER_KEY);
    expect(new URL(seen?.url ?? '', 'http://x').searchParams.get('model')).toBe('gpt-realtime-upstream');
    const rec = gateway.usage.records[gateway.usage.records.length - 1];
    expect(rec).toMatchObject({ op: 'realtime', routeId: 'default/voice', inputTokens: REALTIME_USAGE.input_tokens, outputTokens: REALTIME_USAGE.output_tokens, cachedInputTokens: 4 });
    // 16 uncached × $4/M + 4 cached × $0.4/M + 6 output × $16/M
    expect(rec?.costUsd).toBeCloseTo((16 * 4 + 4 * 0.4 + 6 * 16) / 1e6, 12);
    const closed = once(rt.socket, 'close');
    rt.close();
    const [code] = (await closed) as [number];
    expect(code).toBe(1000);
  });

  it('a connection is in /metrics (operation realtime, tokens, cost, attempts, open connections) and in usage history, once', async () => {
    const route = 'default/voice-metrics';
    const ws = await connect(gateway.url, 'voice-metrics', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const done = new Promise<void>((resolve) => ws.on('message', (data) => (JSON.parse(String(data)) as { type: string }).type === 'response.done' && resolve()));
    ws.send(JSON.stringify({ type: 'response.create' }));
    await done;
    // While it runs: the open connection, and the tokens of its finished response already.
    expect(await metric('tollgate_realtime_connections', { route })).toBe(1);
    await vi.waitFor(async () => expect(await metric('tollgate_tokens_total', { route, type: 'input' })).toBe(REALTIME_USAGE.input_tokens));
    ws.close();
    await once(ws, 'close');
    await vi.waitFor(async () => expect(await metric('tollgate_requests_total', { operation: 'realtime', route })).toBe(1));
    const cost = (16 * 4 + 4 * 0.4 + 6 * 16) / 1e6;
    const labels = { route, model: 'voice-metrics', provider: 'default/openai-up', upstream_model: 'gpt-realtime-upstream' };
    expect(await metric('tollgate_requests_total', { operation: 'realtime', ...labels, status_class: '1xx' })).toBe(1);
    expect(await metric('tollgate_tokens_total', { ...labels, type: 'input' })).toBe(REALTIME_USAGE.input_tokens);
    expect(await metric('tollgate_tokens_total', { ...labels, type: 'output' })).toBe(REALTIME_USAGE.output_tokens);
    expect(await metric('tollgate_tokens_total', { ...labels, type: 'cached_input' })).toBe(4);
    expect(await metric('tollgate_cost_usd_total', labels)).toBeCloseTo(cost, 12);
    expect(await metric('tollgate_upstream_attempts_total', { route, outcome: 'success' })).toBe(1);
    expect(await metric('tollgate_realtime_connections', { route })).toBe(0);
    // Usage history: the connection once, with its responses' tokens and cost; the usage records (Budgets) once too.
    const recorded = history.filter((h) => h.request.route === route);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.request).toMatchObject({ namespace: 'default', model: 'voice-metrics', provider: 'default/openai-up', caller: 'key:default/caller', outcome: 'ok', inputTokens: 20, outputTokens: 6, cachedInputTokens: 4 });
    expect(recorded[0]?.costUsd).toBeCloseTo(cost, 12);
    expect(gateway.usage.byRoute.get(route)).toMatchObject({ requests: 1, inputTokens: 20, outputTokens: 6 });
    // A refused upgrade is a request too: its failed attempt and its 502.
    expect(await connect(gateway.url, 'voice-nowhere', CALLER_KEY)).toMatchObject({ status: 502 });
    await vi.waitFor(async () => expect(await metric('tollgate_requests_total', { operation: 'realtime', route: 'default/voice-nowhere', status_class: '5xx' })).toBe(1));
    expect(await metric('tollgate_upstream_attempts_total', { route: 'default/voice-nowhere', outcome: 'ConnectionError' })).toBe(1);
    expect(history.filter((h) => h.request.route === 'default/voice-nowhere').map((h) => h.request.outcome)).toEqual(['upstream_5xx']);
  });

  it('a spoken answer is charged its audio tokens at the audio prices, its cached audio at the cached price', async () => {
    const rt = new OpenAIRealtimeWS({ model: 'voice-audio', options: { ca: ca.cert } }, client);
    const done = new Promise<void>((resolve, reject) => {
      rt.on('event', (e) => {
        if (e.type === 'session.created') rt.send({ type: 'response.create', response: { output_modalities: ['audio'] } });
        if (e.type === 'response.done') resolve();
      });
      rt.on('error', reject);
    });
    await done;
    const closed = once(rt.socket, 'close');
    rt.close();
    await closed;
    const rec = gateway.usage.records[gateway.usage.records.length - 1];
    expect(rec).toMatchObject({ op: 'realtime', routeId: 'default/voice-audio', inputTokens: 1000, outputTokens: 600, cachedInputTokens: 300 });
    // 300 cached × $0.4 + 650 uncached audio (900 − 250 cached) × $32 + 50 uncached text × $4; 520 audio out × $64 + 80 text × $16.
    expect(rec?.costUsd).toBeCloseTo((300 * 0.4 + 650 * 32 + 50 * 4 + 520 * 64 + 80 * 16) / 1e6, 12);
  });

  /**
   * A connection to voice-audio that got one spoken answer (response.done), then started a second
   * response the emulator treats as `how` ("hang": never finishes; "failed": ends without usage).
   */
  async function afterOneSpokenAnswer(how: 'hang' | 'failed'): Promise<{ ws: WebSocket; events: string[] }> {
    const ws = await connect(gateway.url, 'voice-audio', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const events: string[] = [];
    ws.on('message', (data) => events.push((JSON.parse(String(data)) as { type: string }).type));
    ws.send(JSON.stringify({ type: 'response.create', response: { output_modalities: ['audio'] } }));
    await vi.waitFor(() => expect(events).toContain('response.done'));
    ws.send(JSON.stringify({ type: 'response.create', response: { output_modalities: ['audio'], metadata: { emulator: how } } }));
    await vi.waitFor(() => expect(events.filter((e) => e === 'response.created')).toHaveLength(2));
    return { ws, events };
  }

  it('a response a close cut short is charged its worst case, marked cut_short: an upper bound of its input (the last response’s input and output, and what was sent since) and its output cap, at the dearest prices', async () => {
    const { ws } = await afterOneSpokenAnswer('hang');
    const before = gateway.usage.records.length;
    ws.close();
    await once(ws, 'close');
    await vi.waitFor(() => expect(gateway.usage.records.length).toBe(before + 1));
    const cut = gateway.usage.records.at(-1);
    // The response set no cap, nor did the session (OpenAI's default `inf`): the target's 4096 output
    // tokens. Before, the first response's input alone (1000 tokens, no output), marked client_gone.
    expect(cut).toMatchObject({ op: 'realtime', routeId: 'default/voice-audio', outputTokens: 4096, cachedInputTokens: 0, estimated: true, estimateReason: 'cut_short' });
    // At least the first response's input and output (the conversation holds them), and the second response.create's bytes.
    expect(cut?.inputTokens).toBeGreaterThanOrEqual(1000 + 600);
    expect(cut?.costUsd).toBeCloseTo(((cut?.inputTokens ?? 0) * 32 + 4096 * 64) / 1e6, 10);
  });

  it("the first response cut by a close is charged its worst case: everything the client sent (a token a byte, 20 audio tokens a second) and the response's output cap, marked cut_short", async () => {
    const ws = await connect(gateway.url, 'voice-audio', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const events: string[] = [];
    ws.on('message', (data) => events.push((JSON.parse(String(data)) as { type: string }).type));
    // Two seconds of pcm16 (24 kHz mono: 48,000 bytes a second) in two chunks, one text item, then a response cut by the close.
    const chunk = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48_000, 1).toString('base64') });
    const item = JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'word '.repeat(200) }] } });
    const create = JSON.stringify({ type: 'response.create', response: { output_modalities: ['audio'], max_output_tokens: 300, metadata: { emulator: 'hang' } } });
    for (const m of [chunk, chunk, item, create]) ws.send(m);
    await vi.waitFor(() => expect(events).toContain('response.created'));
    const before = gateway.usage.records.length;
    ws.close();
    await once(ws, 'close');
    await vi.waitFor(() => expect(gateway.usage.records.length).toBe(before + 1));
    const cut = gateway.usage.records.at(-1);
    expect(cut).toMatchObject({ op: 'realtime', routeId: 'default/voice-audio', outputTokens: 300, estimated: true, estimateReason: 'cut_short' });
    // Before: 20 audio tokens (10 a second) and a token per four characters of the events, no output.
    const estimate = 20 + Math.ceil((item.length + create.length) / 4);
    expect(cut?.inputTokens).toBeGreaterThanOrEqual(40 + 'word '.length * 200);
    expect(cut?.inputTokens).toBeGreaterThan(estimate);
    // Every token at the dearest prices (audio's): the hold's worst case.
    expect(cut?.costUsd).toBeCloseTo(((cut?.inputTokens ?? 0) * 32 + 300 * 64) / 1e6, 10);
  });

  it("an image a client adds is held and charged at the session model's image bound (gpt-4o-mini: 48,169 tokens), not its base64 bytes", async () => {
    const ws = await connect(gateway.url, 'voice-mini', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const events: string[] = [];
    ws.on('message', (data) => events.push((JSON.parse(String(data)) as { type: string }).type));
    // A plain large PNG is a few KB, billed at its size: before, held and charged as its 4,000 bytes.
    const png = `data:image/png;base64,${Buffer.alloc(3_000, 0).toString('base64')}`;
    ws.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_image', image_url: png }] } }));
    ws.send(JSON.stringify({ type: 'response.create', response: { max_output_tokens: 50, metadata: { emulator: 'hang' } } }));
    await vi.waitFor(() => expect(events).toContain('response.created'));
    const before = gateway.usage.records.length;
    ws.close();
    await once(ws, 'close');
    await vi.waitFor(() => expect(gateway.usage.records.length).toBe(before + 1));
    const cut = gateway.usage.records.at(-1);
    expect(cut).toMatchObject({ routeId: 'default/voice-mini', outputTokens: 50, estimated: true, estimateReason: 'cut_short' });
    expect(cut?.inputTokens).toBeGreaterThanOrEqual(48_169);
    expect(cut?.inputTokens).toBeLessThan(48_169 + 500);
  });

  it("the session's input transcription is charged as its completed event reports it: at the transcription model's prices where a route targets it, else at the session's (an over-count)", async () => {
    const ws = await connect(gateway.url, 'voice-audio', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const events: string[] = [];
    ws.on('message', (data) => events.push((JSON.parse(String(data)) as { type: string }).type));
    const before = gateway.usage.records.length;
    const speech = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48_000, 1).toString('base64') });
    const silence = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') });
    for (const model of ['gpt-4o-transcribe', 'whisper-1']) {
      // No response of the server's own: only the transcription is billed.
      ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model }, turn_detection: { type: 'server_vad', create_response: false } } } } }));
      await vi.waitFor(() => expect(events.filter((e) => e === 'session.updated')).toHaveLength(model === 'whisper-1' ? 2 : 1));
      ws.send(speech);
      ws.send(silence);
      await vi.waitFor(() => expect(events.filter((e) => e === 'conversation.item.input_audio_transcription.completed')).toHaveLength(model === 'whisper-1' ? 2 : 1));
    }
    ws.close();
    await once(ws, 'close');
    const records = gateway.usage.records.slice(before);
    // Before, neither was charged: the upstream billed them outside the gateway's metering.
    expect(records).toMatchObject([
      { op: 'realtime', routeId: 'default/voice-audio', upstreamModel: 'gpt-4o-transcribe', inputTokens: 10, outputTokens: 3, estimated: false },
      { op: 'realtime', routeId: 'default/voice-audio', upstreamModel: 'whisper-1', inputTokens: 10, outputTokens: 0, estimated: false },
    ]);
    // One second of audio: 10 audio tokens at gpt-4o-transcribe's $6/M and 3 output at $10/M; whisper-1,
    // priced by no route, as 10 audio tokens at the session's $32/M (OpenAI bills $0.0001).
    expect(records[0]?.costUsd).toBeCloseTo((10 * 6 + 3 * 10) / 1e6, 12);
    expect(records[1]?.costUsd).toBeCloseTo((10 * 32) / 1e6, 12);
  });

  it('a response.done whose usage cannot be true (input_tokens -1) is charged the input estimate, marked invalid, never a negative cost', async () => {
    const ws = await connect(gateway.url, 'voice-audio', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const events: string[] = [];
    ws.on('message', (data) => events.push((JSON.parse(String(data)) as { type: string }).type));
    const item = JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'word '.repeat(200) }] } });
    const create = JSON.stringify({ type: 'response.create', response: { output_modalities: ['audio'], metadata: { emulator: 'negative' } } });
    const before = gateway.usage.records.length;
    try {
      for (const m of [item, create]) ws.send(m);
      await vi.waitFor(() => expect(events).toContain('response.done'));
      await vi.waitFor(() => expect(gateway.usage.records.length).toBe(before + 1));
    } finally {
      ws.close();
      await once(ws, 'close');
    }
    const text = Math.ceil((item.length + create.length) / 4);
    // Before, the reported counts were priced as they were: -1 input tokens, with 300 of them cached.
    expect(gateway.usage.records[before]).toMatchObject({ op: 'realtime', routeId: 'default/voice-audio', inputTokens: text, outputTokens: 0, estimated: true, estimateReason: 'invalid' });
    expect(gateway.usage.records[before]?.costUsd).toBeCloseTo((text * 4) / 1e6, 12);
  });

  it('a response that ended without usage is not charged again at the close; one whose usage arrives during the close is charged as reported', async () => {
    const session = async (how: 'failed'): Promise<UsageRecord[]> => {
      const { ws, events } = await afterOneSpokenAnswer(how);
      await vi.waitFor(() => expect(events.filter((e) => e === 'response.done')).toHaveLength(2));
      const before = gateway.usage.records.length;
      ws.close();
      await once(ws, 'close');
      await new Promise((r) => setTimeout(r, 300));
      return gateway.usage.records.slice(before);
    };
    expect(await session('failed')).toEqual([]);
    // A client that closes right after asking: the upstream's response.done was already on its way
    // when the close reached the gateway. It is charged as reported and in the Budget's settlement.
    const ws = await connect(gateway.url, 'voice-audio-race', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    ws.send(JSON.stringify({ type: 'response.create', response: { output_modalities: ['audio'], max_output_tokens: 100 } }));
    ws.close();
    await once(ws, 'close');
    await vi.waitFor(() => expect(gateway.usage.records.filter((r) => r.routeId === 'default/voice-audio-race')).toHaveLength(1));
    expect(gateway.usage.records.find((r) => r.routeId === 'default/voice-audio-race')).toMatchObject({ inputTokens: 1000, outputTokens: 600, estimated: false });
    // $0.05568 settled against the $0.03 Budget: the next connection is refused.
    const refused = await refusedOnceSettled(gateway.url, 'voice-audio-race');
    expect(refused).toMatchObject({ status: 429 });
  });

  it("a web page's WebSocket (another Origin) is refused 403 before anything reaches the upstream; a server's is served", async () => {
    const before = upstream.connections.length;
    const refused = await connect(gateway.url, 'voice-audio', CALLER_KEY, { origin: 'http://evil.example' });
    expect(refused).not.toBeInstanceOf(WebSocket);
    expect((refused as Refused).status).toBe(403);
    expect(JSON.parse((refused as Refused).body)).toMatchObject({ error: { code: 'cross_site_request' } });
    expect(upstream.connections.length).toBe(before);
    const served = await connect(gateway.url, 'voice-audio', CALLER_KEY);
    expect(served).toBeInstanceOf(WebSocket);
    (served as WebSocket).close();
  });

  it("a browser's subprotocols: the key protocol is never the one answered (the 101 would echo the key), offered alone it is refused 400; openai-beta.realtime-v1 becomes OpenAI-Beta upstream", async () => {
    const open = (protocols: string[]): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=voice`, protocols);
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const before = upstream.connections.length;
    const keyOnly = await new Promise<{ status: number; body: string }>((resolve) => {
      const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=voice`, [`openai-insecure-api-key.${CALLER_KEY}`]);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once('error', () => undefined);
      // Before: opened, the key protocol answered.
      ws.once('open', () => {
        resolve({ status: 101, body: ws.protocol });
        ws.close();
      });
    });
    expect(keyOnly.status).toBe(400);
    expect(keyOnly.body).toContain('offer the realtime subprotocol');
    expect(keyOnly.body).not.toContain(CALLER_KEY);
    expect(upstream.connections.length).toBe(before);
    const browser = await open(['realtime', `openai-insecure-api-key.${CALLER_KEY}`, 'openai-beta.realtime-v1']);
    expect(browser.protocol).toBe('realtime');
    expect(upstream.connections.at(-1)?.headers['openai-beta']).toBe('realtime=v1');
    expect(upstream.connections.at(-1)?.headers['sec-websocket-protocol']).toBeUndefined();
    browser.close();
  });

  it('binary messages pass unchanged', async () => {
    const ws = await connect(gateway.url, 'voice', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status}`);
    const echoed = new Promise<Buffer>((resolve) => ws.on('message', (data, isBinary) => isBinary && resolve(data as Buffer)));
    ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    expect([...(await echoed)]).toEqual([0, 1, 2, 255]);
    ws.close();
  });

  it('an upstream error event or close reason that echoes the Provider key reaches the client scrubbed', async () => {
    const ws = await connect(gateway.url, 'voice', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status}`);
    try {
      const texts: string[] = [];
      const error = new Promise<void>((resolve) =>
        ws.on('message', (data, isBinary) => {
          if (isBinary) return;
          texts.push(String(data));
          if (String(data).includes('"error"')) resolve();
        }),
      );
      const closed = once(ws, 'close');
      ws.send(JSON.stringify({ type: 'emulator.echo_credential' }));
      await error;
      ws.send(JSON.stringify({ type: 'emulator.close_echoing_credential' }));
      const [code, reason] = (await closed) as [number, Buffer];
      expect(JSON.parse(texts.at(-1) ?? '{}')).toMatchObject({ type: 'error', event_id: expect.any(String), error: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'key Bearer [redacted] is not valid', param: null } });
      expect(code).toBe(4001);
      expect(reason.toString()).toBe('key Bearer [redacted] revoked');
      expect(texts.join()).not.toContain('sk-upstream');
    } finally {
      ws.terminate();
    }
  });

  it('refuses at the upgrade: no credential 401, a route without realtime 404 naming it, an unknown model 404, an unreachable upstream 502', async () => {
    expect(await connect(gateway.url, 'voice')).toMatchObject({ status: 401 });
    const notEnabled = await connect(gateway.url, 'chat-only', CALLER_KEY);
    expect(notEnabled).toMatchObject({ status: 404 });
    expect(JSON.parse((notEnabled as { body: string }).body).error.message).toMatch(/endpoint realtime is not enabled on route default\/chat-only/);
    expect(await connect(gateway.url, 'nope', CALLER_KEY)).toMatchObject({ status: 404 });
    const unreachable = await connect(gateway.url, 'voice-nowhere', CALLER_KEY);
    expect(unreachable).toMatchObject({ status: 502 });
    expect(JSON.parse((unreachable as { body: string }).body).error.code).toBe('upstream_unreachable');
    // In the gateway's words; before, node's: "… refused the connection: connect ECONNREFUSED 127.0.0.1:9", the upstream's address, to any caller.
    expect(JSON.parse((unreachable as { body: string }).body).error.message).toBe('Realtime upstream default/nowhere could not be connected to: the upstream refused the connection (is anything listening at its base URL?)');
    const metadata = await connect(gateway.url, 'voice-metadata', CALLER_KEY);
    expect(metadata).toMatchObject({ status: 502 });
    expect(JSON.parse((metadata as { body: string }).body).error.message).toContain('refused to connect to [fe80::1]: a link-local or cloud instance-metadata address');
  });

  it('a side-band connection to a call (?call_id=…) is refused 403 endpoint_refused before anything reaches the upstream', async () => {
    const before = upstream.connections.length;
    const answer = await new Promise<Refused | WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=voice&call_id=rtc_someone_elses`, { headers: { authorization: `Bearer ${CALLER_KEY}` } });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      ws.once('error', reject);
    });
    if (answer instanceof WebSocket) answer.terminate();
    expect(answer).toMatchObject({ status: 403 });
    expect(JSON.parse((answer as Refused).body).error).toMatchObject({ code: 'endpoint_refused', message: expect.stringContaining('call_id') });
    expect(upstream.connections.length).toBe(before);
  });

  it('a route at its connection limit refuses one more with 429 until one closes', async () => {
    const first = await connect(gateway.url, 'voice-one', CALLER_KEY);
    if (!(first instanceof WebSocket)) throw new Error(`refused: ${first.status}`);
    const second = await connect(gateway.url, 'voice-one', CALLER_KEY);
    expect(second).toMatchObject({ status: 429 });
    first.close();
    await once(first, 'close');
    // The gateway counts the connection gone once its side has closed too: poll, bounded.
    let again: Awaited<ReturnType<typeof connect>> = { status: 0, headers: {}, body: '' };
    for (let i = 0; i < 50; i++) {
      again = await connect(gateway.url, 'voice-one', CALLER_KEY);
      if (again instanceof WebSocket) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(again).toBeInstanceOf(WebSocket);
    (again as WebSocket).close();
    // With no connection left, the route holds no entry: kept at zero, every route that ever had one stayed.
    const proxy = (gateway.dataplane as unknown as { realtime: RealtimeProxy }).realtime;
    await vi.waitFor(() => expect(proxy.connections('default/voice-one')).toBe(0));
    await vi.waitFor(() => expect(proxy.routesWithConnections).toBe(0));
  });

  it('an upgrade the handshake refuses, or whose client leaves while upstream connects, holds no connection slot and no upstream session', async () => {
    const port = Number(new URL(gateway.url).port);
    const raw = (request: string, leave: boolean): Promise<string> =>
      new Promise((resolve) => {
        const socket = tcpConnect(port, '127.0.0.1', () => {
          socket.write(request);
          if (leave) socket.end();
        });
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString()));
        socket.on('close', () => resolve(answer));
        socket.on('error', () => resolve(answer));
      });
    const head = (extra: string): string =>
      `GET /v1/realtime?model=voice-one HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer ${CALLER_KEY}\r\n${extra}\r\n`;
    const before = upstream.connections.length;
    const closedBefore = upstream.closes.length;
    for (let i = 0; i < 2; i++) {
      const answer = await raw(head('Sec-WebSocket-Version: 13\r\n'), false);
      expect(answer).toMatch(/^HTTP\/1.1 400 /);
      expect(answer).toContain('content-type: application/json');
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.message).toMatch(/not a WebSocket upgrade: Sec-WebSocket-Key is missing/);
    }
    expect(upstream.connections.length).toBe(before);
    // A well-formed upgrade whose client is gone by the time upstream has answered: ws aborts it
    // without calling back. Twice, on a route that allows one connection.
    for (let i = 0; i < 2; i++) await raw(head('Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'), true);
    expect(upstream.connections.length - before).toBe(2);
    const proxy = (gateway.dataplane as unknown as { realtime: RealtimeProxy }).realtime;
    await vi.waitFor(() => expect(proxy.connections('default/voice-one')).toBe(0));
    await vi.waitFor(() => expect(upstream.closes.length - closedBefore).toBe(2));
    const ws = await connect(gateway.url, 'voice-one', CALLER_KEY);
    expect(ws).toBeInstanceOf(WebSocket);
    (ws as WebSocket).close();
    await once(ws as WebSocket, 'close');
  });

  it("queues no more than a bounded amount for a client that does not read: the upstream's reading pauses", async () => {
    const ws = await connect(gateway.url, 'voice', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status}`);
    ws.pause();
    // 96 MiB of audio deltas, against a gateway that pauses past 1 MiB queued for the client (32 MiB before).
    ws.send(JSON.stringify({ type: 'emulator.flood', count: 96, bytes: 1024 * 1024 }));
    const proxy = (gateway.dataplane as unknown as { realtime: { sockets: Set<WebSocket> } }).realtime;
    const queued = (): number => [...proxy.sockets].reduce((n, s) => n + s.bufferedAmount, 0);
    let most = 0;
    for (let i = 0; i < 40; i++) {
      most = Math.max(most, queued());
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(most).toBeGreaterThan(512 * 1024);
    expect(most).toBeLessThan(4 * 1024 * 1024);
    ws.terminate();
    // Settled at the upstream's close, which a flooding upstream whose reading is paused may send late: at most 2 s after (UPSTREAM_CLOSE_WAIT_MS).
    await vi.waitFor(() => expect(proxy.sockets.size).toBe(0), { timeout: 3000 });
  });

  it('bounds what all connections queue together: clients that do not read, upstreams flooding them, stay under the pod-wide limit', async () => {
    const proxy = (gateway.dataplane as unknown as { realtime: { sockets: Set<WebSocket>; queue: RelayQueue } }).realtime;
    const podLimit = 2 * 1024 * 1024;
    const before = proxy.queue;
    proxy.queue = new RelayQueue(podLimit);
    const clients: WebSocket[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const ws = await connect(gateway.url, 'voice', CALLER_KEY);
        if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status}`);
        ws.pause();
        clients.push(ws);
      }
      // 8 × 16 MiB of 256 KiB audio deltas; each connection alone would queue up to ~1.25 MiB.
      for (const ws of clients) ws.send(JSON.stringify({ type: 'emulator.flood', count: 64, bytes: 256 * 1024 }));
      const queued = (): number => [...proxy.sockets].reduce((n, s) => n + s.bufferedAmount, 0);
      let most = 0;
      for (let i = 0; i < 40; i++) {
        most = Math.max(most, queued());
        await new Promise((r) => setTimeout(r, 25));
      }
      // The limit, plus at most a message each that was already being read when the pod's limit was passed.
      expect(most).toBeGreaterThan(podLimit / 2);
      expect(most).toBeLessThan(podLimit + 8 * 256 * 1024 + 64 * 1024);
    } finally {
      for (const ws of clients) ws.terminate();
      // As above: up to 2 s each for a flooding upstream's close.
      await vi.waitFor(() => expect(proxy.sockets.size).toBe(0), { timeout: 3000 });
      proxy.queue = before;
    }
  });

  it('a Budget that applies refuses the upgrade with 429 budget_exceeded once a connection spent it, before anything goes upstream', async () => {
    const ws = await connect(gateway.url, 'voice-budgeted', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const done = new Promise<void>((resolve) => ws.on('message', (data) => (JSON.parse(String(data)) as { type: string }).type === 'response.done' && resolve()));
    ws.send(JSON.stringify({ type: 'response.create', response: { max_output_tokens: 1 } }));
    await done;
    ws.close();
    await once(ws, 'close');
    const spent = gateway.usage.records.filter((r) => r.routeId === 'default/voice-budgeted');
    expect(spent).toHaveLength(1);
    expect(spent[0]?.costUsd).toBeCloseTo((16 * 4 + 4 * 0.4 + 6 * 16) / 1e6, 12);
    // The spend is charged when the gateway's side of the connection has closed: poll, bounded.
    let refused: Refused | undefined;
    let upstreamBefore = 0;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      upstreamBefore = upstream.connections.length;
      const next = await connect(gateway.url, 'voice-budgeted', CALLER_KEY);
      if (next instanceof WebSocket) {
        next.close();
        await once(next, 'close');
        await new Promise((r) => setTimeout(r, 50));
      } else refused = next;
    }
    expect(refused).toMatchObject({ status: 429 });
    expect(refused?.headers['x-tollgate-budget']).toBe('default/voice-cap');
    const error = (JSON.parse(refused?.body ?? '{}') as { error: { code: string; type: string; message: string } }).error;
    expect(error).toMatchObject({ code: 'budget_exceeded', type: 'insufficient_quota' });
    expect(error.message).toMatch(/budget default\/voice-cap is exhausted/);
    expect(upstream.connections.length).toBe(upstreamBefore);
  });

  /** An open connection's events as they come, parsed. */
  async function session(model: string): Promise<{ ws: WebSocket; events: { type: string; error?: { code?: string; message?: string; event_id?: string | null } }[] }> {
    const ws = await connect(gateway.url, model, CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const events: { type: string }[] = [];
    ws.on('message', (data, isBinary) => !isBinary && events.push(JSON.parse(String(data)) as { type: string }));
    return { ws, events };
  }

  it('a Budget is charged each response as it ends: while the session is open, an exhausted Budget refuses its next response.create (an error event, nothing upstream) and every new connection', async () => {
    const budget = gateway.dataplane.store.current?.snapshot.budgets.find((b) => b.id === 'default/session-cap');
    if (budget === undefined) throw new Error('no budget');
    const spent = (): number => gateway.dataplane.ledger.spent(budget, Date.now()).spent;
    const { ws, events } = await session('voice-session-cap');
    const upstreamSeen = upstream.connections.length;
    ws.send(JSON.stringify({ type: 'response.create', response: { max_output_tokens: 1 } }));
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'response.done')).toHaveLength(1));
    // Charged at its response.done, the connection still open (before, only when it closed).
    await vi.waitFor(() => expect(spent()).toBeCloseTo((16 * 4 + 4 * 0.4 + 6 * 16) / 1e6, 12));
    ws.send(JSON.stringify({ type: 'response.create', event_id: 'evt_second' }));
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'error')).toHaveLength(1));
    expect(events.at(-1)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'budget_exceeded', event_id: 'evt_second' } });
    expect(events.at(-1)?.error?.message).toMatch(/^budget default\/session-cap is exhausted: 0\.0002 of 0\.0001 USD spent this period/);
    // The session stays open (binary echoes), no second response ran upstream, and a new connection is refused.
    const echoed = new Promise<void>((resolve) => ws.on('message', (_d, isBinary) => isBinary && resolve()));
    ws.send(Buffer.from([1]), { binary: true });
    await echoed;
    expect(events.filter((e) => e.type === 'response.created')).toHaveLength(1);
    const another = await connect(gateway.url, 'voice-session-cap', CALLER_KEY);
    expect(another).toMatchObject({ status: 429 });
    expect(upstream.connections.length).toBe(upstreamSeen);
    ws.close();
    await once(ws, 'close');
    const proxy = (gateway.dataplane as unknown as { realtime: RealtimeProxy }).realtime;
    await vi.waitFor(() => expect(proxy.connections('default/voice-session-cap')).toBe(0));
    // Never twice: the close charges nothing the responses were charged already.
    const records = gateway.usage.records.filter((r) => r.routeId === 'default/voice-session-cap');
    expect(records).toHaveLength(1);
    expect(spent()).toBeCloseTo(records[0]?.costUsd ?? -1, 12);
  });

  it('a Budget that cuts streams cancels a response running when another spends it past the limit, with an error event', async () => {
    const a = await session('voice-cut');
    const b = await session('voice-cut');
    try {
      a.ws.send(JSON.stringify({ type: 'response.create', response: { max_output_tokens: 100, metadata: { emulator: 'hang' } } }));
      await vi.waitFor(() => expect(a.events.map((e) => e.type)).toContain('response.created'));
      b.ws.send(JSON.stringify({ type: 'response.create', response: { output_modalities: ['audio'], max_output_tokens: 100 } }));
      await vi.waitFor(() => expect(b.events.map((e) => e.type)).toContain('response.done'));
      // A's response goes on streaming: its next delta finds the Budget crossed, and the response is cancelled.
      a.ws.send(JSON.stringify({ type: 'emulator.flood', count: 1, bytes: 10 }));
      await vi.waitFor(() => expect(a.events.map((e) => e.type)).toContain('response.done'));
      const error = a.events.find((e) => e.type === 'error');
      expect(error).toMatchObject({ error: { code: 'budget_exceeded', type: 'invalid_request_error' } });
      expect(error?.error?.message).toMatch(/budget default\/cut-cap was exhausted during this stream .*the response was cancelled/);
      expect(a.events.find((e) => e.type === 'response.done')).toMatchObject({ response: { status: 'cancelled' } });
    } finally {
      a.ws.close();
      b.ws.close();
    }
  });

  it("a connection's spend against a Budget is its responses' costs, audio at the audio prices", async () => {
    const ws = await connect(gateway.url, 'voice-audio-budgeted', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const done = new Promise<void>((resolve) => ws.on('message', (data) => (JSON.parse(String(data)) as { type: string }).type === 'response.done' && resolve()));
    ws.send(JSON.stringify({ type: 'response.create', response: { output_modalities: ['audio'], max_output_tokens: 100 } }));
    await done;
    ws.close();
    await once(ws, 'close');
    // Charged when the gateway's side has closed: poll, bounded. At text prices the $0.03 would still admit.
    const refused = await refusedOnceSettled(gateway.url, 'voice-audio-budgeted');
    expect(refused).toMatchObject({ status: 429 });
    expect((JSON.parse(refused?.body ?? '{}') as { error: { message: string } }).error.message).toMatch(/budget default\/voice-audio-cap is exhausted: 0\.0557 of 0\.03 USD spent/);
  });

  it.each([
    { upstreamLate: 200, drainTimeoutMs: 5_000 },
    // Past the drain timeout the session is ended (its sockets reset) and charged at once.
    { upstreamLate: 3_000, drainTimeoutMs: 300 },
  ])('a draining pod charges its Realtime sessions before its final usage report: upstream answering the close $upstreamLate ms late, drain timeout $drainTimeoutMs ms', async ({ upstreamLate, drainTimeoutMs }) => {
    const own = await startTestGateway(files(upstream.url), { auth: new Authenticator({}), drainTimeoutMs });
    const order: string[] = [];
    const reporter = own.dataplane.reporter as unknown as { record: (...a: unknown[]) => void; drain: (ms: number) => Promise<boolean> };
    const record = reporter.record.bind(reporter);
    reporter.record = (...a) => {
      order.push('budget charged');
      record(...a);
    };
    const drain = reporter.drain.bind(reporter);
    reporter.drain = (ms) => {
      order.push('final usage report');
      return drain(ms);
    };
    // A Budget whose room holds the response's worst case (its output capped).
    const ws = await connect(own.url, 'voice-audio-race', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
    const events: string[] = [];
    ws.on('message', (data) => events.push((JSON.parse(String(data)) as { type: string }).type));
    // A response running when the drain starts (cut by it: charged its worst case), and an upstream
    // that answers the gateway's close 200 ms late.
    ws.send(JSON.stringify({ type: 'response.create', response: { max_output_tokens: 100, metadata: { emulator: 'hang' } } }));
    await vi.waitFor(() => expect(events).toContain('response.created'));
    ws.send(JSON.stringify({ type: 'emulator.slow_close', ms: upstreamLate }));
    await new Promise((r) => setTimeout(r, 20));
    const closed = once(ws, 'close');
    await own.close();
    order.push('shutdown resolved');
    const [code] = (await closed) as [number];
    expect(code).toBe(1001);
    expect(own.usage.records.filter((r) => r.routeId === 'default/voice-audio-race')).toMatchObject([{ estimated: true, estimateReason: 'cut_short', outputTokens: 100 }]);
    expect(order).toEqual(['budget charged', 'final usage report', 'shutdown resolved']);
  });

  it('an idle connection is closed with 1001, upstream too', async () => {
    const ws = await connect(gateway.url, 'voice-idle', CALLER_KEY);
    if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status}`);
    const before = upstream.closes.length;
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(1001);
    for (let i = 0; i < 50 && !upstream.closes.slice(before).includes(1001); i++) await new Promise((r) => setTimeout(r, 20));
    expect(upstream.closes.slice(before)).toContain(1001);
  });
});
