import { CAPTURE_OPT_OUT_HEADER, type CaptureMode, type DataPolicyConfig } from '../../config/data-policy-config.js';
import { revealSecrets } from '../../config/secret-value.js';
import type { Caller } from '../../core/caller.js';
import { compileDetectors, type DetectorSet } from '../detectors/index.js';
import type { BoundedExporter } from './bounded-exporter.js';
import type { CaptureInput, SerialisedRecord } from './capture-record.js';
import { type CaptureMetrics, NO_CAPTURE_METRICS } from './capture-metrics.js';
import { type CaptureSampler, captureSampler } from './capture-sampler.js';
import { defaultDestinations, type DestinationFactory } from './destinations/default-destinations.js';
import { type DestinationEntry, ExporterSet, type ExporterSetOptions } from './exporter-set.js';
import { selectPolicy } from './select-policy.js';
import { recordNamespace, recordParts, serialiseCapture, type SerialisePolicy } from './serialise-capture.js';
import { WorkerSerialiser, type WorkerSerialiserOptions } from './worker-serialiser.js';

export { defaultDestinations, type DestinationFactory };

export interface CaptureServiceOptions {
  metrics?: CaptureMetrics;
  destinations?: DestinationFactory;
  /** Records waiting per destination before new ones are dropped. */
  maxQueue?: number;
  /** Non-batching destinations (OTLP, local directory): records per write and longest wait. */
  maxBatch?: number;
  flushIntervalMs?: number;
  /**
   * Shape, redact and serialise records on a worker thread instead of the request thread (the data
   * plane does; records then wait for it in a queue of `maxQueue` as well). With the default
   * destinations the worker also queues and writes them (tests' own destinations stay on this
   * thread, the worker handing the records back). Options are for tests.
   */
  worker?: boolean | Pick<WorkerSerialiserOptions<unknown>, 'workerModule' | 'respawnDelayMs' | 'maxQueuedBytes' | 'maxHeapMb'>;
  /** Which request ids a policy with sampleRate below 1 records; default: a key of this process's own (capture-sampler.ts). */
  sampler?: CaptureSampler;
}

interface CompiledPolicy {
  config: DataPolicyConfig;
  /** Redacted mode only. */
  detectors: DetectorSet | undefined;
  /** The metrics labels of its destinations ("<policy id>/<destination name>"). */
  labels: string[];
  /** Their queues on this thread; none when the worker writes the destinations. */
  exporters: BoundedExporter[];
  /** How the worker knows this policy (with the worker only; given again when the worker forgot it, see record). */
  workerKey: number | undefined;
  /** What the worker is given for it (keyFor), to give it again. */
  workerSpec: { policy: SerialisePolicy; labels: string[] | undefined } | undefined;
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
  private readonly metrics: CaptureMetrics;
  private readonly exporterOptions: ExporterSetOptions;
  /** The destination queues on this thread: all of them without the worker or with tests' own destinations, else none. */
  private readonly exporters: ExporterSet | undefined;
  private readonly serialiser: WorkerSerialiser<CompiledPolicy> | undefined;
  /** Which request ids are recorded under a sampleRate below 1 (/debug/route asks it too). */
  readonly sampler: CaptureSampler;

  constructor(opts: CaptureServiceOptions = {}) {
    this.metrics = opts.metrics ?? NO_CAPTURE_METRICS;
    this.sampler = opts.sampler ?? captureSampler();
    this.exporterOptions = { maxQueue: opts.maxQueue ?? 10_000, maxBatch: opts.maxBatch ?? 100, flushIntervalMs: opts.flushIntervalMs ?? 1_000 };
    const worker = opts.worker ?? false;
    if (worker !== false) {
      this.serialiser = new WorkerSerialiser<CompiledPolicy>({
        ...(worker === true ? {} : worker),
        maxQueued: opts.maxQueue ?? 10_000,
        metrics: this.metrics,
        deliver: (policy, record) => {
          for (const exporter of policy.exporters) exporter.offer(record);
        },
        lost: (policy, reason) => {
          for (const label of policy.labels) this.metrics.dropped(reason, label, 1);
        },
      });
    }
    // The worker builds the default destinations itself from their configs; a factory of the caller's stays here.
    if (this.serialiser === undefined || opts.destinations !== undefined) this.exporters = new ExporterSet(opts.destinations ?? defaultDestinations, this.metrics, this.exporterOptions);
  }

  /** Takes a new snapshot's policies; destinations whose settings did not change keep their queue. */
  apply(configs: readonly DataPolicyConfig[] | undefined): void {
    const next = configs ?? [];
    if (next === this.configs) return;
    this.configs = next;
    const entries: DestinationEntry[] = [];
    const compiled: [DataPolicyConfig, Omit<CompiledPolicy, 'exporters' | 'workerKey' | 'workerSpec'>][] = [];
    for (const given of next) {
      let config = given;
      let detectors: DetectorSet | undefined;
      if (config.mode === 'Redacted') {
        const result = compileDetectors({ detectors: config.redaction.detectors, customPatterns: config.redaction.customPatterns });
        // Compile checked the patterns; should one still fail, the policy records metadata only.
        detectors = result.ok ? result.detectors : undefined;
        if (!result.ok) config = { ...config, mode: 'Metadata' };
      }
      const labels: string[] = [];
      for (const d of config.destinations) {
        const label = `${config.id}/${d.name}`;
        // With the credentials in clear: a rotated key is a changed destination.
        entries.push({ label, key: JSON.stringify(d, revealSecrets), config: d });
        labels.push(label);
      }
      compiled.push([given, { config, detectors, labels }]);
    }
    if (this.exporters !== undefined) this.exporters.apply(entries);
    else this.serialiser?.setDestinations(entries.map(({ label, key }) => ({ label, key })), this.exporterOptions);
    const workerKeys = new Set<number>();
    for (const [given, policy] of compiled) {
      const { id, mode, parts, maxRecordBytes, redaction } = policy.config;
      const local = this.exporters;
      // A destination its factory did not build takes nothing, as before.
      const exporters = local === undefined ? [] : policy.labels.flatMap((label) => local.get(label) ?? []);
      const labels = local === undefined ? policy.labels : exporters.map((e) => e.label);
      const workerSpec = this.serialiser === undefined ? undefined : { policy: { id, mode, parts, maxRecordBytes, redaction }, labels: local === undefined ? labels : undefined };
      const workerKey = workerSpec === undefined ? undefined : this.serialiser?.keyFor(workerSpec.policy, workerSpec.labels);
      if (workerKey !== undefined) workerKeys.add(workerKey);
      this.compiled.set(given, { ...policy, labels, exporters, workerKey, workerSpec });
    }
    // Policies no snapshot has any more are forgotten, but for the most recent few (WorkerSerialiser.retainOnly).
    this.serialiser?.retainOnly(workerKeys);
    // The worker starts, and compiles what records will run through, when a policy that records is applied: not on its first record, while requests are served.
    if (compiled.some(([, policy]) => policy.config.mode !== 'None' && policy.labels.length > 0)) this.serialiser?.start();
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
    if (policy === undefined || policy.labels.length === 0 || !this.sampler.sampled(requestId, config.sampleRate)) return undefined;
    const optedOut = optOut(config, header);
    const mode = policy.config.mode as CaptureDecision['mode'];
    return { policy, mode: optedOut ? 'Metadata' : mode, optedOut };
  }

  /**
   * Shapes the record the decision allows and queues it for each destination; never throws, never
   * waits. A record that cannot be built (it never should) is counted as dropped, not raised into
   * the request that is already answered. With the worker, its JSON texts are made when its batch
   * is sent (up to the worker serialiser's flush interval later), from `input` as given: nothing
   * reads the answered request's objects and changes them.
   */
  record(decision: CaptureDecision, input: CaptureInput): void {
    const { policy } = decision;
    let key = policy.workerKey;
    // A request served on a snapshot many policy changes old: its policy was forgotten by the worker, and is given again.
    if (key !== undefined && policy.workerSpec !== undefined && this.serialiser?.holds(key) === false) key = policy.workerKey = this.serialiser.keyFor(policy.workerSpec.policy, policy.workerSpec.labels);
    let record: SerialisedRecord;
    try {
      if (this.serialiser !== undefined && key !== undefined) return this.serialiser.submitLater(decision.policy, key, recordNamespace(input), () => recordParts(decision, input));
      record = serialiseCapture(decision, input);
    } catch {
      for (const label of decision.policy.labels) this.metrics.dropped('record_error', label, 1);
      return;
    }
    for (const exporter of decision.policy.exporters) exporter.offer(record);
  }

  /** Records handed to the worker and not yet redacted and queued for their destinations. */
  get backlog(): number {
    return this.serialiser?.backlog ?? 0;
  }

  /** SIGTERM: every destination writes what it has queued, within the deadline. */
  async drain(timeoutMs: number): Promise<void> {
    // Records still with the worker reach their queues first; the queues then write within what is left.
    const deadline = Date.now() + timeoutMs;
    await this.serialiser?.drain(deadline);
    timeoutMs = Math.max(0, deadline - Date.now());
    await this.exporters?.drain(timeoutMs);
  }
}

/** The caller asked not to be captured (`x-tollgate-capture: off`) and the policy lets it. */
export function optOut(config: DataPolicyConfig, header: (name: string) => string | undefined): boolean {
  return config.allowOptOut && header(CAPTURE_OPT_OUT_HEADER)?.trim().toLowerCase() === 'off';
}
