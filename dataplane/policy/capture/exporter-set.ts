import type { CaptureDestinationConfig } from '../../config/data-policy-config.js';
import { BoundedExporter } from './bounded-exporter.js';
import { CaptureMemory, DEFAULT_MAX_TOTAL_QUEUE_BYTES } from './capture-memory.js';
import type { CaptureMetrics } from './capture-metrics.js';
import type { DestinationFactory } from './destinations/default-destinations.js';

/** How the destination queues batch and bound: S3 batches as its config says, the others by these. */
export interface ExporterSetOptions {
  /** Records waiting per destination before new ones are dropped. */
  maxQueue: number;
  /** Non-batching destinations (OTLP, local directory): records per write and longest wait. */
  maxBatch: number;
  flushIntervalMs: number;
  /** Bytes all the destination queues hold together (half at most of one namespace); default DEFAULT_MAX_TOTAL_QUEUE_BYTES. */
  maxTotalBytes?: number;
}

/** One destination of an applied policy: its metrics label, and its config's JSON with credentials in clear (a rotated key is a changed destination). */
export interface DestinationEntry {
  label: string;
  key: string;
  config: CaptureDestinationConfig;
}

/**
 * The bounded queues of every destination the applied policies name, by label. Runs where the
 * destinations are written: on the capture worker thread (the data plane), or on the request thread
 * (tests, TOLLGATE_CAPTURE_WORKER=off). A destination whose settings did not change keeps its queue.
 */
export class ExporterSet {
  private exporters = new Map<string, { key: string; exporter: BoundedExporter }>();
  /** Shared by every queue, those draining after a change included. */
  readonly memory: CaptureMemory;

  constructor(
    private readonly factory: DestinationFactory,
    private readonly metrics: CaptureMetrics,
    private readonly opts: ExporterSetOptions,
  ) {
    this.memory = new CaptureMemory(opts.maxTotalBytes ?? DEFAULT_MAX_TOTAL_QUEUE_BYTES);
  }

  /** Takes the destinations now named; those no policy names any more write what they hold, then go. */
  apply(entries: readonly DestinationEntry[]): void {
    const kept = new Map<string, { key: string; exporter: BoundedExporter }>();
    for (const { label, key, config } of entries) {
      const existing = this.exporters.get(label);
      if (existing !== undefined && existing.key === key) {
        kept.set(label, existing);
        continue;
      }
      const destination = this.factory(config);
      if (destination === undefined) continue;
      const batching = config.type === 's3' ? { maxBatch: config.maxBatchRecords, flushIntervalMs: config.batchIntervalMs } : { maxBatch: this.opts.maxBatch, flushIntervalMs: this.opts.flushIntervalMs };
      kept.set(label, { key, exporter: new BoundedExporter({ label, destination, metrics: this.metrics, maxQueue: this.opts.maxQueue, memory: this.memory, ...batching }) });
    }
    for (const [label, { exporter }] of this.exporters) if (kept.get(label)?.exporter !== exporter) void exporter.drain(10_000);
    this.exporters = kept;
  }

  get(label: string): BoundedExporter | undefined {
    return this.exporters.get(label)?.exporter;
  }

  /** SIGTERM: every destination writes what it has queued, within the deadline. */
  async drain(timeoutMs: number): Promise<void> {
    await Promise.all([...this.exporters.values()].map(({ exporter }) => exporter.drain(timeoutMs)));
  }
}
