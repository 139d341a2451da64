import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLeanTracing } from '../../dataplane/telemetry/lean-tracing.js';
import type { Tracing } from '../../dataplane/telemetry/tracing.js';
import { parseTracingConfig } from '../../dataplane/telemetry/tracing-config.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

const ROUTE = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: m }
spec:
  model: chat-m
  passThrough: { endpoints: [moderations] }
  targets:
    - { providerRef: { name: primary }, model: up-a }
`;

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_TRACE = {
  traceparent: `00-${TRACE_ID}-b7ad6b7169203331-01`,
  // A caller's vendors' key-value pairs: what a provider (another team's URL, on its route) must not read.
  tracestate: 'tenant=alice-7,user=bob',
  baggage: 'user.id=alice-7',
};

let upstream: OpenAiUpstream;
/** Takes the lean tracer's OTLP export (and reads nothing of it). */
let sink: Server;
let lean: Tracing;
const sdk = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  sink = createServer((req, res) => req.resume().on('end', () => res.end()));
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const config = parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(sink.address() as AddressInfo).port}` }, {}, { serviceName: 'tollgate-test', serviceVersion: '0.1.0' });
  if (config === undefined) throw new Error('tracing config expected');
  lean = startLeanTracing(config);
});

afterAll(async () => {
  await lean?.shutdown();
  await sdk.shutdown();
  await upstream?.close();
  await new Promise((resolve) => sink?.close(resolve));
});

// The data plane's own tracer, and the SDK's (its propagator writes the attempt's headers).
describe.each([
  ['the data plane tracer', (): Tracer => lean.tracer],
  ['an OpenTelemetry SDK tracer', (): Tracer => sdk.getTracer('test')],
])("with tracing on (%s), a caller's trace context", (_name, tracer) => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startTestGateway({ 'primary.yaml': openAiProvider('primary', upstream.baseUrl), 'route.yaml': ROUTE }, { tracer: tracer() });
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it.each([
    ['chat', '/v1/chat/completions', { model: 'chat-m', messages: [{ role: 'user', content: 'hi' }] }],
    ['pass-through', '/v1/moderations', { model: 'chat-m', input: 'hi' }],
  ])('reaches the provider (%s) as the trace id only: the attempt is the parent, no tracestate, no baggage', async (_kind, path, body) => {
    const sent = upstream.requests.length;
    const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...CALLER_TRACE }, body: JSON.stringify(body) });
    await res.text();
    expect(res.status).toBe(200);
    const headers = upstream.requests.slice(sent).at(-1)?.headers;
    expect(headers?.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    expect(headers?.traceparent).not.toBe(CALLER_TRACE.traceparent);
    expect(headers?.tracestate).toBeUndefined();
    expect(headers?.baggage).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain('alice-7');
  });
});
