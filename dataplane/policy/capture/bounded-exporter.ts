import type { SerialisedRecord } from './capture-record.js';
import type { CaptureMetrics } from './capture-metrics.js';

/** Where records go. A write takes one batch of serialised records and rejects when the destination did not take it. */
export interface CaptureDestination {
  write(batch: readonly SerialisedRecord[]): Promise<void>;
  /** Runs what `write` does to a batch, short of sending it, on a synthetic record (warm-up.ts): the capture worker calls it when the destination is applied. */
  warm?(): Promise<void>;
}

export interface BoundedExporterOptions {
  /** metrics label: "<policy id>/<destination name>" */
  label: string;
  destination: CaptureDestination;
  metrics: CaptureMetrics;
  /** Most records waiting; one more is dropped (queue_full), never waited for. */
  maxQueue: number;
  /** Most bytes of records waiting (a record may be up to maxRecordBytes, 16 MiB): one more is dropped (queue_full). */
  maxQueueBytes?: number;
  maxBatch: number;
  flushIntervalMs: number;
}

const DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024;
const sizeOf = (record: SerialisedRecord): number => record.metadata.length + (record.content?.length ?? 0);

/**
 * A bounded queue in front of one destination. `offer` is synchronous and O(1): the response path
 * never waits for capture. One write at a time; a failed batch is dropped and counted (the response
 * is long gone, and retrying would only let the queue grow), and the destination reports not ready.
 */
export class BoundedExporter {
  private queue: SerialisedRecord[] = [];
  private queueBytes = 0;
  private writing: Promise<void> | undefined;
  /** The batch being written; a drain that gives up on it counts it dropped, and its late answer counts nothing. */
  private inFlight: { size: number; abandoned: boolean } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: BoundedExporterOptions) {}

  get label(): string {
    return this.opts.label;
  }

  get queued(): number {
    return this.queue.length;
  }

  offer(record: SerialisedRecord): void {
    const bytes = sizeOf(record);
    if (this.closed || this.queue.length >= this.opts.maxQueue || this.queueBytes + bytes > (this.opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES)) {
      this.opts.metrics.dropped(this.closed ? 'shutdown' : 'queue_full', this.opts.label, 1);
      return;
    }
    this.queue.push(record);
    this.queueBytes += bytes;
    if (this.queue.length >= this.opts.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.opts.flushIntervalMs).unref();
  }

  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.writing !== undefined || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    for (const record of batch) this.queueBytes -= sizeOf(record);
    const flight = { size: batch.length, abandoned: false };
    this.inFlight = flight;
    this.writing = this.opts.destination
      .write(batch)
      .then(
        () => {
          if (flight.abandoned) return;
          this.opts.metrics.exported(this.opts.label, batch.length);
          this.opts.metrics.ready(this.opts.label, true);
        },
        () => {
          if (flight.abandoned) return;
          this.opts.metrics.dropped('destination_error', this.opts.label, batch.length);
          this.opts.metrics.ready(this.opts.label, false);
        },
      )
      .finally(() => {
        this.writing = undefined;
        this.inFlight = undefined;
        if (this.queue.length >= this.opts.maxBatch || (this.closed && this.queue.length > 0)) this.kick();
        else if (this.queue.length > 0) this.timer ??= setTimeout(() => this.kick(), this.opts.flushIntervalMs).unref();
      });
  }

  /** Writes what is queued (SIGTERM); what is still queued at the deadline is dropped as shutdown. */
  async drain(timeoutMs: number): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    this.kick();
    while ((this.writing !== undefined || this.queue.length > 0) && Date.now() < deadline) {
      const pending = this.writing ?? Promise.resolve();
      await Promise.race([pending, new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())).unref())]);
      if (this.writing === undefined) this.kick();
    }
    const abandoned = this.inFlight;
    if (abandoned !== undefined && !abandoned.abandoned) {
      abandoned.abandoned = true;
      this.opts.metrics.dropped('shutdown', this.opts.label, abandoned.size);
    }
    if (this.queue.length > 0) {
      this.opts.metrics.dropped('shutdown', this.opts.label, this.queue.length);
      this.queue = [];
      this.queueBytes = 0;
    }
  }
}
