import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import { mountMetrics } from '../../dataplane/admin/metrics-route.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotStore } from '../../dataplane/runtime/snapshot-store.js';
import { GatewayTelemetry } from '../../dataplane/telemetry/gateway-telemetry.js';
import { HttpTransport } from '../../dataplane/upstream/http-transport.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { type MetricFamily, parsePrometheusText, samples, value } from './prom-text.js';
import { startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { tracingFor } from '../../dataplane/main/launch.js';

const ROUTE = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: m }
spec:
  model: chat-m
  strategy: failover
  retry: { attempts: 1 }
  targets:
    - { providerRef: { name: primary }, model: up-a, priority: 0 }
    - { providerRef: { name: backup }, model: up-b, priority: 1 }
`;

let primary: OpenAiUpstream;
let backup: OpenAiUpstream;
let gateway: TestGateway;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  primary = await startOpenAiUpstream();
  backup = await startOpenAiUpstream();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  gateway = await startTestGateway(
    { 'primary.yaml': openAiProvider('primary', primary.baseUrl), 'backup.yaml': openAiProvider('backup', backup.baseUrl), 'route.yaml': ROUTE },
    { admin: true, logger: pino({ level: 'info' }, sink) },
  );
});

afterAll(async () => {
  await gateway?.close();
  await primary?.close();
  await backup?.close();
});

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  // The admin port's /metrics wants the admin token (other apps in this file mount metrics without one).
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${gateway.adminToken}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parsePrometheusText(await res.text());
}

async function chat(body: Record<string, unknown>, requestId: string): Promise<Response> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify(body),
  });
  await res.text();
  return res;
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('GET /metrics on the admin port', () => {
  it('counts requests, attempts, failovers, tokens and stream timings with labels from configuration only', async () => {
    const adminUrl = gateway.adminUrl as string;
    expect(adminUrl).toBeDefined();

    primary.script({ kind: 'ok', usage: { prompt: 10, completion: 5, cached: 4 } });
    expect((await chat({ model: 'chat-m', messages: [{ role: 'user', content: 'hi' }] }, 'req-plain')).status).toBe(200);

    primary.script({ kind: 'error', status: 500 });
    backup.script({ kind: 'stream', chunks: 3, intervalMs: 5 });
    const streamed = await chat({ model: 'chat-m', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'a secret prompt' }] }, 'req-stream');
    expect(streamed.status).toBe(200);

    // A model no route serves must not become a label value.
    expect((await chat({ model: 'caller-chosen-model-xyz', messages: [{ role: 'user', content: 'hi' }] }, 'req-unknown')).status).toBe(404);

    const m = await eventually(
      () => scrape(adminUrl),
      (f) => samples(f, 'tollgate_requests_total').reduce((n, s) => n + s.value, 0) >= 3,
    );
    const route = 'default/m';
    const primaryT = { route, provider: 'default/primary', upstream_model: 'up-a' };
    const backupT = { route, provider: 'default/backup', upstream_model: 'up-b' };

    expect(m.get('tollgate_requests_total')?.type).toBe('counter');
    expect(value(m, 'tollgate_requests_total', { operation: 'chat', route, model: 'chat-m', provider: 'default/primary', upstream_model: 'up-a', status_class: '2xx' })).toBe(1);
    expect(value(m, 'tollgate_requests_total', { operation: 'chat', route, model: 'chat-m', provider: 'default/backup', upstream_model: 'up-b', status_class: '2xx' })).toBe(1);
    expect(value(m, 'tollgate_requests_total', { operation: 'chat', route: 'none', model: 'none', provider: 'none', upstream_model: 'none', status_class: '4xx' })).toBe(1);
    for (const family of m.values()) {
      for (const s of family.samples) expect(Object.values(s.labels)).not.toContain('caller-chosen-model-xyz');
    }

    expect(value(m, 'tollgate_upstream_attempts_total', { ...primaryT, outcome: 'success' })).toBe(1);
    expect(value(m, 'tollgate_upstream_attempts_total', { ...primaryT, outcome: 'ServerError' })).toBe(1);
    expect(value(m, 'tollgate_upstream_attempts_total', { ...backupT, outcome: 'success' })).toBe(1);
    expect(m.get('tollgate_upstream_duration_seconds')?.type).toBe('histogram');
    expect(value(m, 'tollgate_upstream_duration_seconds_count', { ...primaryT, outcome: 'ServerError' })).toBe(1);
    expect(value(m, 'tollgate_failovers_total', primaryT)).toBe(1);
    expect(samples(m, 'tollgate_retries_total')).toHaveLength(0);

    const tokens = { route, model: 'chat-m' };
    expect(value(m, 'tollgate_tokens_total', { ...tokens, provider: 'default/primary', upstream_model: 'up-a', type: 'input' })).toBe(10);
    expect(value(m, 'tollgate_tokens_total', { ...tokens, provider: 'default/primary', upstream_model: 'up-a', type: 'output' })).toBe(5);
    expect(value(m, 'tollgate_tokens_total', { ...tokens, provider: 'default/primary', upstream_model: 'up-a', type: 'cached_input' })).toBe(4);
    expect(value(m, 'tollgate_tokens_total', { ...tokens, provider: 'default/backup', upstream_model: 'up-b', type: 'input' })).toBe(7);
    expect(value(m, 'tollgate_tokens_total', { ...tokens, provider: 'default/backup', upstream_model: 'up-b', type: 'output' })).toBe(3);
    expect(value(m, 'tollgate_cost_usd_total', { ...tokens, provider: 'default/backup', upstream_model: 'up-b' })).toBeGreaterThanOrEqual(0);
    expect(samples(m, 'tollgate_usage_estimated_total')).toHaveLength(0);

    // Stream timings: only the streamed request, served by the backup.
    expect(value(m, 'tollgate_time_to_first_token_seconds_count', backupT)).toBe(1);
    expect(value(m, 'tollgate_time_to_first_token_seconds_sum', backupT)).toBeGreaterThan(0);
    expect(value(m, 'tollgate_time_to_first_token_seconds_bucket', { ...backupT, le: '+Inf' })).toBe(1);
    expect(value(m, 'tollgate_time_per_output_token_seconds_count', backupT)).toBe(1);
    expect(samples(m, 'tollgate_time_to_first_token_seconds_count', { provider: 'default/primary' })).toHaveLength(0);

    expect(value(m, 'tollgate_request_duration_seconds_count', { route, model: 'chat-m', provider: 'default/backup', status_class: '2xx' })).toBe(1);
    expect(value(m, 'tollgate_inflight_requests')).toBe(0);

    // Target state and snapshot identity come from the served snapshot.
    expect(value(m, 'tollgate_circuit_breaker_state', { provider: 'default/primary', upstream_model: 'up-a' })).toBe(0);
    expect(value(m, 'tollgate_circuit_breaker_state', { provider: 'default/backup', upstream_model: 'up-b' })).toBe(0);
    const version = gateway.dataplane.store.current?.snapshot.version as string;
    expect(value(m, 'tollgate_snapshot_info', { version })).toBe(1);
    expect(value(m, 'tollgate_snapshot_routes')).toBe(1);

    // Governance counters exist before governance increments them.
    for (const name of ['tollgate_rate_limit_rejections_total', 'tollgate_budget_rejections_total', 'tollgate_cache_lookups_total', 'tollgate_stream_errors_total']) {
      expect(m.get(name)?.type).toBe('counter');
    }
    expect(m.get('process_cpu_user_seconds_total')?.type).toBe('counter');
  });

  it('writes one complete access-log line per request, without content', async () => {
    const line = await eventually(
      async () => logLines.find((l) => l.msg === 'request' && l.requestId === 'req-stream'),
      (l) => l !== undefined,
    );
    expect(line).toMatchObject({
      requestId: 'req-stream',
      method: 'POST',
      path: '/v1/chat/completions',
      status: 200,
      completed: true,
      operation: 'chat',
      route: 'default/m',
      model: 'chat-m',
      stream: true,
      provider: 'default/backup',
      upstreamModel: 'up-b',
      attempts: 2,
      failovers: 1,
      inputTokens: 7,
      outputTokens: 3,
      cachedInputTokens: 0,
      usageEstimated: false,
      caller: 'anonymous',
    });
    expect(line?.durationMs).toEqual(expect.any(Number));
    expect(line?.upstreamMs).toEqual(expect.any(Number));
    expect(line?.ttftMs).toEqual(expect.any(Number));
    expect(line?.costUsd).toEqual(expect.any(Number));
    const unknown = logLines.find((l) => l.msg === 'request' && l.requestId === 'req-unknown');
    expect(unknown).toMatchObject({ status: 404, operation: 'chat' });
    expect(unknown?.route).toBeUndefined();
    expect(JSON.stringify(logLines)).not.toContain('secret prompt');
  });
});

describe('a request served under a variant of its path', () => {
  it('is counted, logged with its route and cost, as under the path itself', async () => {
    const requests = async (): Promise<number> => samples(await scrape(gateway.adminUrl as string), 'tollgate_requests_total').reduce((n, s) => n + s.value, 0);
    primary.script({ kind: 'ok' }, { kind: 'ok' });
    const before = await requests();
    for (const [path, id] of [['/V1/CHAT/COMPLETIONS', 'req-upper'], ['/v1/chat/completions/', 'req-slash']] as const) {
      const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify({ model: 'chat-m', messages: [{ role: 'user', content: 'hi' }] }) });
      await res.text();
      expect(res.status).toBe(200);
    }
    expect(await eventually(requests, (n) => n >= before + 2)).toBe(before + 2);
    const upper = await eventually(async () => logLines.find((l) => l.msg === 'request' && l.requestId === 'req-upper'), (l) => l !== undefined);
    expect(upper).toMatchObject({ path: '/V1/CHAT/COMPLETIONS', operation: 'chat', route: 'default/m', costUsd: expect.any(Number) });
  });

  it('logs a path longer than the access log keeps cut, and an x-request-id too long to take replaced by the one answered', async () => {
    const res = await fetch(`${gateway.url}/v1/${'x'.repeat(5_000)}`, { method: 'POST', headers: { 'x-request-id': 'y'.repeat(5_000) }, body: '{}' });
    await res.text();
    const line = await eventually(async () => logLines.find((l) => l.msg === 'request' && typeof l.path === 'string' && l.path.startsWith('/v1/xxx')), (l) => l !== undefined);
    expect(String(line?.path).length).toBeLessThanOrEqual(257);
    // The client's id is too long to take: the gateway's own, which the answer names, is logged.
    expect(line?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(line?.requestId).toBe(res.headers.get('x-request-id'));
  });
});

describe('the governance hooks', () => {
  it('count rate-limit and budget rejections and cache lookups by route', async () => {
    const store = new SnapshotStore(new HttpTransport());
    const telemetry = new GatewayTelemetry({ logger: pino({ level: 'silent' }), store, defaultMetrics: false });
    const app = express();
    mountMetrics(app, telemetry);
    const server = createServer((req, res) => {
      if (req.method !== 'POST') return void app(req, res);
      const t = telemetry.request(req, res, '/v1/chat/completions');
      t.caller({ kind: 'serviceaccount', namespace: 'team-a', name: 'bot', id: 'sa:team-a/bot' });
      t.cache(false);
      t.admission({ result: 'rate_limited', limit: 'tokens' });
      t.admission({ result: 'budget_exceeded', budget: 'team-a/monthly', action: 'reject' });
      res.writeHead(429, { 'content-type': 'application/json' }).end('{}');
    });
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    try {
      await (await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST' })).text();
      const m = await eventually(
        () => scrape(`http://127.0.0.1:${port}`),
        (f) => samples(f, 'tollgate_requests_total').length > 0,
      );
      expect(value(m, 'tollgate_rate_limit_rejections_total', { route: 'none', limit: 'tokens' })).toBe(1);
      expect(value(m, 'tollgate_budget_rejections_total', { route: 'none', budget: 'team-a/monthly', action: 'reject' })).toBe(1);
      expect(value(m, 'tollgate_cache_lookups_total', { route: 'none', result: 'miss' })).toBe(1);
      expect(value(m, 'tollgate_requests_total', { status_class: '4xx' })).toBe(1);
      // Caller identity never becomes a label.
      for (const family of m.values()) for (const s of family.samples) expect(Object.values(s.labels).join(' ')).not.toContain('bot');
      expect(m.has('process_cpu_user_seconds_total')).toBe(false);
    } finally {
      server.close();
    }
  });
});

describe('a pass-through request', () => {
  // Metered and charged to Budgets, it had no request metrics, no cost counter and an access-log
  // line without route, provider, attempts or cost.
  it('moves tollgate_requests_total and tollgate_cost_usd_total under its endpoint family, and is logged with its route and cost', async () => {
    const upstream = await startPassThroughEmulator('sk-upstream');
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const provider = providerManifest('mod-up', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: omni-moderation-latest, pricing: { input: 0, output: 0, perRequest: 0.002 } }]\n') + secretManifest('up-key', { apiKey: 'sk-upstream' });
    const route = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: mod }
spec:
  model: mod
  targets: [{ providerRef: { name: mod-up }, model: omni-moderation-latest }]
  passThrough: { endpoints: [moderations, files] }
`;
    const pt = await startTestGateway({ 'providers.yaml': provider, 'route.yaml': route }, { admin: true, logger: pino({ level: 'info' }, sink) });
    try {
      const res = await fetch(`${pt.url}/v1/moderations`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-mod' }, body: JSON.stringify({ model: 'mod', input: 'hello' }) });
      await res.text();
      expect(res.status).toBe(200);
      const metrics = async (): Promise<Map<string, MetricFamily>> => {
        const r = await fetch(`${pt.adminUrl as string}/metrics`, { headers: { authorization: `Bearer ${pt.adminToken}` } });
        return parsePrometheusText(await r.text());
      };
      const labels = { route: 'default/mod', model: 'mod', provider: 'default/mod-up', upstream_model: 'omni-moderation-latest' };
      const m = await eventually(metrics, (f) => samples(f, 'tollgate_requests_total', { operation: 'moderations' }).length > 0);
      expect(value(m, 'tollgate_requests_total', { operation: 'moderations', ...labels, status_class: '2xx' })).toBe(1);
      expect(value(m, 'tollgate_request_duration_seconds_count', { route: 'default/mod', model: 'mod', provider: 'default/mod-up', status_class: '2xx' })).toBe(1);
      expect(value(m, 'tollgate_cost_usd_total', labels)).toBeCloseTo(0.002, 10);
      expect(value(m, 'tollgate_upstream_attempts_total', { route: 'default/mod', provider: 'default/mod-up', upstream_model: 'omni-moderation-latest', outcome: 'success' })).toBe(1);
      expect(value(m, 'tollgate_inflight_requests')).toBe(0);
      const line = await eventually(async () => lines.find((l) => l.msg === 'request' && l.requestId === 'req-mod'), (l) => l !== undefined);
      expect(line).toMatchObject({ operation: 'moderations', route: 'default/mod', model: 'mod', provider: 'default/mod-up', upstreamModel: 'omni-moderation-latest', attempts: 1, costUsd: 0.002 });

      // A path that names a file is counted by its family, never by the path.
      const file = await fetch(`${pt.url}/v1/files/file-abc?model=mod`);
      await file.text();
      const after = await eventually(metrics, (f) => samples(f, 'tollgate_requests_total', { operation: 'files' }).length > 0);
      expect(samples(after, 'tollgate_requests_total', { operation: 'files' })).toHaveLength(1);
      for (const family of after.values()) for (const s of family.samples) expect(Object.values(s.labels).join(' ')).not.toContain('file-abc');
    } finally {
      await pt.close();
      await upstream.close();
    }
  });
});

describe('spans the data plane could not export', () => {
  // Dropped and failed exports went to the OpenTelemetry diag logger, which is not installed: silent.
  it('are counted in tollgate_spans_dropped_total{reason} and said in the log', async () => {
    const collector = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400, { 'content-type': 'text/plain' }).end('no'));
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const { port } = collector.address() as { port: number };
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }));
    const tracing = await tracingFor(`http://127.0.0.1:${port}`, 'tollgate-test', {}, 'dataplane', logger);
    if (tracing === undefined) throw new Error('tracing expected');
    const traced = await startTestGateway({ 'primary.yaml': openAiProvider('primary', primary.baseUrl), 'route.yaml': ROUTE.replace(/\n {4}- \{ providerRef: \{ name: backup.*\n/, '\n') }, { admin: true, tracer: tracing.tracer });
    try {
      primary.script({ kind: 'ok' });
      const res = await fetch(`${traced.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat-m', messages: [{ role: 'user', content: 'hi' }] }) });
      await res.text();
      await tracing.flush();
      const r = await fetch(`${traced.adminUrl as string}/metrics`, { headers: { authorization: `Bearer ${traced.adminToken}` } });
      const m = parsePrometheusText(await r.text());
      expect(m.get('tollgate_spans_dropped_total')?.type).toBe('counter');
      // The SERVER span and its one CLIENT span, in the batch the collector refused.
      expect(value(m, 'tollgate_spans_dropped_total', { reason: 'export_failed' })).toBe(2);
      expect(value(m, 'tollgate_spans_dropped_total', { reason: 'queue_full' })).toBe(0);
      expect(lines.find((l) => l.msg === 'spans dropped: not exported to the OTLP collector')).toMatchObject({ level: 40, op: 'export_failed' });
    } finally {
      await traced.close();
      await tracing.shutdown(1_000);
      collector.closeAllConnections();
      await new Promise((r) => collector.close(r));
    }
  });
});

describe('time to first token', () => {
  // Streams open with a role-only chunk, held back until content (routing/stream-start.ts): TTFT is
  // measured at the first chunk with content, not at that opening.
  it('is measured at the first content chunk, not at the opening role chunk', async () => {
    const upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const chunk = (delta: Record<string, unknown>, finish: string | null): string => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'up-a', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk({ role: 'assistant', content: '' }, null));
        setTimeout(() => {
          res.write(chunk({ content: 'hello' }, null));
          res.write(chunk({}, 'stop'));
          res.end('data: [DONE]\n\n');
        }, 400);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const { port } = upstream.address() as { port: number };
    const ttftGateway = await startTestGateway({ 'primary.yaml': openAiProvider('primary', `http://127.0.0.1:${port}/v1`), 'route.yaml': ROUTE.replace(/\n {4}- \{ providerRef: \{ name: backup.*\n/, '\n') }, { admin: true });
    try {
      const res = await fetch(`${ttftGateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat-m', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
      expect(await res.text()).toContain('hello');
      const r = await fetch(`${ttftGateway.adminUrl as string}/metrics`, { headers: { authorization: `Bearer ${ttftGateway.adminToken}` } });
      const m = parsePrometheusText(await r.text());
      const target = { route: 'default/m', provider: 'default/primary', upstream_model: 'up-a' };
      expect(value(m, 'tollgate_time_to_first_token_seconds_count', target)).toBe(1);
      expect(value(m, 'tollgate_time_to_first_token_seconds_sum', target)).toBeGreaterThanOrEqual(0.39);
    } finally {
      await ttftGateway.close();
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    }
  });
});
