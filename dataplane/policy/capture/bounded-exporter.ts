import type { SerialisedRecord } from './capture-record.js';
import type { CaptureMetrics, DropReason } from './capture-metrics.js';
import type { CaptureMemory } from './capture-memory.js';
import { LineBatch, type LineBatchSizes, type LineGroup } from './line-batch.js';
import { NamespaceShares } from './namespace-shares.js';

/**
 * Where records go. A write takes one batch, its records' lines grouped by object, and rejects when
 * the destination did not take all of it: with a PartialWrite when it took some (those records
 * count as written, the rest as dropped), with any other error when it took none.
 */
export interface CaptureDestination {
  write(batch: readonly LineGroup[]): Promise<void>;
  /** Runs what `write` does to a batch, short of sending it, on a synthetic record (warm-up.ts): the capture worker calls it when the destination is applied. */
  warm?(): Promise<void>;
}

export interface BoundedExporterOptions {
  /** metrics label: "<policy id>/<destination name>" */
  label: string;
  destination: CaptureDestination;
  metrics: CaptureMetrics;
  /** Most records waiting, half of them at most of one namespace; one more is dropped (queue_full, namespace_share), never waited for. */
  maxQueue: number;
  /** Most bytes of records waiting (a record may be up to maxRecordBytes, 16 MiB), half of them at most of one namespace: one more is dropped (queue_full, namespace_share). */
  maxQueueBytes?: number;
  /** What all destination queues of the process hold together (ExporterSet's): one more record past it (queue_full), or past its namespace's half of it (namespace_share), is dropped. */
  memory?: CaptureMemory;
  maxBatch: number;
  flushIntervalMs: number;
}

const DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024;

/** A write that stored `written` of the batch's records and not the others (why: `cause`). */
export class PartialWrite extends Error {
  constructor(
    readonly written: number,
    cause: unknown,
  ) {
    super(`${written} records written, then: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * A bounded queue in front of one destination. `offer` is synchronous and O(1): the response path
 * never waits for capture. One write at a time; a failed batch is dropped and counted (the response
 * is long gone, and retrying would only let the queue grow), and the destination reports not ready.
 * No namespace's records take more than half of the queue (NamespaceShares): a policy's destination
 * may carry many tenants' records.
 */
export class BoundedExporter {
  /** Batches waiting, oldest first; only the last may still take records (fewer than maxBatch). */
  private queue: LineBatch[] = [];
  private queueRecords = 0;
  private queueBytes = 0;
  private readonly shares: NamespaceShares;
  /** The sizes the next batch's buffers start at: the last one's. */
  private sizes: LineBatchSizes | undefined;
  private writing: Promise<void> | undefined;
  /** The batch being written; a drain that gives up on it counts it dropped, and its late answer counts nothing. */
  private inFlight: { size: number; abandoned: boolean; release: (() => void) | undefined } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: BoundedExporterOptions) {
    this.shares = new NamespaceShares(opts.maxQueue, opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES);
  }

  get label(): string {
    return this.opts.label;
  }

  get queued(): number {
    return this.queueRecords;
  }

  offer(record: SerialisedRecord): void {
    if (!this.admit(record.namespace, record.metadata.length + (record.content?.length ?? 0))) return;
    this.taken(record.namespace, this.open().add(record));
  }

  /**
   * offer for a record as the capture worker holds it (LineBatch.addParts): its lines are copied
   * into the batch from the buffer they came in, with no record object or Buffer of their own.
   */
  offerParts(policyId: string, namespace: string, time: string, from: Buffer, start: number, metadataEnd: number, headEnd: number, rest: string | undefined): void {
    if (!this.admit(namespace, headEnd - start + (rest?.length ?? 0))) return;
    this.taken(namespace, this.open().addParts(policyId, namespace, time, from, start, metadataEnd, headEnd, rest));
  }

  /** Room for one more record of `namespace` of about `bytes`; else it is dropped and counted. */
  private admit(namespace: string, bytes: number): boolean {
    const memory = this.opts.memory;
    let refused: DropReason | undefined;
    if (this.closed) refused = 'shutdown';
    else if (this.queueRecords >= this.opts.maxQueue || this.queueBytes + bytes > (this.opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES) || memory?.fits(bytes) === false) refused = 'queue_full';
    else if (!this.shares.admits(namespace, 1, bytes) || memory?.admitsShare(namespace, bytes) === false) refused = 'namespace_share';
    if (refused === undefined) return true;
    this.opts.metrics.dropped(refused, this.opts.label, 1);
    return false;
  }

  /** The batch that takes the next record: the last one, or a new one when it is full. */
  private open(): LineBatch {
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined && last.records < this.opts.maxBatch) return last;
    const batch = new LineBatch(this.sizes);
    this.queue.push(batch);
    return batch;
  }

  private taken(namespace: string, bytes: number): void {
    this.queueRecords++;
    this.queueBytes += bytes;
    this.shares.add(namespace, 1, bytes);
    this.opts.memory?.add(namespace, 1, bytes);
    if (this.queue[0]!.records >= this.opts.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.opts.flushIntervalMs).unref();
  }

  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.writing !== undefined) return;
    const batch = this.queue.shift();
    if (batch === undefined) return;
    this.queueRecords -= batch.records;
    this.queueBytes -= batch.bytes;
    this.sizes = batch.nextSizes();
    const groups = batch.lineGroups();
    this.release(groups, false);
    // The process's capture memory holds the batch until its write is over: its bytes are still there.
    const flight: NonNullable<BoundedExporter['inFlight']> = { size: batch.records, abandoned: false, release: () => this.releaseMemory(groups) };
    this.inFlight = flight;
    this.writing = this.opts.destination
      .write(groups)
      .then(
        () => {
          if (flight.abandoned) return;
          this.opts.metrics.exported(this.opts.label, flight.size);
          this.opts.metrics.ready(this.opts.label, true);
        },
        (error: unknown) => {
          if (flight.abandoned) return;
          const written = error instanceof PartialWrite ? Math.min(error.written, flight.size) : 0;
          if (written > 0) this.opts.metrics.exported(this.opts.label, written);
          this.opts.metrics.dropped('destination_error', this.opts.label, flight.size - written);
          this.opts.metrics.ready(this.opts.label, false);
        },
      )
      .finally(() => {
        flight.release?.();
        flight.release = undefined;
        this.writing = undefined;
        this.inFlight = undefined;
        if ((this.queue[0]?.records ?? 0) >= this.opts.maxBatch || (this.closed && this.queueRecords > 0)) this.kick();
        else if (this.queueRecords > 0) this.timer ??= setTimeout(() => this.kick(), this.opts.flushIntervalMs).unref();
      });
  }

  /** Groups that left the queue no longer count against their namespaces' shares of it, nor (with `memory`) against the process's capture memory. */
  private release(groups: readonly LineGroup[], memory: boolean): void {
    for (const g of groups) this.shares.remove(g.namespace, g.records, g.metadata.length + g.content.length);
    if (memory) this.releaseMemory(groups);
  }

  private releaseMemory(groups: readonly LineGroup[]): void {
    for (const g of groups) this.opts.memory?.remove(g.namespace, g.records, g.metadata.length + g.content.length);
  }

  /** Writes what is queued (SIGTERM); what is still queued at the deadline is dropped as shutdown. */
  async drain(timeoutMs: number): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    this.kick();
    while ((this.writing !== undefined || this.queueRecords > 0) && Date.now() < deadline) {
      const pending = this.writing ?? Promise.resolve();
      await Promise.race([pending, new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())).unref())]);
      if (this.writing === undefined) this.kick();
    }
    const abandoned = this.inFlight;
    if (abandoned !== undefined && !abandoned.abandoned) {
      abandoned.abandoned = true;
      abandoned.release?.();
      abandoned.release = undefined;
      this.opts.metrics.dropped('shutdown', this.opts.label, abandoned.size);
    }
    if (this.queueRecords > 0) {
      this.opts.metrics.dropped('shutdown', this.opts.label, this.queueRecords);
      for (const batch of this.queue) this.release(batch.lineGroups(), true);
      this.queue = [];
      this.queueRecords = 0;
      this.queueBytes = 0;
      this.shares.clear();
    }
  }
}
