/**
 * The smallest honest OTLP/HTTP trace receiver for the governance-on benchmark rows: accepts
 * `POST /v1/traces` on loopback, counts the spans and answers 200 with an empty
 * ExportTraceServiceResponse; the spans themselves are discarded. Counting walks the protobuf wire
 * format (ExportTraceServiceRequest.resource_spans[1] → ResourceSpans.scope_spans[2] →
 * ScopeSpans.spans[2]) without decoding the spans; a JSON body (OTLP/HTTP JSON) is counted too.
 */
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface OtlpSinkStats {
  exports: number;
  spans: number;
  bytes: number;
  /** Bodies that could not be read as OTLP (counted, answered 400). */
  malformed: number;
}

export interface OtlpSink {
  /** Base URL for `--otlp-endpoint` (the exporter appends /v1/traces). */
  url: string;
  stats: OtlpSinkStats;
  close: () => Promise<void>;
}

function varint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let shift = 1;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i] ?? 0;
    value += (b & 0x7f) * shift;
    if ((b & 0x80) === 0) return [value, i + 1];
    shift *= 128;
  }
  throw new Error('truncated varint');
}

/** Calls `onField` for every length-delimited field of the message in buf[start, end). */
function lenFields(buf: Buffer, start: number, end: number, onField: (field: number, from: number, to: number) => void): void {
  let pos = start;
  while (pos < end) {
    const [key, afterKey] = varint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    pos = afterKey;
    if (wire === 0) pos = varint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, from] = varint(buf, pos);
      const to = from + len;
      if (to > end) throw new Error('truncated field');
      onField(field, from, to);
      pos = to;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  if (pos !== end) throw new Error('message overruns its length');
}

/** Spans in one protobuf ExportTraceServiceRequest. */
export function countProtobufSpans(buf: Buffer): number {
  let spans = 0;
  lenFields(buf, 0, buf.length, (f1, a, b) => {
    if (f1 !== 1) return;
    lenFields(buf, a, b, (f2, c, d) => {
      if (f2 !== 2) return;
      lenFields(buf, c, d, (f3) => {
        if (f3 === 2) spans++;
      });
    });
  });
  return spans;
}

interface JsonTraces {
  resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[];
}

function countJsonSpans(text: string): number {
  const body = JSON.parse(text) as JsonTraces;
  let spans = 0;
  for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
  return spans;
}

/** Starts the receiver on 127.0.0.1 (a free port). */
export async function startOtlpSink(): Promise<OtlpSink> {
  const stats: OtlpSinkStats = { exports: 0, spans: 0, bytes: 0, malformed: 0 };
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      stats.bytes += body.length;
      try {
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const json = (req.headers['content-type'] ?? '').includes('json');
        stats.spans += json ? countJsonSpans(body.toString('utf8')) : countProtobufSpans(body);
        stats.exports++;
        res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
      } catch {
        stats.malformed++;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
