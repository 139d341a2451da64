import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaptureRecord, serialiseRecord } from '../../dataplane/policy/capture/capture-record.js';
import { otlpLogsDestination } from '../../dataplane/policy/capture/destinations/otlp-logs.js';
import { lineGroups } from '../../dataplane/policy/capture/line-batch.js';
import { type Collector, startCollector } from '../otel/collector.js';

// The real OpenTelemetry Collector refuses an OTLP/HTTP body over 20 MiB unless configured otherwise
// (confighttp max_request_body_size). A DataPolicy's otlpLogs destination carries each record's
// content twice (body and gen_ai attributes): a batch of large prompts must still arrive.

let collector: Collector;
beforeAll(async () => {
  collector = await startCollector();
}, 60_000);
afterAll(async () => {
  await collector?.stop();
});

const record = (requestId: string, content: string): CaptureRecord => ({
  schema: 'tollgate.capture.v1',
  requestId,
  time: '2026-12-06T10:00:00.000Z',
  durationMs: 5,
  namespace: 'team-a',
  caller: { kind: 'anonymous' },
  model: 'chat',
  stream: false,
  status: 200,
  decision: 'served',
  policy: { id: 'team-a/audit', mode: 'Full' },
  content: { request: { messages: [{ role: 'user', content }] } },
});

describe('otlpLogs destination against the real collector', () => {
  it('delivers a batch of twelve 1 MiB prompts (~26 MiB of export, past the collector\'s 20 MiB) in requests it takes', async () => {
    const records = Array.from({ length: 12 }, (_, i) => serialiseRecord(record(`big-${i}`, `${i} ${'lorem ipsum '.repeat(87_382)}`)));
    await otlpLogsDestination(collector.endpoint, 30_000).write(lineGroups(records));
    const deadline = Date.now() + 30_000;
    const ids = () => collector.logs().map((l) => l.attributes['tollgate.request_id']);
    while (ids().length < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(ids().sort()).toEqual(Array.from({ length: 12 }, (_, i) => `big-${i}`).sort());
  }, 90_000);
});
