import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '../../dataplane/admin/admin-app.js';
import { SnapshotStore } from '../../dataplane/runtime/snapshot-store.js';
import { HttpTransport } from '../../dataplane/upstream/http-transport.js';
import { provider, route } from '../../test/support/objects.js';
import { compile } from '../compile/compile.js';
import { Distributor } from '../distribute/distributor.js';
import { operatorTracing } from './operator-tracing.js';

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test');
const logger = pino({ level: 'silent' });
const snapshot = compile({
  providers: [provider('mock', { type: 'mock' })],
  routes: [route('r', { model: 'x', targets: [{ providerRef: { name: 'mock' }, model: 'm' }] })],
  budgets: [],
  secrets: [],
}).snapshot;

let server: Server;
let address: string;
const traceparents: (string | undefined)[] = [];

beforeAll(async () => {
  // A real data-plane admin app, behind a recorder of the trace context it receives.
  const app = express();
  app.use((req, _res, next) => {
    traceparents.push(req.get('traceparent'));
    next();
  });
  app.use(createAdminApp({ store: new SnapshotStore(new HttpTransport()), token: 'secret', logger, isDraining: () => false }));
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.close();
});

describe('operator tracing', () => {
  it('puts a CLIENT span around each snapshot push and sends its traceparent to the pod', async () => {
    exporter.reset();
    let acked!: () => void;
    const done = new Promise<void>((r) => (acked = r));
    const distributor = new Distributor({ token: 'secret', logger, tracing: operatorTracing(tracer), onAck: () => acked() });
    distributor.setEnabled(true);
    distributor.setEndpoints([{ address, ready: true }]);
    distributor.publish({ generation: 7, snapshot });
    await done;
    distributor.stop();

    const [span] = exporter.getFinishedSpans().filter((s) => s.name === 'tollgate.push');
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': Number(address.split(':')[1]),
      'http.request.method': 'PUT',
      'http.response.status_code': 200,
      'tollgate.snapshot.generation': 7,
      'tollgate.pod.generation': 7,
      'tollgate.push.outcome': 'acked',
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    const ctx = span?.spanContext();
    expect(traceparents.at(-1)).toBe(`00-${ctx?.traceId}-${ctx?.spanId}-01`);
  });

  it('marks a refused push as an error', async () => {
    exporter.reset();
    let answered!: () => void;
    const done = new Promise<void>((r) => (answered = r));
    const distributor = new Distributor({ token: 'wrong', logger, tracing: operatorTracing(tracer), onAck: () => answered() });
    distributor.setEnabled(true);
    distributor.setEndpoints([{ address, ready: true }]);
    distributor.publish({ generation: 8, snapshot });
    await done;
    distributor.stop();
    const span = exporter.getFinishedSpans().find((s) => s.name === 'tollgate.push');
    expect(span?.attributes).toMatchObject({ 'http.response.status_code': 401, 'tollgate.push.outcome': 'failed', 'error.type': '401' });
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('wraps a reconcile in a span with what it published, and records its failure', async () => {
    exporter.reset();
    const tracing = operatorTracing(tracer);
    await tracing.reconcile(true, async () => undefined, () => ({ 'tollgate.snapshot.generation': 3, 'tollgate.snapshot.version': 'abc' }));
    await expect(tracing.reconcile(true, async () => Promise.reject(new TypeError('boom')), () => ({}))).rejects.toThrow('boom');
    const [ok, failed] = exporter.getFinishedSpans().filter((s) => s.name === 'tollgate.reconcile');
    expect(ok?.kind).toBe(SpanKind.INTERNAL);
    expect(ok?.attributes).toMatchObject({ 'tollgate.leader': true, 'tollgate.snapshot.generation': 3, 'tollgate.snapshot.version': 'abc' });
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes['error.type']).toBe('TypeError');
  });
});
