import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialiseRecord } from '../../dataplane/policy/capture/capture-record.js';
import { otlpLogsDestination } from '../../dataplane/policy/capture/destinations/otlp-logs.js';
import { lineGroups } from '../../dataplane/policy/capture/line-batch.js';
import { fullRecord } from '../fixtures/capture/full-record.js';
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

describe('otlpLogs destination against the real collector', () => {
  it('delivers a batch of twelve 1 MiB prompts (~26 MiB of export, past the collector\'s 20 MiB) in requests it takes', async () => {
    const records = Array.from({ length: 12 }, (_, i) => serialiseRecord(fullRecord(`big-${i}`, `${i} ${'lorem ipsum '.repeat(87_382)}`)));
    await otlpLogsDestination(collector.endpoint, 30_000).write(lineGroups(records));
    const deadline = Date.now() + 30_000;
    const ids = () => collector.logs().map((l) => l.attributes['tollgate.request_id']);
    while (ids().length < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(ids().sort()).toEqual(Array.from({ length: 12 }, (_, i) => `big-${i}`).sort());
  }, 90_000);
});
