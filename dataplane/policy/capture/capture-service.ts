import { createHash } from 'node:crypto';
import { CAPTURE_OPT_OUT_HEADER, type CaptureDestinationConfig, type CaptureMode, type DataPolicyConfig } from '../../config/data-policy-config.js';
import { revealSecrets } from '../../config/secret-value.js';
import type { Caller } from '../../core/caller.js';
import { compileDetectors, type DetectorSet } from '../detectors/index.js';
import { BoundedExporter, type CaptureDestination } from './bounded-exporter.js';
import type { CaptureContent, CaptureInput, CaptureRecord } from './capture-record.js';
import { type CaptureMetrics, NO_CAPTURE_METRICS } from './capture-metrics.js';
import { localDirectoryDestination } from './destinations/local-directory.js';
import { otlpLogsDestination } from './destinations/otlp-logs.js';
import { s3Destination } from './destinations/s3.js';
import { redactJson } from './redact-content.js';
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
 * first) and samples; `record` shapes, redacts and caps the record and hands it to bounded queues
 * without waiting. Without a DataPolicy nothing is recorded anywhere.
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
    let record: CaptureRecord;
    try {
      record = buildRecord(decision, input);
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

export function buildRecord(decision: CaptureDecision, input: CaptureInput): CaptureRecord {
  const { config, detectors } = decision.policy;
  const record: CaptureRecord = {
    schema: 'tollgate.capture.v1',
    requestId: input.requestId,
    time: new Date(input.startedAtMs).toISOString(),
    durationMs: input.durationMs,
    namespace: input.caller.namespace ?? input.routeNamespace ?? 'none',
    caller: input.caller,
    model: input.model,
    stream: input.stream,
    status: input.status,
    decision: input.decision,
    policy: { id: config.id, mode: decision.mode, ...(decision.optedOut ? { optedOut: true as const } : {}) },
  };
  if (input.traceId !== undefined) record.traceId = input.traceId;
  if (input.spanId !== undefined) record.spanId = input.spanId;
  if (input.routeId !== undefined) record.route = input.routeId;
  if (input.rule !== undefined) record.rule = input.rule;
  if (input.provider !== undefined) record.provider = input.provider;
  if (input.upstreamModel !== undefined) record.upstreamModel = input.upstreamModel;
  if (input.tokens !== undefined) record.tokens = input.tokens;
  if (input.costUsd !== undefined) record.costUsd = input.costUsd;
  if (decision.mode === 'Metadata') return record;
  record.content = content(input, config, decision.mode === 'Redacted' ? detectors : undefined);
  return record;
}

function content(input: CaptureInput, config: DataPolicyConfig, detectors: DetectorSet | undefined): CaptureContent {
  const out: CaptureContent = {};
  const counts: Record<string, number> = {};
  const take = (value: unknown): unknown => {
    const r = redactJson(value, detectors);
    for (const [t, n] of Object.entries(r.counts)) counts[t] = (counts[t] ?? 0) + n;
    if (r.unscanned) out.unscanned = true;
    return r.value;
  };
  if (config.parts.request) {
    // `instructions` and `input` as well: a Responses request a target served natively is recorded as sent.
    const { messages, prompt, input: embeddingInput, tools, system, instructions } = input.requestBody;
    out.request = take(Object.fromEntries(Object.entries({ system, instructions, messages, prompt, input: embeddingInput, tools }).filter(([, v]) => v !== undefined)));
  }
  if (config.parts.response && input.response !== undefined) {
    // `output`: a Response object from a target that served the Responses API natively.
    const { choices, data, output } = input.response;
    out.response = take(Object.fromEntries(Object.entries({ choices, data, output }).filter(([, v]) => v !== undefined)));
  }
  if (detectors !== undefined) out.redactions = counts;
  return capSize(out, config.maxRecordBytes);
}

/** Keeps content within maxRecordBytes: each part over its share becomes its JSON text, cut at a character boundary. */
function capSize(content: CaptureContent, maxBytes: number): CaptureContent {
  const size = (v: unknown): number => (v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v)));
  if (size(content.request) + size(content.response) <= maxBytes) return content;
  const out: CaptureContent = { ...content, truncated: true };
  const share = Math.floor(maxBytes / (content.request !== undefined && content.response !== undefined ? 2 : 1));
  const cut = (v: unknown): unknown => {
    if (v === undefined || size(v) <= share) return v;
    const text = JSON.stringify(v);
    let end = Math.min(text.length, share);
    while (end > 0 && Buffer.byteLength(text.slice(0, end)) > share) end = Math.floor(end * 0.9);
    return text.slice(0, end);
  };
  out.request = cut(content.request);
  out.response = cut(content.response);
  if (out.request === undefined) delete out.request;
  if (out.response === undefined) delete out.response;
  return out;
}
