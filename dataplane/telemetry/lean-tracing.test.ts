import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type DropWarning, startLeanTracing } from './lean-tracing.js';
import type { LeanTracer } from './lean-tracer.js';
import { parseTracingConfig } from './tracing-config.js';
import type { Tracing } from './tracing.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A collector that accepts connections and never answers (a black hole behind a load balancer). */
async function blackHole(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

/** A collector that refuses every export with 400 (not retried). */
async function refusing(): Promise<string> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(400, { 'content-type': 'text/plain' }).end('bad'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

function tracingTo(endpoint: string, warn?: DropWarning): Tracing {
  const config = parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }, {}, { serviceName: 't', serviceVersion: '0' });
  if (config === undefined) throw new Error('tracing config expected');
  return startLeanTracing(config, warn);
}

function endSpans(tracing: Tracing, n: number): void {
  for (let i = 0; i < n; i++) tracing.tracer.startSpan('chat m', { kind: SpanKind.SERVER }, ROOT_CONTEXT).end();
}

const dropsOf = (tracing: Tracing) => (tracing.tracer as LeanTracer).spanDrops();

describe('lean tracing with a collector that never answers', () => {
  it('shuts down within the time it is given, dropping (and counting) what did not go out', async () => {
    const warnings: [string, string][] = [];
    const tracing = tracingTo(await blackHole(), (detail, reason) => warnings.push([reason, detail]));
    // Six batches: one exported at once (and never answered), four queued behind it (the most the
    // queue holds), one dropped.
    endSpans(tracing, 6 * 512);
    const started = performance.now();
    await tracing.shutdown(300);
    const took = performance.now() - started;
    // Before, the flush exported the batches one after another, each up to the 10 s export timeout.
    expect(took).toBeLessThan(2_000);
    expect(dropsOf(tracing)).toEqual({ queue_full: 512, export_failed: 0, shutdown: 2048 + 512 });
    expect(warnings.map(([reason]) => reason)).toContain('shutdown');
    expect(warnings.map(([reason]) => reason)).toContain('queue_full');
    // What ends after the deadline is dropped too, not queued for an export that never comes.
    endSpans(tracing, 1);
    expect(dropsOf(tracing).shutdown).toBe(2048 + 512 + 1);
  });
});

describe('lean tracing with a collector that refuses exports', () => {
  it('counts the spans of every failed export and says why', async () => {
    const warnings: [string, string][] = [];
    const tracing = tracingTo(await refusing(), (detail, reason) => warnings.push([reason, detail]));
    endSpans(tracing, 3);
    await tracing.flush();
    expect(dropsOf(tracing)).toEqual({ queue_full: 0, export_failed: 3, shutdown: 0 });
    expect(warnings[0]?.[0]).toBe('export_failed');
    await tracing.shutdown(1_000);
  });
});
