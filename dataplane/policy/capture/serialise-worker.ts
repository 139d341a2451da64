import { parentPort } from 'node:worker_threads';
import { compileDetectors } from '../detectors/index.js';
import type { CaptureInput, SerialisedRecord } from './capture-record.js';
import { type SerialiseDecision, serialiseCapture } from './serialise-capture.js';
import type { SerialisedBatch, ToSerialiseWorker } from './worker-serialiser.js';

/**
 * The capture worker thread (worker-serialiser.ts starts it): takes records as the request thread
 * wrote them (`[policy key, mode, opted out, CaptureInput]` as JSON, UTF-8), redacts, caps and serialises
 * each into its JSON Lines exactly as the request thread would (serialiseCapture), and hands the
 * lines back packed into one transferred buffer per batch. Nothing leaves the process from here.
 */
const port = parentPort;
if (port === null) throw new Error('serialise-worker runs as a worker thread');

const policies = new Map<number, SerialiseDecision['policy']>();

port.on('message', (message: ToSerialiseWorker) => {
  if (message.kind === 'policy') {
    const { policy } = message;
    let detectors: SerialiseDecision['policy']['detectors'];
    if (policy.mode === 'Redacted') {
      const compiled = compileDetectors({ detectors: policy.redaction.detectors, customPatterns: policy.redaction.customPatterns });
      // Never expected (the request thread compiled the same spec): serialiseCapture then refuses
      // Redacted records of this policy (counted record_error) rather than write them unredacted.
      detectors = compiled.ok ? compiled.detectors : undefined;
    }
    policies.set(message.key, { config: policy, detectors });
    return;
  }
  const bytes = Buffer.from(message.bytes);
  const records: (SerialisedRecord | undefined)[] = message.ends.map((end, i) => {
    try {
      const line = bytes.toString('utf8', i === 0 ? 0 : message.ends[i - 1], end);
      const [key, mode, optedOut, input] = JSON.parse(line) as [number, SerialiseDecision['mode'], 0 | 1, CaptureInput];
      const policy = policies.get(key);
      return policy === undefined ? undefined : serialiseCapture({ policy, mode, optedOut: optedOut === 1 }, input);
    } catch {
      return undefined;
    }
  });
  const batch = pack(message.id, records);
  port.postMessage(batch, [batch.bytes]);
});

/** Every record's lines in one buffer (transferred, not copied), with where each ends. */
function pack(id: number, records: readonly (SerialisedRecord | undefined)[]): SerialisedBatch {
  let total = 0;
  for (const r of records) if (r !== undefined) total += r.metadata.length + (r.content?.length ?? 0);
  const bytes = Buffer.allocUnsafeSlow(total);
  const ends: number[] = [];
  const places: string[] = [];
  const failed: number[] = [];
  let at = 0;
  records.forEach((r, i) => {
    if (r === undefined) {
      failed.push(i);
      ends.push(at, at);
      places.push('', '', '');
      return;
    }
    at += r.metadata.copy(bytes, at);
    ends.push(at);
    if (r.content !== undefined) at += r.content.copy(bytes, at);
    ends.push(at);
    places.push(r.policyId, r.namespace, r.time);
  });
  return { id, bytes: bytes.buffer as ArrayBuffer, ends, places, failed };
}
