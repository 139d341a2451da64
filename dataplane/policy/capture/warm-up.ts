import type { SerialisedRecord } from './capture-record.js';
import { contentLine, type RecordParts, type SerialiseDecision } from './serialise-capture.js';

// A record that is never sent. The capture worker runs it through its own code when a DataPolicy is
// applied (redaction of the policy's detectors, a destination's batching, gzip and signing), so that
// the worker's isolate loads and compiles that code before traffic, not on the first records while
// requests are served: on one core, that compilation competes with the request thread.

const TIME = '2026-01-01T00:00:00.000Z';
const REQUEST = JSON.stringify({
  messages: [{ role: 'user', content: 'Write to ann.lee@example.com about card 4111 1111 1111 1111 and call +44 20 7946 0958 from 192.0.2.1; key sk-warmup0123456789abcdefghij.' }],
});
const RESPONSE = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'Noted: ann.lee@example.com, DE89 3704 0044 0532 0130 00.' }, finish_reason: 'stop' }] });

/** The synthetic record's content line under `policy` (undefined when the policy records no content). */
export function warmUpContent(policy: SerialiseDecision['policy']): string | undefined {
  const { mode } = policy.config;
  if (mode === 'None' || mode === 'Metadata' || (mode === 'Redacted' && policy.detectors === undefined)) return undefined;
  const contentHead = `{"requestId":"warm-up","time":"${TIME}","namespace":"warm-up","content":`;
  const parts: RecordParts = { policyId: policy.config.id, namespace: 'warm-up', time: TIME, mode, metadata: '', contentHead, request: REQUEST, response: RESPONSE };
  return contentLine(parts, policy);
}

/** Runs the content path of `policy` `rounds` times on the synthetic record (enough calls for V8 to compile it past its interpreter). */
export function warmPolicy(policy: SerialiseDecision['policy'], rounds = 200): void {
  if (warmUpContent(policy) === undefined) return;
  for (let i = 1; i < rounds; i++) warmUpContent(policy);
}

/** The synthetic record as a destination's batch holds it, for a destination's own warm-up. */
export function warmUpRecord(): SerialisedRecord {
  const metadata = Buffer.from(`{"schema":"tollgate.capture.v1","requestId":"warm-up","time":"${TIME}","namespace":"warm-up","policy":{"id":"warm-up","mode":"Full"}}\n`);
  const content = Buffer.from(`{"requestId":"warm-up","time":"${TIME}","namespace":"warm-up","content":{"request":${REQUEST},"response":${RESPONSE}}}\n`);
  return { policyId: 'warm-up', namespace: 'warm-up', time: TIME, metadata, content };
}
