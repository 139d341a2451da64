import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataPolicyConfig } from '../../config/data-policy-config.js';
import { secret } from '../../config/secret-value.js';
import { type S3Server, startS3 } from '../../../test/s3/seaweedfs.js';
import { CaptureService } from './capture-service.js';
import type { CaptureInput } from './capture-record.js';
import { partitionPrefix } from '../../config/capture-layout.js';

// A real S3-compatible server: SeaweedFS built from its Go module (test/s3/build.sh), on loopback.

let s3: S3Server;

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket('captures');
}, 90 * 60_000);

afterAll(async () => {
  await s3?.stop();
});

const caller = { kind: 'serviceaccount' as const, namespace: 'team-a', name: 'app', id: 'sa:team-a/app' };

function policy(mode: DataPolicyConfig['mode'], prefix: string): DataPolicyConfig {
  return {
    id: 'team-a/audit',
    subjects: { namespaces: ['team-a'], serviceAccounts: [], apiKeys: [], routes: [] },
    mode,
    sampleRate: 1,
    parts: { request: true, response: true },
    maxRecordBytes: 262_144,
    allowOptOut: false,
    redaction: { detectors: ['Email', 'PaymentCard'], customPatterns: [] },
    retention: {},
    destinations: [
      {
        type: 's3',
        name: 'bucket',
        endpoint: s3.endpoint,
        bucket: 'captures',
        region: 'us-east-1',
        prefix,
        accessKeyId: secret(s3.accessKeyId),
        secretAccessKey: secret(s3.secretAccessKey),
        batchIntervalMs: 20,
        maxBatchRecords: 100,
      },
    ],
  };
}

const input = (requestId: string): CaptureInput => ({
  requestId,
  startedAtMs: Date.parse('2026-12-05T03:04:05Z'),
  durationMs: 9,
  caller: { kind: 'serviceaccount', namespace: 'team-a', name: 'app' },
  routeId: 'team-a/chat',
  model: 'chat',
  stream: false,
  status: 200,
  decision: 'served',
  requestBody: { messages: [{ role: 'user', content: 'mail jo@example.com, card 4111-1111-1111-1111' }] },
  response: { choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] },
});

async function capture(mode: DataPolicyConfig['mode'], prefix: string, n: number, worker = false): Promise<void> {
  const svc = new CaptureService({ worker });
  svc.apply([policy(mode, prefix)]);
  for (let i = 0; i < n; i++) svc.record(svc.decide(caller, 'team-a/chat', `req-${i}`, () => undefined)!, input(`req-${i}`));
  await svc.drain(20_000);
}

describe('S3 destination', () => {
  it('writes a redacted prompt as gzip JSON Lines, metadata and content in their own partitions', async () => {
    await capture('Redacted', 'redacted', 3);
    const metaKeys = await s3.list('captures', partitionPrefix('redacted', 'metadata', 'team-a', '2026-12-05T03'));
    const contentKeys = await s3.list('captures', partitionPrefix('redacted', 'content', 'team-a', '2026-12-05T03'));
    expect(metaKeys).toHaveLength(1);
    expect(metaKeys[0]).toMatch(/^redacted\/metadata\/namespace=team-a\/date=2026-12-05\/hour=03\/team-a\.audit_.+\.jsonl\.gz$/);
    expect(contentKeys).toHaveLength(1);
    const meta = (await s3.get('captures', metaKeys[0]!)).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(meta.map((m) => m.requestId)).toEqual(['req-0', 'req-1', 'req-2']);
    expect(meta.every((m) => m.content === undefined)).toBe(true);
    const content = await s3.get('captures', contentKeys[0]!);
    expect(content).toContain('[EMAIL]');
    expect(content).toContain('[PAYMENT_CARD]');
    expect(content).not.toContain('jo@example.com');
    expect(content).not.toContain('4111');
  });

  it('the capture worker writes the same objects itself (its own gzip and PUT)', async () => {
    await capture('Redacted', 'from-worker', 3, true);
    const [metaKey, ...moreMeta] = await s3.list('captures', partitionPrefix('from-worker', 'metadata', 'team-a', '2026-12-05T03'));
    const [contentKey, ...moreContent] = await s3.list('captures', partitionPrefix('from-worker', 'content', 'team-a', '2026-12-05T03'));
    expect([moreMeta, moreContent]).toEqual([[], []]);
    const meta = (await s3.get('captures', metaKey!)).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(meta.map((m) => m.requestId)).toEqual(['req-0', 'req-1', 'req-2']);
    const content = await s3.get('captures', contentKey!);
    expect(content).toContain('[EMAIL]');
    expect(content).not.toContain('jo@example.com');
  });

  it('Metadata mode stores no content object at all', async () => {
    await capture('Metadata', 'meta-only', 2);
    expect(await s3.list('captures', 'meta-only/metadata/')).toHaveLength(1);
    expect(await s3.list('captures', 'meta-only/content/')).toEqual([]);
  });
});
