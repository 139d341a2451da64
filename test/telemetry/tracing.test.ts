import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLeanTracing } from '../../dataplane/telemetry/lean-tracing.js';
import type { Tracing } from '../../dataplane/telemetry/tracing.js';
import { parseTracingConfig } from '../../dataplane/telemetry/tracing-config.js';
import { type Collector, type ReceivedSpan, startCollector } from '../otel/collector.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';

// A real OpenTelemetry Collector (built from its Go modules by test/otel/build.sh) receives the
// gateway's OTLP/HTTP export and writes it with the file exporter; the test reads that file.

const ROUTE = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ha }
spec:
  model: chat-ha
  strategy: failover
  retry: { attempts: 1 }
  targets:
    - { providerRef: { name: primary }, model: up-a, priority: 0 }
    - { providerRef: { name: backup }, model: up-b, priority: 1 }
`;

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';

let collector: Collector;
let tracing: Tracing;
let primary: OpenAiUpstream;
let backup: OpenAiUpstream;
let gateway: TestGateway;

beforeAll(async () => {
  collector = await startCollector();
  const config = parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint }, {}, { serviceName: 'tollgate-test', serviceVersion: '0.1.0' });
  if (config === undefined) throw new Error('tracing config expected');
  tracing = startLeanTracing(config); // as the data plane runs it (dataplane/main/launch.ts)
  primary = await startOpenAiUpstream();
  backup = await startOpenAiUpstream();
  gateway = await startTestGateway(
    { 'primary.yaml': openAiProvider('primary', primary.baseUrl), 'backup.yaml': openAiProvider('backup', backup.baseUrl), 'route.yaml': ROUTE },
    { tracer: tracing.tracer },
  );
}, 20 * 60_000);

afterAll(async () => {
  await gateway?.close();
  await tracing?.shutdown();
  await primary?.close();
  await backup?.close();
  await collector?.stop();
});

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe('traces of a streamed request that failed over once', () => {
  it('continues the caller trace: one SERVER span, one CLIENT span per attempt, GenAI attributes, traceparent upstream', async () => {
    primary.script({ kind: 'error', status: 500 });
    backup.script({ kind: 'stream', chunks: 3, intervalMs: 5, content: 'zebra' });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` },
      body: JSON.stringify({
        model: 'chat-ha',
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 64,
        messages: [{ role: 'user', content: 'a secret prompt' }],
      }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('zebra');
    expect(text).toContain('data: [DONE]');

    await tracing.flush();
    const all = await collector.waitFor((spans) => spans.filter((s) => s.traceId === TRACE_ID).length >= 3);
    const spans = all.filter((s) => s.traceId === TRACE_ID);
    expect(spans).toHaveLength(3);

    const server = spans.find((s) => s.kind === 'server') as ReceivedSpan;
    expect(server).toBeDefined();
    expect(server.parentSpanId).toBe(CLIENT_SPAN);
    expect(server.service).toBe('tollgate-test');
    expect(server.name).toBe('chat chat-ha');
    expect(server.status).toBe('unset');
    expect(server.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'chat-ha',
      'gen_ai.request.stream': true,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.provider.name': 'openai-compatible',
      'gen_ai.response.model': 'up-b',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 7,
      'gen_ai.usage.output_tokens': 3,
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
      'http.response.status_code': 200,
      'tollgate.route': 'default/ha',
      'tollgate.provider': 'default/backup',
      'tollgate.attempts': 2,
      'tollgate.cache_hit': false,
      'tollgate.usage.estimated': false,
    });
    expect(typeof server.attributes['tollgate.cost_usd']).toBe('number');
    expect(server.attributes['tollgate.request_id']).toEqual(expect.any(String));

    const clients = spans.filter((s) => s.kind === 'client').sort((a, b) => Number(a.attributes['tollgate.attempt']) - Number(b.attributes['tollgate.attempt']));
    expect(clients).toHaveLength(2);
    const [failed, served] = clients as [ReceivedSpan, ReceivedSpan];
    for (const c of clients) expect(c.parentSpanId).toBe(server.spanId);

    expect(failed.name).toBe('chat up-a');
    expect(failed.status).toBe('error');
    expect(failed.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai-compatible',
      'gen_ai.request.model': 'up-a',
      'server.address': '127.0.0.1',
      'server.port': portOf(primary.url),
      'error.type': 'ServerError',
      'http.response.status_code': 500,
      'tollgate.attempt': 1,
      'tollgate.provider': 'default/primary',
      'tollgate.route': 'default/ha',
    });
    expect(failed.attributes['gen_ai.usage.output_tokens']).toBeUndefined();

    expect(served.name).toBe('chat up-b');
    expect(served.status).toBe('unset');
    expect(served.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai-compatible',
      'gen_ai.request.model': 'up-b',
      'gen_ai.request.stream': true,
      'gen_ai.response.model': 'up-b',
      'gen_ai.response.id': 'chatcmpl-s',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 7,
      'gen_ai.usage.output_tokens': 3,
      'server.address': '127.0.0.1',
      'server.port': portOf(backup.url),
      'http.response.status_code': 200,
      'tollgate.attempt': 2,
      'tollgate.provider': 'default/backup',
    });
    expect(served.attributes['error.type']).toBeUndefined();
    expect(served.attributes['gen_ai.response.time_to_first_chunk']).toEqual(expect.any(Number));

    // Each upstream saw its own attempt span as parent, so its server spans join this trace.
    expect(primary.requests.at(-1)?.headers.traceparent).toBe(`00-${TRACE_ID}-${failed.spanId}-01`);
    expect(backup.requests.at(-1)?.headers.traceparent).toBe(`00-${TRACE_ID}-${served.spanId}-01`);

    // No prompt or completion content on any span.
    const dump = JSON.stringify(spans);
    expect(dump).not.toContain('secret prompt');
    expect(dump).not.toContain('zebra');
  });

  it("keeps an upstream's error text, which can quote the prompt, off the attempt span", async () => {
    // A FastAPI server (vLLM) answers 422 with the offending input; with no `message` the error is its text.
    primary.script({ kind: 'error', status: 422, body: { detail: [{ type: 'value_error', input: 'my SSN is ZXQ-SPAN-422' }] } });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-422' },
      body: JSON.stringify({ model: 'chat-ha', messages: [{ role: 'user', content: 'my SSN is ZXQ-SPAN-422' }] }),
    });
    expect(res.status).toBe(422);
    await tracing.flush();
    const all = await collector.waitFor((spans) => spans.some((s) => s.attributes['tollgate.request_id'] === 'req-422'));
    const server = all.find((s) => s.attributes['tollgate.request_id'] === 'req-422') as ReceivedSpan;
    const client = await collector.waitFor((spans) => spans.some((s) => s.parentSpanId === server.spanId));
    const attempt = client.find((s) => s.parentSpanId === server.spanId) as ReceivedSpan;
    expect(attempt.status).toBe('error');
    expect(attempt.statusMessage).toBe('ClientError: the upstream answered 422');
    expect(JSON.stringify(client.filter((s) => s.traceId === server.traceId))).not.toContain('ZXQ');
  });

  it("names the SERVER span's http.route by the endpoint, whatever spelling of its path the caller sent", async () => {
    // The server answers every case variant of a path, with or without a trailing slash: as
    // http.route each would be its own series in spans-to-metrics, at the caller's choice.
    primary.script({ kind: 'ok' });
    for (const [i, path] of ['/V1/Chat/Completions/', '/v1/CHAT/completions', '/v1/embeddings/'].entries()) {
      const res = await fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `req-route-${i}` },
        body: JSON.stringify(path.includes('mbed') ? { model: 'chat-ha', input: 'hi' } : { model: 'chat-ha', messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.text();
    }
    await tracing.flush();
    const ids = ['req-route-0', 'req-route-1', 'req-route-2'];
    const all = await collector.waitFor((spans) => ids.every((id) => spans.some((s) => s.kind === 'server' && s.attributes['tollgate.request_id'] === id)));
    const server = (id: string) => all.find((s) => s.kind === 'server' && s.attributes['tollgate.request_id'] === id) as ReceivedSpan;
    expect(server('req-route-0').attributes).toMatchObject({ 'http.route': '/v1/chat/completions', 'url.path': '/V1/Chat/Completions/' });
    expect(server('req-route-1').attributes).toMatchObject({ 'http.route': '/v1/chat/completions', 'url.path': '/v1/CHAT/completions' });
    expect(server('req-route-2').attributes).toMatchObject({ 'http.route': '/v1/embeddings', 'url.path': '/v1/embeddings/' });
  });

  it('starts a new trace when the caller sends none', async () => {
    primary.script({ kind: 'ok' });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-no-parent' },
      body: JSON.stringify({ model: 'chat-ha', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    await tracing.flush();
    const all = await collector.waitFor((spans) => spans.some((s) => s.attributes['tollgate.request_id'] === 'req-no-parent'));
    const server = all.find((s) => s.attributes['tollgate.request_id'] === 'req-no-parent') as ReceivedSpan;
    expect(server.parentSpanId).toBe('');
    expect(server.attributes['gen_ai.request.stream']).toBeUndefined();
    const client = await collector.waitFor((spans) => spans.some((s) => s.parentSpanId === server.spanId));
    const attempt = client.find((s) => s.parentSpanId === server.spanId) as ReceivedSpan;
    expect(attempt.attributes).toMatchObject({ 'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 5 });
    expect(primary.requests.at(-1)?.headers.traceparent).toBe(`00-${server.traceId}-${attempt.spanId}-01`);
  });
});

describe('traces of a pass-through request', () => {
  // Pass-through requests had no SERVER or CLIENT span, and the caller's traceparent (and baggage)
  // went to the provider as it came.
  it('are a SERVER span and a CLIENT span per forwarded attempt, with the attempt as traceparent upstream and the caller baggage dropped', async () => {
    const upstream = await startPassThroughEmulator('sk-upstream');
    const provider =
      providerManifest('img-up', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-image-1, pricing: { input: 5, output: 40, perImage: 0.01 } }]\n') +
      secretManifest('up-key', { apiKey: 'sk-upstream' });
    const route = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: media }
spec:
  model: media
  targets: [{ providerRef: { name: img-up }, model: gpt-image-1 }]
  passThrough: { endpoints: [images, moderations] }
`;
    const pt = await startTestGateway({ 'providers.yaml': provider, 'route.yaml': route }, { tracer: tracing.tracer });
    try {
      const res = await fetch(`${pt.url}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-pt-image', traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`, baggage: 'user.id=alice-7' },
        body: JSON.stringify({ model: 'media', prompt: 'a cat' }),
      });
      await res.text();
      expect(res.status).toBe(200);
      await tracing.flush();
      const all = await collector.waitFor((spans) => spans.some((s) => s.kind === 'server' && s.attributes['tollgate.request_id'] === 'req-pt-image'));
      const server = all.find((s) => s.kind === 'server' && s.attributes['tollgate.request_id'] === 'req-pt-image') as ReceivedSpan;
      expect(server.traceId).toBe(TRACE_ID);
      expect(server.parentSpanId).toBe(CLIENT_SPAN);
      expect(server.name).toBe('generate_content media');
      expect(server.attributes).toMatchObject({
        'gen_ai.operation.name': 'generate_content',
        'tollgate.pass_through': 'images',
        'http.route': '/v1/images/generations',
        'http.response.status_code': 200,
        'tollgate.route': 'default/media',
        'tollgate.provider': 'default/img-up',
        'gen_ai.usage.input_tokens': 10,
        'gen_ai.usage.output_tokens': 100,
      });
      expect(server.attributes['tollgate.cost_usd']).toBeCloseTo((10 * 5 + 100 * 40) / 1e6 + 0.01, 10);
      const client = await collector.waitFor((spans) => spans.some((s) => s.parentSpanId === server.spanId));
      const attempt = client.find((s) => s.parentSpanId === server.spanId) as ReceivedSpan;
      expect(attempt.kind).toBe('client');
      expect(attempt.name).toBe('generate_content gpt-image-1');
      expect(attempt.attributes).toMatchObject({ 'gen_ai.operation.name': 'generate_content', 'gen_ai.request.model': 'gpt-image-1', 'tollgate.attempt': 1, 'http.response.status_code': 200, 'server.port': portOf(upstream.url) });
      const sent = upstream.requests.at(-1);
      expect(sent?.headers.traceparent).toBe(`00-${TRACE_ID}-${attempt.spanId}-01`);
      expect(sent?.headers.baggage).toBeUndefined();
    } finally {
      await pt.close();
      await upstream.close();
    }
  });
});

describe('with tracing off', () => {
  it('sends no trace context upstream', async () => {
    const plain = await startTestGateway({ 'primary.yaml': openAiProvider('primary', primary.baseUrl), 'route.yaml': ROUTE.replace(/\n {4}- \{ providerRef: \{ name: backup.*\n/, '\n') });
    try {
      primary.script({ kind: 'ok' });
      const res = await fetch(`${plain.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat-ha', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      expect(primary.requests.at(-1)?.headers.traceparent).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
