import { createHash } from 'node:crypto';
import { CAPTURE_OPT_OUT_HEADER, type CaptureDestinationConfig, type CaptureMode, type DataPolicyConfig } from '../../config/data-policy-config.js';
import { revealSecrets } from '../../config/secret-value.js';
import type { Caller } from '../../core/caller.js';
import { compileDetectors, type DetectorSet } from '../detectors/index.js';
import { BoundedExporter, type CaptureDestination } from './bounded-exporter.js';
import { type CaptureInput, type CaptureRecord, jsonLine, type SerialisedRecord } from './capture-record.js';
import { type CaptureMetrics, NO_CAPTURE_METRICS } from './capture-metrics.js';
import { localDirectoryDestination } from './destinations/local-directory.js';
import { otlpLogsDestination } from './destinations/otlp-logs.js';
import { s3Destination } from './destinations/s3.js';
import { redactedJson, type RedactionTally } from './redact-content.js';
import { selectPolicy } from './select-policy.js';

/** Builds the writer for one destination; tests pass their own. */
export type DestinationFactory = (config: CaptureDestinationConfig) => CaptureDestination | undefined;

export const defaultDestinations: DestinationFactory = (config) => {
  if (config.type === 'otlpLogs') return otlpLogsDestination(config.endpoint);
  if (config.type === 'localDirectory') return localDirectoryDestination(config.path);
  return s3Destination(config);
};

export interface CaptureServiceOptions {
  metrics?: CaptureMetrics;
  destinations?: DestinationFactory;
  /** Records waiting per destination before new ones are dropped. */
  maxQueue?: number;
  /** Non-batching destinations (OTLP, local directory): records per write and longest wait. */
  maxBatch?: number;
  flushIntervalMs?: number;
}

interface CompiledPolicy {
  config: DataPolicyConfig;
  /** Redacted mode only. */
  detectors: DetectorSet | undefined;
  exporters: BoundedExporter[];
}

/** What capture will do for one request, decided before it is served. */
export interface CaptureDecision {
  policy: CompiledPolicy;
  mode: Exclude<CaptureMode, 'None'>;
  optedOut: boolean;
}

/**
 * The one place content capture happens. `decide` picks the request's DataPolicy (most specific
 * first) and samples; `record` shapes, redacts, caps and serialises the record and hands it to
 * bounded queues without waiting. Without a DataPolicy nothing is recorded anywhere.
 */
export class CaptureService {
  /** By config object: a request pinned to an older snapshot still finds its policy's compiled form. */
  private compiled = new WeakMap<DataPolicyConfig, CompiledPolicy>();
  private configs: readonly DataPolicyConfig[] = [];
  private exporters = new Map<string, { key: string; exporter: BoundedExporter }>();
  private readonly metrics: CaptureMetrics;
  private readonly destinations: DestinationFactory;

  constructor(private readonly opts: CaptureServiceOptions = {}) {
    this.metrics = opts.metrics ?? NO_CAPTURE_METRICS;
    this.destinations = opts.destinations ?? defaultDestinations;
  }

  /** Takes a new snapshot's policies; destinations whose settings did not change keep their queue. */
  apply(configs: readonly DataPolicyConfig[] | undefined): void {
    const next = configs ?? [];
    if (next === this.configs) return;
    this.configs = next;
    const kept = new Map<string, { key: string; exporter: BoundedExporter }>();
    for (const given of next) {
      let config = given;
      let detectors: DetectorSet | undefined;
      if (config.mode === 'Redacted') {
        const result = compileDetectors({ detectors: config.redaction.detectors, customPatterns: config.redaction.customPatterns });
        // Compile checked the patterns; should one still fail, the policy records metadata only.
        detectors = result.ok ? result.detectors : undefined;
        if (!result.ok) config = { ...config, mode: 'Metadata' };
      }
      const exporters: BoundedExporter[] = [];
      for (const d of config.destinations) {
        const label = `${config.id}/${d.name}`;
        // With the credentials in clear: a rotated key is a changed destination.
        const key = JSON.stringify(d, revealSecrets);
        const existing = this.exporters.get(label);
        if (existing !== undefined && existing.key === key) {
          kept.set(label, existing);
          exporters.push(existing.exporter);
          continue;
        }
        const destination = this.destinations(d);
        if (destination === undefined) continue;
        const batching = d.type === 's3' ? { maxBatch: d.maxBatchRecords, flushIntervalMs: d.batchIntervalMs } : { maxBatch: this.opts.maxBatch ?? 100, flushIntervalMs: this.opts.flushIntervalMs ?? 1_000 };
        const exporter = new BoundedExporter({ label, destination, metrics: this.metrics, maxQueue: this.opts.maxQueue ?? 10_000, ...batching });
        kept.set(label, { key, exporter });
        exporters.push(exporter);
      }
      this.compiled.set(given, { config, detectors, exporters });
    }
    // Destinations no policy names any more write what they hold, then go.
    for (const [label, { exporter }] of this.exporters) if (kept.get(label)?.exporter !== exporter) void exporter.drain(10_000);
    this.exporters = kept;
  }

  /** The capture for a request, or undefined when nothing is to be recorded (no policy, None, not sampled). */
  decide(
    caller: Caller,
    routeId: string | undefined,
    requestId: string,
    header: (name: string) => string | undefined,
    policies: readonly DataPolicyConfig[] = this.configs,
  ): CaptureDecision | undefined {
    const config = selectPolicy(policies, caller, routeId);
    return config === undefined ? undefined : this.decideFor(config, requestId, header);
  }

  /**
   * The capture under `config` (a policy of the applied or of an older, pinned snapshot): undefined
   * in mode None, when the request is not sampled, or when no destination can receive it.
   */
  decideFor(config: DataPolicyConfig, requestId: string, header: (name: string) => string | undefined): CaptureDecision | undefined {
    if (config.mode === 'None') return undefined;
    const policy = this.compiled.get(config);
    if (policy === undefined || policy.exporters.length === 0 || !sampled(requestId, config.sampleRate)) return undefined;
    const optedOut = optOut(config, header);
    const mode = policy.config.mode as CaptureDecision['mode'];
    return { policy, mode: optedOut ? 'Metadata' : mode, optedOut };
  }

  /**
   * Shapes the record the decision allows and queues it for each destination; never throws, never
   * waits. A record that cannot be built (it never should) is counted as dropped, not raised into
   * the request that is already answered.
   */
  record(decision: CaptureDecision, input: CaptureInput): void {
    let record: SerialisedRecord;
    try {
      record = serialiseCapture(decision, input);
    } catch {
      for (const exporter of decision.policy.exporters) this.metrics.dropped('record_error', exporter.label, 1);
      return;
    }
    for (const exporter of decision.policy.exporters) exporter.offer(record);
  }

  /** SIGTERM: every destination writes what it has queued, within the deadline. */
  async drain(timeoutMs: number): Promise<void> {
    await Promise.all([...this.exporters.values()].map(({ exporter }) => exporter.drain(timeoutMs)));
  }
}

/** The caller asked not to be captured (`x-tollgate-capture: off`) and the policy lets it. */
export function optOut(config: DataPolicyConfig, header: (name: string) => string | undefined): boolean {
  return config.allowOptOut && header(CAPTURE_OPT_OUT_HEADER)?.trim().toLowerCase() === 'off';
}

/** Deterministic per request id, so a retried request is sampled the same way; uniform over ids. */
export function sampled(requestId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return createHash('sha256').update(requestId).digest().readUInt32BE(0) / 0x1_0000_0000 < rate;
}

/**
 * The record the decision allows, serialised once, here: the metadata line, and in modes Redacted
 * and Full the content line, its strings redacted on the way into the JSON text and its size capped
 * on that text. Every destination gets these lines; none sees the request's own objects.
 */
export function serialiseCapture(decision: CaptureDecision, input: CaptureInput): SerialisedRecord {
  const { config, detectors } = decision.policy;
  const time = new Date(input.startedAtMs).toISOString();
  const namespace = input.caller.namespace ?? input.routeNamespace ?? 'none';
  const metadata: CaptureRecord = {
    schema: 'tollgate.capture.v1',
    requestId: input.requestId,
    time,
    durationMs: input.durationMs,
    namespace,
    caller: input.caller,
    model: input.model,
    stream: input.stream,
    status: input.status,
    decision: input.decision,
    policy: { id: config.id, mode: decision.mode, ...(decision.optedOut ? { optedOut: true as const } : {}) },
  };
  if (input.traceId !== undefined) metadata.traceId = input.traceId;
  if (input.spanId !== undefined) metadata.spanId = input.spanId;
  if (input.routeId !== undefined) metadata.route = input.routeId;
  if (input.rule !== undefined) metadata.rule = input.rule;
  if (input.provider !== undefined) metadata.provider = input.provider;
  if (input.upstreamModel !== undefined) metadata.upstreamModel = input.upstreamModel;
  if (input.tokens !== undefined) metadata.tokens = input.tokens;
  if (input.costUsd !== undefined) metadata.costUsd = input.costUsd;
  const out: SerialisedRecord = { policyId: config.id, namespace, time, metadata: jsonLine(JSON.stringify(metadata)) };
  if (decision.mode === 'Metadata') return out;
  const content = contentJson(input, config, decision.mode === 'Redacted' ? detectors : undefined);
  out.content = jsonLine(`{"requestId":${JSON.stringify(input.requestId)},"time":"${time}","namespace":${JSON.stringify(namespace)},"content":${content}}`);
  return out;
}

// The request's content fields: `instructions` and `input` as well, so a Responses request a target
// served natively is recorded as sent. The response's: `output` for a Response object from a target
// that served the Responses API natively.
const REQUEST_FIELDS = ['system', 'instructions', 'messages', 'prompt', 'input', 'tools'] as const;
const RESPONSE_FIELDS = ['choices', 'data', 'output'] as const;

/** The `content` object's JSON text (CaptureContent). */
function contentJson(input: CaptureInput, config: DataPolicyConfig, detectors: DetectorSet | undefined): string {
  const tally: RedactionTally = { counts: {}, unscanned: false };
  let request = config.parts.request ? fieldsJson(input.requestBody, REQUEST_FIELDS, detectors, tally) : undefined;
  let response = config.parts.response && input.response !== undefined ? fieldsJson(input.response, RESPONSE_FIELDS, detectors, tally) : undefined;
  const truncated = !fits(request, response, config.maxRecordBytes);
  if (truncated) {
    const share = Math.floor(config.maxRecordBytes / (request !== undefined && response !== undefined ? 2 : 1));
    request = cut(request, share);
    response = cut(response, share);
  }
  let json = '';
  const add = (key: string, value: string): void => {
    json += `${json === '' ? '{' : ','}"${key}":${value}`;
  };
  if (request !== undefined) add('request', request);
  if (response !== undefined) add('response', response);
  if (detectors !== undefined) add('redactions', JSON.stringify(tally.counts));
  if (truncated) add('truncated', 'true');
  if (tally.unscanned) add('unscanned', 'true');
  return json === '' ? '{}' : `${json}}`;
}

/** `{"field":<redacted JSON>,...}` for the fields `source` has, in the order given. */
function fieldsJson(source: Record<string, unknown>, fields: readonly string[], detectors: DetectorSet | undefined, tally: RedactionTally): string {
  let json = '';
  for (const field of fields) {
    const value = source[field];
    if (value !== undefined) json += `${json === '' ? '{' : ','}"${field}":${redactedJson(value, detectors, tally)}`;
  }
  return json === '' ? '{}' : `${json}}`;
}

/** The parts fit in maxRecordBytes of UTF-8 (a UTF-16 code unit is at most 3 bytes: most records need no byte count). */
function fits(request: string | undefined, response: string | undefined, maxBytes: number): boolean {
  const units = (request?.length ?? 0) + (response?.length ?? 0);
  if (units * 3 <= maxBytes) return true;
  return (request === undefined ? 0 : Buffer.byteLength(request)) + (response === undefined ? 0 : Buffer.byteLength(response)) <= maxBytes;
}

/** A part over its share becomes its JSON text, cut at a character boundary within the share, as a JSON string. */
function cut(json: string | undefined, share: number): string | undefined {
  if (json === undefined || Buffer.byteLength(json) <= share) return json;
  let end = Math.min(json.length, share);
  while (end > 0 && Buffer.byteLength(json.slice(0, end)) > share) end = Math.floor(end * 0.9);
  return JSON.stringify(json.slice(0, end));
}
