import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writerTag } from '../../dataplane/config/capture-layout.js';
import { secret } from '../../dataplane/config/secret-value.js';
import type { CaptureDestination } from '../../dataplane/policy/capture/bounded-exporter.js';
import type { SerialisedRecord } from '../../dataplane/policy/capture/capture-record.js';
import { localDirectoryDestination } from '../../dataplane/policy/capture/destinations/local-directory.js';
import { lineGroups } from '../../dataplane/policy/capture/line-batch.js';
import { s3Destination } from '../../dataplane/policy/capture/destinations/s3.js';
import { type S3Server, startS3 } from '../../test/s3/seaweedfs.js';
import { storedRecord } from '../../test/support/capture-records.js';
import { localStore } from './local-store.js';
import type { PartitionStore } from './partition-store.js';
import { MAX_S3_ANSWER_BYTES, S3Error, S3Store } from './s3-store.js';
import { sweep } from './sweep.js';
import { closedPort } from '../../test/support/closed-port.js';

// The sweep against both real stores, fed by the data plane's own writers (so writer and sweeper
// agree on the layout): a local directory, and SeaweedFS built from its Go module (test/s3/build.sh).

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-12-05T05:30:00Z');

const record = (policyId: string, namespace: string, ageMs: number, requestId: string): SerialisedRecord => storedRecord(policyId, namespace, NOW - ageMs, requestId);

interface Backend {
  name: string;
  setup(): Promise<{ root: string; store: PartitionStore; writer: CaptureDestination; keys(): Promise<string[]>; cleanup(): Promise<void> }>;
}

let s3: S3Server | undefined;
let prefixSeq = 0;
// One bucket: SeaweedFS gives each bucket volumes of its own, and the test server has few.
const BUCKET = 'captures';
const backends: Backend[] = [
  {
    name: 'local directory',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-retention-'));
      const store = localStore(dir);
      return {
        root: '',
        store,
        writer: localDirectoryDestination(dir),
        keys: async () => (await store.list('', false)).objects.map((o) => o.key),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'S3 (SeaweedFS)',
    async setup() {
      const server = s3 as S3Server;
      const bucket = BUCKET;
      const root = `sweep-${++prefixSeq}`;
      const store = new S3Store({ endpoint: server.endpoint, bucket, region: 'us-east-1' }, { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
      const writer = s3Destination({
        type: 's3',
        name: 'b',
        endpoint: server.endpoint,
        bucket,
        region: 'us-east-1',
        prefix: root,
        accessKeyId: secret(server.accessKeyId),
        secretAccessKey: secret(server.secretAccessKey),
        batchIntervalMs: 1000,
        maxBatchRecords: 100,
      });
      return { root, store, writer, keys: async () => server.list(bucket, `${root}/`), cleanup: async () => undefined };
    },
  },
];

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket(BUCKET);
}, 90 * 60_000);

afterAll(async () => {
  await s3?.stop();
});

const limits = { maxDeletes: 10_000, maxListCalls: 1_000 };

describe.each(backends)('retention sweep: $name', (backend) => {
  it('deletes expired content before metadata, keeps fresh objects and other policies, and is idempotent', async () => {
    const { root, store, writer, keys, cleanup } = await backend.setup();
    try {
      await writer.write(lineGroups([record('team-a/audit', 'team-a', 40 * DAY, 'old')]));
      await writer.write(lineGroups([record('team-a/audit', 'team-a', 10 * DAY, 'mid'), record('team-a/audit', 'team-b', 10 * DAY, 'mid-b')]));
      await writer.write(lineGroups([record('team-a/audit', 'team-a', 2 * HOUR, 'new')]));
      await writer.write(lineGroups([record('team-a/other', 'team-a', 40 * DAY, 'other')]));
      const before = await keys();
      expect(before).toHaveLength(10);

      const target = { root, writer: writerTag('team-a/audit'), retentionMs: { content: DAY, metadata: 30 * DAY } };
      const first = await sweep(store, target, NOW, limits);
      expect(first.complete).toBe(true);
      expect(first.failures).toEqual([]);
      expect(first.streams.content).toMatchObject({ deletedObjects: 3, oldestKeptMs: Date.parse('2026-12-05T03:00:00Z') });
      expect(first.streams.metadata).toMatchObject({ deletedObjects: 1, oldestKeptMs: Date.parse('2026-11-25T05:00:00Z') });
      expect(first.streams.content?.deletedBytes).toBeGreaterThan(0);

      const after = await keys();
      const has = (stream: string, date: string, writerName: string): boolean => after.some((k) => k.includes(`${stream}/`) && k.includes(`date=${date}`) && k.includes(`/${writerName}`));
      expect(has('content', '2026-10-26', 'team-a.audit')).toBe(false);
      expect(has('content', '2026-11-25', 'team-a.audit')).toBe(false);
      expect(has('content', '2026-12-05', 'team-a.audit')).toBe(true);
      expect(has('metadata', '2026-10-26', 'team-a.audit')).toBe(false);
      expect(has('metadata', '2026-11-25', 'team-a.audit')).toBe(true);
      expect(after.filter((k) => k.includes('namespace=team-b/'))).toHaveLength(1);
      // Another policy's objects in the same place follow that policy's retention, not this one's.
      expect(after.filter((k) => k.includes('/team-a.other'))).toHaveLength(2);

      const again = await sweep(store, target, NOW, limits);
      expect(again.streams.content).toMatchObject({ deletedObjects: 0, deletedBytes: 0 });
      expect(again.streams.metadata).toMatchObject({ deletedObjects: 0 });
      expect(await keys()).toEqual(after);
    } finally {
      await cleanup();
    }
  });

  it('stops at the per-pass limit and finishes on the next pass', async () => {
    const { root, store, writer, keys, cleanup } = await backend.setup();
    try {
      await writer.write(lineGroups([record('ns/p', 'ns', 5 * DAY, 'a')]));
      await writer.write(lineGroups([record('ns/p', 'ns', 4 * DAY, 'b')]));
      await writer.write(lineGroups([record('ns/p', 'ns', 3 * DAY, 'c')]));
      const target = { root, writer: writerTag('ns/p'), retentionMs: { metadata: DAY } };
      const first = await sweep(store, target, NOW, { maxDeletes: 2, maxListCalls: 1_000 });
      expect(first.complete).toBe(false);
      expect(first.streams.metadata?.deletedObjects).toBe(2);
      const second = await sweep(store, target, NOW, { maxDeletes: 2, maxListCalls: 1_000 });
      expect(second.complete).toBe(true);
      expect(second.streams.metadata?.deletedObjects).toBe(1);
      // No retention for content: it is not looked at, and stays.
      expect(second.streams.content).toBeUndefined();
      expect((await keys()).filter((k) => k.includes('metadata/'))).toEqual([]);
      expect((await keys()).filter((k) => k.includes('content/'))).toHaveLength(3);
    } finally {
      await cleanup();
    }
  });
});

describe('S3 store errors', () => {
  it('says what failed without the credentials', async () => {
    const server = s3 as S3Server;
    const wrong = new S3Store({ endpoint: server.endpoint, bucket: BUCKET, region: 'us-east-1' }, { accessKeyId: 'AKIDWRONGWRONG', secretAccessKey: 'wrong-secret-value' });
    const err = await wrong.probe('tollgate/').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(S3Error);
    expect((err as S3Error).status).toBe(403);
    expect((err as S3Error).message).toMatch(/^bucket captures at http:\/\/127\.0\.0\.1:\d+ answered 403 \w+/);
    expect((err as S3Error).message).not.toContain('AKIDWRONGWRONG');
    expect((err as S3Error).message).not.toContain('wrong-secret-value');
    const missing = new S3Store({ endpoint: server.endpoint, bucket: 'no-such-bucket', region: 'us-east-1' }, { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
    expect(await missing.probe('').then(() => '', (e: S3Error) => e.code)).toBe('NoSuchBucket');
    const port = await closedPort();
    const down = new S3Store({ endpoint: `http://127.0.0.1:${port}`, bucket: BUCKET, region: 'us-east-1' }, { accessKeyId: 'a', secretAccessKey: 'b' });
    expect(await down.probe('').then(() => '', (e: S3Error) => e.message)).toBe(`bucket captures at http://127.0.0.1:${port} is unreachable (ECONNREFUSED)`);
  });

  it('never calls a link-local or cloud instance-metadata endpoint (a tenant writes it)', async () => {
    // fe80::1 without a zone: were the guard gone, connect() would fail locally (EINVAL); no packet leaves.
    const metadata = new S3Store({ endpoint: 'http://[fe80::1]:9', bucket: BUCKET, region: 'us-east-1' }, { accessKeyId: 'a', secretAccessKey: 'b' });
    const err = await metadata.probe('').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(S3Error);
    expect((err as S3Error).message).toMatch(/^bucket captures at http:\/\/\[fe80::1\]:9 is unreachable \(refused to connect to \[?fe80::1\]?: a link-local or cloud instance-metadata address\)$/);
  });

  it('reads an error answer of 4 MiB of unclosed tags as having no code (a tenant writes the endpoint)', async () => {
    // A lazy regular expression took minutes over this (quadratic in the answer): the operator stalled for everyone.
    const body = '<Code>'.repeat(Math.floor(MAX_S3_ANSWER_BYTES / 6) - 1);
    const hostile = createServer((req, res) => {
      req.resume();
      res.writeHead(400, { 'content-type': 'application/xml' });
      res.end(body);
    });
    hostile.listen(0, '127.0.0.1');
    await once(hostile, 'listening');
    try {
      const store = new S3Store({ endpoint: `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`, bucket: BUCKET, region: 'us-east-1' }, { accessKeyId: 'a', secretAccessKey: 'b' });
      const err = await store.probe('p/').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(S3Error);
      expect((err as S3Error).status).toBe(400);
      expect((err as S3Error).code).not.toBe('Code');
    } finally {
      hostile.close();
    }
  });

  it(`reads at most MAX_S3_ANSWER_BYTES of an answer`, async () => {
    const huge = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const more = (): void => {
        while (sent <= MAX_S3_ANSWER_BYTES) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    huge.listen(0, '127.0.0.1');
    await once(huge, 'listening');
    try {
      const store = new S3Store({ endpoint: `http://127.0.0.1:${(huge.address() as AddressInfo).port}`, bucket: BUCKET, region: 'us-east-1' }, { accessKeyId: 'a', secretAccessKey: 'b' });
      const err = await store.list('', false).then(() => undefined, (e: unknown) => e);
      expect((err as S3Error).code).toBe('AnswerTooLarge');
      expect((err as S3Error).status).toBe(200);
      expect((err as S3Error).message).toContain(`answered with more than ${MAX_S3_ANSWER_BYTES} bytes`);
    } finally {
      huge.closeAllConnections();
      huge.close();
    }
  });
});

