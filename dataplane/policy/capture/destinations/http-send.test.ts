import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { secret } from '../../../config/secret-value.js';
import { createCa, issueCertificate } from '../../../../operator/tls/certificates.js';
import { MAX_ANSWER_BYTES, send } from './http-send.js';
import { exportBodies, otlpLogRecord, otlpLogsDestination } from './otlp-logs.js';
import { PartialWrite } from '../bounded-exporter.js';
import { type CaptureRecord, serialiseRecord } from '../capture-record.js';
import { fullRecord } from '../../../../test/fixtures/capture/full-record.js';
import { s3Destination } from './s3.js';
import { lineGroups } from '../line-batch.js';

// The destinations' client (node:http, not fetch) against loopback servers that answer as told.

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  socket: unknown;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A server that records each request and answers with `answer` (given the request's body). */
async function serve(answer: (res: ServerResponse, body: Buffer) => void): Promise<{ origin: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body, socket: req.socket });
      answer(res, body);
    });
  });
  return { origin: `http://${await listen(server)}`, seen };
}

const s3 = (endpoint: string) =>
  s3Destination(
    { type: 's3', name: 'bucket', endpoint, bucket: 'captures', region: 'us-east-1', prefix: 'p', accessKeyId: secret('AKIDEXAMPLE'), secretAccessKey: secret('wJalrXUtnFEMI'), batchIntervalMs: 20, maxBatchRecords: 10 },
    'inst',
    1_000,
  );
const record = { policyId: 'team-a/audit', namespace: 'team-a', time: '2026-12-05T03:04:05.000Z', metadata: Buffer.from('{"requestId":"r1"}\n') };

describe('the capture destinations over node:http', () => {
  it('sends the body with its length and signed headers, and reuses one kept-alive connection', async () => {
    const { origin, seen } = await serve((res) => res.end('ok'));
    const writer = s3(origin);
    await writer.write(lineGroups([record]));
    await writer.write(lineGroups([record]));
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect(s.method).toBe('PUT');
      expect(s.url).toMatch(/^\/captures\/p\/metadata\/namespace=team-a\/date=2026-12-05\/hour=03\/team-a\.audit_.+-inst-\d\.jsonl\.gz$/);
      expect(s.headers.host).toBe(origin.slice('http://'.length));
      expect(s.headers['content-length']).toBe(String(s.body.length));
      expect(s.headers['transfer-encoding']).toBeUndefined();
      expect(s.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//);
      expect(s.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip
    }
    expect(seen[1]!.socket).toBe(seen[0]!.socket);
  });

  it('a warm-up sends nothing; the first write after it does', async () => {
    const { origin, seen } = await serve((res) => res.end());
    const writer = s3(origin);
    await writer.warm?.();
    const otlp = otlpLogsDestination(origin, 1_000);
    await otlp.warm?.();
    expect(seen).toHaveLength(0);
    await writer.write(lineGroups([record]));
    await otlp.write(lineGroups([]));
    expect(seen.map((s) => s.method)).toEqual(['PUT', 'POST']);
  });

  it('a non-2xx answer fails the write, naming the status and the start of the body', async () => {
    const { origin } = await serve((res) => {
      res.statusCode = 403;
      res.end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
    });
    await expect(s3(origin).write(lineGroups([record]))).rejects.toThrow(/answered 403: <Error><Code>SignatureDoesNotMatch/);
    const otlp = await serve((res) => {
      res.statusCode = 503;
      res.end();
    });
    await expect(otlpLogsDestination(otlp.origin, 1_000).write(lineGroups([]))).rejects.toThrow('OTLP logs endpoint answered 503');
    expect(otlp.seen[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(otlp.seen[0]!.body.toString())).toEqual({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'tollgate' } }] }, scopeLogs: [{ scope: { name: 'tollgate.capture' }, logRecords: [] }] }] });
  });

  it('OTLP: a batch goes in requests of at most the export size, records in order, each request as JSON.stringify writes it', () => {
    const records = Array.from({ length: 40 }, (_, i) => fullRecord(`r${i}`, 'x'.repeat(i * 50)));
    const whole = exportBodies(lineGroups(records.map(serialiseRecord)));
    expect(whole).toHaveLength(1);
    const envelope = (logRecords: unknown[]) => ({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'tollgate' } }] }, scopeLogs: [{ scope: { name: 'tollgate.capture' }, logRecords }] }] });
    expect(whole[0]!.body.toString()).toBe(JSON.stringify(envelope(records.map(otlpLogRecord))));
    const split = exportBodies(lineGroups(records.map(serialiseRecord)), 8_000);
    expect(split.length).toBeGreaterThan(5);
    for (const { body, records: n } of split) if (n > 1) expect(body.length).toBeLessThanOrEqual(8_000);
    const sent = split.flatMap(({ body }) => (JSON.parse(body.toString()) as ReturnType<typeof envelope>).resourceLogs[0]!.scopeLogs[0]!.logRecords);
    expect(sent).toEqual(records.map(otlpLogRecord));
  });

  it('OTLP: a request the endpoint refuses fails its own records only; those of the others count as written (PartialWrite)', async () => {
    const received: string[] = [];
    // Refuses a body over 6,000 bytes, as a collector refuses one over its max_request_body_size.
    const { origin } = await serve((res, body) => {
      if (body.length > 6_000) return void res.writeHead(413).end('too large');
      for (const r of (JSON.parse(body.toString()) as { resourceLogs: { scopeLogs: { logRecords: { body: { stringValue: string } }[] }[] }[] }).resourceLogs[0]!.scopeLogs[0]!.logRecords) {
        received.push((JSON.parse(r.body.stringValue) as CaptureRecord).requestId);
      }
      res.end('{}');
    });
    const records = ['a', 'b', 'c', 'huge', 'd', 'e'].map((id) => serialiseRecord(fullRecord(id, id === 'huge' ? 'x'.repeat(8_000) : 'hi')));
    const error = await otlpLogsDestination(origin, 1_000, 2_500).write(lineGroups(records)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartialWrite);
    expect((error as PartialWrite).written).toBe(5);
    expect((error as PartialWrite).message).toContain('413');
    expect(received).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('S3: the records of the objects stored before a PUT failed count as written (PartialWrite)', async () => {
    const { origin, seen } = await serve((res) => void res.writeHead(/namespace=team-b/.test(seen[seen.length - 1]!.url) ? 503 : 200).end());
    const records = [record, { ...record, namespace: 'team-b' }, record];
    const error = await s3(origin).write(lineGroups(records)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartialWrite);
    expect((error as PartialWrite).written).toBe(2);
    expect(seen.map((s) => /namespace=(team-.)/.exec(s.url)?.[1])).toEqual(['team-a', 'team-b']);
  });

  it('OTLP: an endpoint that is not a URL fails its writes, not the destination\'s creation (which would fail every destination applied with it)', async () => {
    const destination = otlpLogsDestination('not a url', 1_000);
    await expect(destination.write(lineGroups([serialiseRecord(fullRecord('r', 'hi'))]))).rejects.toThrow(/Invalid URL/);
  });

  it('times out the whole exchange: no answer, or an answer whose body never ends', async () => {
    const silent = await serve(() => undefined);
    await expect(send(new URL(`${silent.origin}/x`), 'PUT', {}, Buffer.from('a'), 100)).rejects.toThrow(/timed out after 100 ms/);
    const stalled = await serve((res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write('abc');
    });
    await expect(send(new URL(`${stalled.origin}/x`), 'PUT', {}, Buffer.from('a'), 100)).rejects.toThrow(/timed out after 100 ms|aborted|cut off/);
  });

  it('verifies the server certificate over https (a certificate of an unknown CA is refused)', async () => {
    const ca = createCa('capture-test-ca', 1);
    const leaf = issueCertificate(ca, '127.0.0.1', ['127.0.0.1'], 1);
    let served = 0;
    const server = createTlsServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => {
      served++;
      res.end('ok');
    });
    const host = await listen(server);
    await expect(s3(`https://${host}`).write(lineGroups([record]))).rejects.toThrow(/certificate/i);
    expect(served).toBe(0);
  });

  it('keeps at most MAX_ANSWER_BYTES of an answer, reads the rest, and the connection is reused', async () => {
    const { origin, seen } = await serve((res) => {
      res.statusCode = 500;
      res.end(Buffer.alloc(4 * MAX_ANSWER_BYTES + 7, 'x'));
    });
    const url = new URL(`${origin}/x`);
    const first = await send(url, 'PUT', {}, Buffer.from('a'), 5_000);
    expect(first.status).toBe(500);
    expect(first.body.length).toBe(MAX_ANSWER_BYTES);
    await send(url, 'PUT', {}, Buffer.from('b'), 5_000);
    expect(seen[1]!.socket).toBe(seen[0]!.socket);
  });

  it('refuses a URL that is neither http nor https', async () => {
    await expect(send(new URL('ftp://127.0.0.1/x'), 'PUT', {}, Buffer.from('a'), 100)).rejects.toThrow('unsupported protocol ftp:');
  });

  it('never calls a link-local or cloud instance-metadata address (a destination is a tenant\'s)', async () => {
    // fe80::1 without a zone: were the guard gone, connect() would fail locally (EINVAL); no packet leaves.
    for (const url of ['http://[fe80::1]:9/bucket/key', 'https://[fe80::1]:9/v1/logs']) {
      await expect(send(new URL(url), 'PUT', {}, Buffer.from('a'), 1_000)).rejects.toMatchObject({ code: 'EGRESS_REFUSED', message: 'refused to connect to [fe80::1]: a link-local or cloud instance-metadata address' });
    }
  });
});
