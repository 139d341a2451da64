import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLeanTracing } from '../../dataplane/telemetry/lean-tracing.js';
import type { Tracing } from '../../dataplane/telemetry/tracing.js';
import { parseTracingConfig } from '../../dataplane/telemetry/tracing-config.js';
import { type Collector, startCollector } from '../otel/collector.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// Tollgate records content only under a DataPolicy. Without one (and with a `None` one), a prompt
// and an answer must appear nowhere: not in the logs (at debug level), the traces the real
// collector receives, the OTLP logs it receives, or the metrics.

const PROMPT = 'zq-prompt-7781 from jo@example.com';
const ANSWER = 'zq-answer-4412';

const ROUTE = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  targets: [{ providerRef: { name: up }, model: up-model }]
`;

let collector: Collector;
let tracing: Tracing;
let upstream: OpenAiUpstream;
let gateway: TestGateway;
let logs = '';

beforeAll(async () => {
  collector = await startCollector();
  const config = parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint }, {}, { serviceName: 'tollgate-test', serviceVersion: '0.1.0' });
  if (config === undefined) throw new Error('tracing config expected');
  tracing = startLeanTracing(config); // as the data plane runs it (dataplane/main/launch.ts)
  upstream = await startOpenAiUpstream();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs += chunk.toString();
      done();
    },
  });
  gateway = await startTestGateway({ 'up.yaml': openAiProvider('up', upstream.baseUrl), 'route.yaml': ROUTE }, { tracer: tracing.tracer, admin: true, logger: pino({ level: 'debug' }, sink) });
}, 20 * 60_000);

afterAll(async () => {
  await gateway?.close();
  await tracing?.shutdown();
  await upstream?.close();
  await collector?.stop();
});

async function traffic(): Promise<void> {
  upstream.script({ kind: 'ok', content: ANSWER }, { kind: 'stream', chunks: 3, intervalMs: 1, content: ANSWER });
  for (const stream of [false, true]) {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', stream, messages: [{ role: 'user', content: PROMPT }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(ANSWER);
  }
}

async function everywhere(): Promise<string> {
  await tracing.flush();
  await collector.waitFor((spans) => spans.some((s) => s.kind === 'server'));
  const metrics = await (await fetch(`${gateway.adminUrl as string}/metrics`, { headers: { authorization: `Bearer ${gateway.adminToken}` } })).text();
  return [logs, JSON.stringify(collector.spans()), JSON.stringify(collector.logs()), metrics].join('\n');
}

describe('no DataPolicy, no content anywhere', () => {
  it('keeps prompt and answer out of logs, traces, OTLP logs and metrics', async () => {
    await traffic();
    const seen = await everywhere();
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of ['zq-prompt-7781', 'jo@example.com', ANSWER]) expect(seen).not.toContain(secret);
    expect(collector.logs()).toEqual([]);
  });

  it('a DataPolicy in mode None changes nothing', async () => {
    gateway.write('policy.yaml', `apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: off }
spec:
  subjects: { routes: [{ name: chat }] }
  capture: { mode: None }
  destinations: [{ name: c, otlpLogs: { endpoint: "${collector.endpoint}" } }]
`);
    await traffic();
    const seen = await everywhere();
    for (const secret of ['zq-prompt-7781', 'jo@example.com', ANSWER]) expect(seen).not.toContain(secret);
    expect(collector.logs()).toEqual([]);
  });
});
