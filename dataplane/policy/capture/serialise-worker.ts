import { parentPort } from 'node:worker_threads';
import { compileDetectors } from '../detectors/index.js';
import { contentLine, type RecordParts, type SerialiseDecision } from './serialise-capture.js';
import type { SerialisedBatch, ToSerialiseWorker } from './worker-serialiser.js';

/**
 * The capture worker thread (worker-serialiser.ts starts it): takes records as the request thread
 * wrote them (their RecordParts as UTF-8, with the policy key), redacts and caps each one's content
 * exactly as the request thread would (contentLine), and hands the lines back packed into one
 * transferred buffer per batch. Nothing leaves the process from here.
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
      // Never expected (the request thread compiled the same spec): contentLine then refuses
      // Redacted records of this policy (counted record_error) rather than write them unredacted.
      detectors = compiled.ok ? compiled.detectors : undefined;
    }
    policies.set(message.key, { config: policy, detectors });
    return;
  }
  const { ends, keys } = message;
  const bytes = Buffer.from(message.bytes);
  const text = (from: number, to: number): string => (to > from ? bytes.toString('utf8', from, to) : '');
  // Per record: [start of its metadata line, end of it, its content line or undefined], or undefined when it failed.
  const records = keys.map((key, i) => {
    const start = i === 0 ? 0 : ends[4 * i - 1]!;
    const [metadataEnd, headEnd, requestEnd, responseEnd] = [ends[4 * i]!, ends[4 * i + 1]!, ends[4 * i + 2]!, ends[4 * i + 3]!];
    try {
      const policy = policies.get(key);
      if (policy === undefined) return undefined;
      const contentHead = text(metadataEnd, headEnd);
      const mode = contentHead === '' ? 'Metadata' : policy.config.mode === 'Full' ? 'Full' : 'Redacted';
      const parts: RecordParts = { policyId: policy.config.id, namespace: '', time: '', mode, metadata: '', contentHead, request: text(headEnd, requestEnd), response: text(requestEnd, responseEnd) };
      return { start, metadataEnd, content: contentLine(parts, policy) };
    } catch {
      return undefined;
    }
  });
  const batch = pack(message.id, bytes, records);
  port.postMessage(batch, [batch.bytes]);
});

/** Every record's lines in one buffer (transferred, not copied), with where each ends; the metadata lines are copied as they came. */
function pack(id: number, from: Buffer, records: readonly ({ start: number; metadataEnd: number; content: string | undefined } | undefined)[]): SerialisedBatch {
  let total = 0;
  for (const r of records) if (r !== undefined) total += r.metadataEnd - r.start + (r.content === undefined ? 0 : Buffer.byteLength(r.content));
  const bytes = Buffer.allocUnsafeSlow(total);
  const ends: number[] = [];
  const failed: number[] = [];
  let at = 0;
  records.forEach((r, i) => {
    if (r === undefined) {
      failed.push(i);
      ends.push(at, at);
      return;
    }
    at += from.copy(bytes, at, r.start, r.metadataEnd);
    ends.push(at);
    if (r.content !== undefined) at += bytes.write(r.content, at);
    ends.push(at);
  });
  return { id, bytes: bytes.buffer as ArrayBuffer, ends, failed };
}
