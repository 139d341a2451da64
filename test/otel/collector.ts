import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An attribute as OTLP/JSON writes it. */
export type AnyValue =
  | { stringValue: string }
  | { intValue: string | number }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values?: AnyValue[] } };

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: AnyValue }[];
  status?: { code?: number; message?: string };
}

/** A span with its attributes as plain values and its resource's service.name. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified';
  attributes: Record<string, string | number | boolean | (string | number | boolean)[]>;
  status: 'unset' | 'ok' | 'error';
  statusMessage: string;
  service: string;
}

export interface Collector {
  /** OTLP/HTTP base URL (the SDK appends /v1/traces). */
  endpoint: string;
  /** Spans the file exporter has written so far. */
  spans(): ReceivedSpan[];
  /** Waits until `predicate` holds for the spans written so far. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** Log records (OTLP logs pipeline) the file exporter has written so far. */
  logs(): ReceivedLog[];
  stop(): Promise<void>;
}

/** A log record with its attributes as plain values. */
export interface ReceivedLog {
  eventName: string;
  traceId: string;
  body: string;
  attributes: Record<string, string | number | boolean | (string | number | boolean)[]>;
}

/** Parses the logs file: one OTLP/JSON ExportLogsServiceRequest per line. */
export function parseLogExport(text: string): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  for (const line of complete.split('\n')) {
    if (line.trim() === '') continue;
    const req = JSON.parse(line) as {
      resourceLogs?: { scopeLogs?: { logRecords?: { eventName?: string; traceId?: string; body?: AnyValue; attributes?: { key: string; value: AnyValue }[] }[] }[] }[];
    };
    for (const rl of req.resourceLogs ?? []) {
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          out.push({
            eventName: r.eventName ?? '',
            traceId: r.traceId ?? '',
            body: r.body === undefined ? '' : String(plain(r.body)),
            attributes: Object.fromEntries((r.attributes ?? []).map((a) => [a.key, plain(a.value)])),
          });
        }
      }
    }
  }
  return out;
}

const KINDS: ReceivedSpan['kind'][] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS: ReceivedSpan['status'][] = ['unset', 'ok', 'error'];

function plain(v: AnyValue): string | number | boolean | (string | number | boolean)[] {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  return (v.arrayValue.values ?? []).map((x) => plain(x) as string | number | boolean);
}

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: AnyValue }[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

/** Parses the file exporter's output: one OTLP/JSON ExportTraceServiceRequest per line. */
export function parseFileExport(text: string): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  // The collector may be mid-write: only lines that ended are complete requests.
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  for (const line of complete.split('\n')) {
    if (line.trim() === '') continue;
    const req = JSON.parse(line) as ExportRequest;
    for (const rs of req.resourceSpans ?? []) {
      const serviceAttr = rs.resource?.attributes?.find((a) => a.key === 'service.name');
      const service = serviceAttr === undefined ? '' : String(plain(serviceAttr.value));
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          out.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? '',
            name: s.name,
            kind: KINDS[s.kind] ?? 'unspecified',
            attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, plain(a.value)])),
            status: STATUS[s.status?.code ?? 0] ?? 'unset',
            statusMessage: s.status?.message ?? '',
            service,
          });
        }
      }
    }
  }
  return out;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Builds the collector if needed (test/otel/build.sh, a no-op when cached) and returns the binary. */
export function collectorBinary(): string {
  const out = execFileSync('bash', [join(here, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 20 * 60_000 });
  const bin = out.trim().split('\n').pop() ?? '';
  if (!existsSync(bin)) throw new Error(`test/otel/build.sh printed no collector binary: ${out}`);
  return bin;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`collector exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`collector did not listen on ${port} within ${timeoutMs} ms`);
}

/** Starts the built collector: OTLP/HTTP on a free loopback port, spans written as JSON lines to a file. */
export async function startCollector(bin: string = collectorBinary()): Promise<Collector> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-otelcol-'));
  const port = await freePort();
  const file = join(dir, 'traces.jsonl');
  const logsFile = join(dir, 'logs.jsonl');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${port}
exporters:
  file:
    path: ${file}
    format: json
    flush_interval: 50ms
  file/logs:
    path: ${logsFile}
    format: json
    flush_interval: 50ms
service:
  telemetry:
    logs: { level: warn }
    metrics: { level: none }
  pipelines:
    traces: { receivers: [otlp], exporters: [file] }
    logs: { receivers: [otlp], exporters: [file/logs] }
`,
  );
  let stderr = '';
  const child = spawn(bin, ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    await waitForPort(port, child, 15_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  const spans = (): ReceivedSpan[] => (existsSync(file) ? parseFileExport(readFileSync(file, 'utf8')) : []);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    logs: () => (existsSync(logsFile) ? parseLogExport(readFileSync(logsFile, 'utf8')) : []),
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = spans();
        if (predicate(got)) return got;
        if (Date.now() > deadline) throw new Error(`spans did not arrive in time; got ${got.map((s) => s.name).join(', ') || 'none'}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
