import { parentPort } from 'node:worker_threads';
import { CaptureDestinationConfigSchema } from '../../config/data-policy-config.js';
import { compileDetectors } from '../detectors/index.js';
import type { CaptureMetrics } from './capture-metrics.js';
import { defaultDestinations, type DestinationFactory } from './destinations/default-destinations.js';
import { ExporterSet } from './exporter-set.js';
import { contentLineRest, type SerialiseDecision } from './serialise-capture.js';
import { warmPolicy } from './warm-up.js';
import type { CaptureEvent, FromSerialiseWorker, SerialisedBatch, ToSerialiseWorker } from './worker-serialiser.js';

/**
 * The capture worker thread (worker-serialiser.ts starts it): takes records as the request thread
 * wrote them (their RecordParts as UTF-8, with the policy key), redacts and caps each one's content
 * exactly as the request thread would (contentLine), and queues the lines for the policy's
 * destinations, which it writes itself (batching, gzip, the PUT): the request thread gets back only
 * counts. Records of a policy without destination labels (tests' own destinations) are handed back
 * instead, packed into one transferred buffer per batch.
 */
const port = parentPort;
if (port === null) throw new Error('serialise-worker runs as a worker thread');

const policies = new Map<number, SerialiseDecision['policy'] & { labels: string[] | undefined }>();

/** The destination queues' reports, sent with the next message to the request thread (or on their own, soon). */
let events: CaptureEvent[] = [];
let eventsScheduled = false;
const takeEvents = (): CaptureEvent[] => {
  const taken = events;
  events = [];
  return taken;
};
const event = (e: CaptureEvent): void => {
  events.push(e);
  if (eventsScheduled) return;
  eventsScheduled = true;
  setImmediate(() => {
    eventsScheduled = false;
    if (events.length > 0) post({ kind: 'events', events: takeEvents() });
  });
};
const metrics: CaptureMetrics = {
  exported: (label, n) => event(['exported', label, n]),
  dropped: (reason, label, n) => event(['dropped', label, n, reason]),
  ready: (label, ok) => event(['ready', label, ok]),
};
let exporters: ExporterSet | undefined;
/** The default destinations, each run once through its write path short of sending (warm-up.ts) as it is built: before traffic, since policies are applied before it. */
const warmedDestinations: DestinationFactory = (config) => {
  const destination = defaultDestinations(config);
  void destination?.warm?.().catch(() => undefined);
  return destination;
};

function post(message: FromSerialiseWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

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
    policies.set(message.key, { config: policy, detectors, labels: message.labels });
    try {
      warmPolicy({ config: policy, detectors });
    } catch {
      // Only a warm-up: a record that fails the same way is counted (record_error) when it comes.
    }
    return;
  }
  if (message.kind === 'destinations') {
    exporters ??= new ExporterSet(warmedDestinations, metrics, message.options);
    // The key is the config's JSON with its credentials in clear: parsed, they are SecretValues again.
    exporters.apply(message.destinations.map(({ label, key }) => ({ label, key, config: CaptureDestinationConfigSchema.parse(JSON.parse(key)) })));
    return;
  }
  if (message.kind === 'forget') {
    policies.delete(message.key);
    return;
  }
  if (message.kind === 'drain') {
    void (exporters?.drain(Math.max(0, message.deadline - Date.now())) ?? Promise.resolve()).then(() => post({ kind: 'drained', events: takeEvents() }));
    return;
  }
  const { ends, keys } = message;
  const bytes = Buffer.from(message.bytes);
  const text = (from: number, to: number): string => (to > from ? bytes.toString('utf8', from, to) : '');
  // The namespace of the record before: the next one's is most often the same bytes, then not decoded again.
  let namespace = '';
  let namespaceAt = 0;
  let namespaceLength = -1;
  // Per record: [start of its metadata line, end of it, its content line or undefined] to hand back,
  // 'queued' when it went to the worker's own destinations, or undefined when it failed.
  const records = keys.map((key, i) => {
    const start = i === 0 ? 0 : ends[6 * i - 1]!;
    const metadataEnd = ends[6 * i]!;
    const headEnd = ends[6 * i + 1]!;
    const requestEnd = ends[6 * i + 2]!;
    const responseEnd = ends[6 * i + 3]!;
    const namespaceEnd = ends[6 * i + 4]!;
    try {
      const policy = policies.get(key);
      if (policy === undefined) return undefined;
      // The content line's head (`{"requestId":…,"content":`) is empty in mode Metadata.
      const mode = headEnd === metadataEnd ? 'Metadata' : policy.config.mode === 'Full' ? 'Full' : 'Redacted';
      const rest = contentLineRest({ mode, request: text(headEnd, requestEnd), response: text(requestEnd, responseEnd) }, policy);
      if (namespaceEnd - responseEnd !== namespaceLength || !sameBytes(bytes, namespaceAt, responseEnd, namespaceLength)) {
        namespace = text(responseEnd, namespaceEnd);
        namespaceLength = namespaceEnd - responseEnd;
      }
      namespaceAt = responseEnd;
      const time = text(namespaceEnd, ends[6 * i + 5]!);
      if (policy.labels === undefined) {
        const content = rest === undefined ? undefined : text(metadataEnd, headEnd) + rest;
        return { start, metadataEnd, content, place: [policy.config.id, namespace, time] };
      }
      // Its lines go from this message's buffer straight into each destination's batch (LineBatch).
      for (const label of policy.labels) {
        const exporter = exporters?.get(label);
        // A destination no policy names any more (a record of an older snapshot): as its closed queue would.
        if (exporter === undefined) metrics.dropped('shutdown', label, 1);
        else exporter.offerParts(policy.config.id, namespace, time, bytes, start, metadataEnd, headEnd, rest);
      }
      return 'queued' as const;
    } catch {
      return undefined;
    }
  });
  const batch = pack(message.id, bytes, records);
  post(batch, [batch.bytes]);
});

/** bytes[a, a + length) and bytes[b, b + length) hold the same bytes. */
function sameBytes(bytes: Buffer, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

/**
 * The lines of the records handed back in one buffer (transferred, not copied), with where each ends and its place; the metadata lines are copied as they came.
 * A batch the worker queued whole (the data plane's: it writes every destination itself) is answered
 * with no ends at all: two numbers a record, cloned here and again on the request thread, for nothing.
 */
function pack(id: number, from: Buffer, records: readonly ({ start: number; metadataEnd: number; content: string | undefined; place: string[] } | 'queued' | undefined)[]): SerialisedBatch {
  let total = 0;
  let handedBack = false;
  for (const r of records) {
    if (r === undefined || r === 'queued') continue;
    handedBack = true;
    total += r.metadataEnd - r.start + (r.content === undefined ? 0 : Buffer.byteLength(r.content));
  }
  if (!handedBack) {
    const failed: number[] = [];
    records.forEach((r, i) => {
      if (r === undefined) failed.push(i);
    });
    return { kind: 'batch', id, bytes: new ArrayBuffer(0), ends: [], places: [], failed, events: takeEvents() };
  }
  const bytes = Buffer.allocUnsafeSlow(total);
  const ends: number[] = [];
  const places: string[] = [];
  const failed: number[] = [];
  let at = 0;
  records.forEach((r, i) => {
    if (r === undefined || r === 'queued') {
      if (r === undefined) failed.push(i);
      ends.push(at, at);
      return;
    }
    places.push(...r.place);
    at += from.copy(bytes, at, r.start, r.metadataEnd);
    ends.push(at);
    if (r.content !== undefined) at += bytes.write(r.content, at);
    ends.push(at);
  });
  return { kind: 'batch', id, bytes: bytes.buffer as ArrayBuffer, ends, places, failed, events: takeEvents() };
}
