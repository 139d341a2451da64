import { Worker } from 'node:worker_threads';
import type { SerialisedRecord } from './capture-record.js';
import { type CaptureMetrics, type DropReason, NO_CAPTURE_METRICS } from './capture-metrics.js';
import type { ExporterSetOptions } from './exporter-set.js';
import { NamespaceShares } from './namespace-shares.js';
import type { RecordParts, SerialisePolicy } from './serialise-capture.js';

/** A destination the worker writes: its metrics label, and its config's JSON with credentials in clear. */
export interface WorkerDestination {
  label: string;
  key: string;
}

/**
 * What the request thread sends the capture worker:
 * - a policy records will name by its key, with the labels of the destinations the worker writes
 *   its records to (without `labels`, the worker hands the records back instead); `forget` a key no
 *   record will name any more (a policy no snapshot has, its batches sent before);
 * - the destinations the worker writes (all of them, each time they change);
 * - a batch of records as UTF-8, one after the other in `bytes` (transferred, not copied): record
 *   i's policy key is keys[i], and its six parts (RecordParts: metadata line, content head, request,
 *   response, then namespace and time; an empty part is absent) end at ends[6i..6i+5], each
 *   starting where the one before ended;
 * - drain (SIGTERM): write what the destinations hold by `deadline` (epoch ms), then say so.
 */
export type ToSerialiseWorker =
  | { kind: 'policy'; key: number; policy: SerialisePolicy; labels: string[] | undefined }
  | { kind: 'destinations'; destinations: WorkerDestination[]; options: ExporterSetOptions }
  | { kind: 'batch'; id: number; bytes: ArrayBuffer; ends: number[]; keys: number[] }
  | { kind: 'forget'; key: number }
  | { kind: 'drain'; deadline: number };

/** What the worker's destination queues report (CaptureMetrics calls), passed on to the request thread's metrics. */
export type CaptureEvent = ['exported', string, number] | ['dropped', string, number, DropReason] | ['ready', string, boolean];

/**
 * What the worker sends back per batch: the lines of every record it hands back in `bytes`, record
 * i's metadata line ending at ends[2i] and its content line (empty when it has none) at ends[2i + 1],
 * each starting where the one before ended (`ends` is empty when it hands none back); `places` holds each handed-back record's policy id,
 * namespace and time (what the stores partition by), in order. A record in `failed` could not be built (its lines are empty);
 * so are those of a record the worker queued for its own destinations. `events` are what
 * its destination queues reported since its last message, this batch's offers included.
 */
export interface SerialisedBatch {
  kind: 'batch';
  id: number;
  bytes: ArrayBuffer;
  ends: number[];
  places: string[];
  failed: number[];
  events: CaptureEvent[];
}

export type FromSerialiseWorker = SerialisedBatch | { kind: 'events' | 'drained'; events: CaptureEvent[] };

export interface WorkerSerialiserOptions<T> {
  /** A record's lines are ready: queue them for the destinations of `target` (its policy). */
  deliver(target: T, record: SerialisedRecord): void;
  /** A record of `target` is lost; counted per destination by the caller. */
  lost(target: T, reason: DropReason): void;
  /** Records handed over and not yet back (waiting to be sent, or in the worker), half of them at most of one namespace: one more is dropped (queue_full, namespace_share). */
  maxQueued: number;
  /**
   * Bytes of record JSON handed over and not yet back, half of them at most of one namespace: one more is dropped (queue_full, namespace_share). Records
   * reach the worker uncut (maxRecordBytes is applied there), so a count alone would let a burst of
   * 10 MiB prompts hold gigabytes.
   */
  maxQueuedBytes?: number;
  /** Records per message to the worker, and the longest a record waits for one. */
  maxBatch?: number;
  flushIntervalMs?: number;
  /** How long after a worker died before the next is started (records wait, bounded by maxQueued). */
  respawnDelayMs?: number;
  /** The worker's module: serialise-worker next to this file (tests give one that can be made to crash). */
  workerModule?: URL;
  /**
   * The worker's V8 heap limit (old generation, MiB), for tests. Without it the worker has V8's
   * default, which Node derives from the memory the container may use (a quarter of it, up to 4 GiB);
   * a worker that reaches its limit is stopped alone (ERR_WORKER_OUT_OF_MEMORY), counted and replaced
   * like one that crashed. Not set by default: a limit this low also makes V8 collect the worker's
   * heap more often (its growing factor follows the limit), 2–4 % of capture's throughput in capture-ab.
   */
  maxHeapMb?: number;
  /** Where what the worker's own destination queues report goes, and what a worker that dies holding records loses. */
  metrics?: CaptureMetrics;
}

/**
 * Redacts, caps and packs capture records on a worker thread, so that the request thread spends on
 * a record only its JSON texts (RecordParts: native JSON.stringify, nothing parsed again anywhere)
 * and, per batch, one message each way. The record is redacted in the worker,
 * inside the data plane process, before it reaches any queue a destination reads. Bounded like the
 * destination queues: a record that finds `maxQueued` records (or `maxQueuedBytes`) waiting is dropped and counted,
 * never waited for, and so is one whose namespace holds half of either bound already (NamespaceShares:
 * one tenant's burst of huge prompts does not drop every other tenant's records); records in a worker that dies are counted as `record_error`, and a new worker
 * starts `respawnDelayMs` later. `drain` (SIGTERM) finishes what was handed over, within the deadline.
 *
 * Records of a policy given destination labels (keyFor) are not handed back: the worker queues and
 * writes them itself (batching, gzip, signing, the PUT), so the request thread's only work for the
 * destination is the hand-over. Its queues' reports come back as events for `metrics`; the records
 * it holds are counted per label here, so that a worker that dies loses only what is counted.
 */
export class WorkerSerialiser<T> {
  /**
   * The records waiting to be sent, as UTF-8 outside the JavaScript heap: the request thread's
   * JSON text of a record dies young, and nothing it queues is traced or copied by its collector.
   */
  private pending: Buffer | undefined;
  private pendingUsed = 0;
  private pendingEnds: number[] = [];
  /** The size the next batch's buffer starts at: the last one's, up to 1 MiB. */
  private pendingSize = 64 * 1024;
  private pendingTargets: T[] = [];
  private pendingKeys: number[] = [];
  /** The namespace each pending record is filed under (what its share is counted in). */
  private pendingNamespaces: string[] = [];
  /** Records taken with submitLater, not yet written to the pending buffer. */
  private later: { target: T; key: number; namespace: string; make: () => RecordParts }[] = [];
  /** Batches in the worker, by id: the targets of their records, in order, their policy keys and namespaces, and where each record's parts end. */
  private outstanding = new Map<number, { targets: T[]; keys: number[]; namespaces: string[]; ends: number[]; bytes: number }>();
  /** What each namespace holds of the records and bytes handed over and not yet back. */
  private readonly shares: NamespaceShares;
  /** Records in the worker's own destination queues (offered, not yet reported written or dropped), by label. */
  private readonly held = new Map<string, number>();
  /** The destinations the worker writes, and how it bounds and batches them. */
  private destinations: Extract<ToSerialiseWorker, { kind: 'destinations' }> | undefined;
  /** Per policy key: the labels of the destinations the worker writes its records to (undefined: handed back). */
  private readonly keyLabels: (string[] | undefined)[] = [];
  private drained: (() => void) | undefined;
  private readonly metrics: CaptureMetrics;
  private queued = 0;
  private queuedBytes = 0;
  private nextBatch = 0;
  private worker: Worker | undefined;
  private downUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  /** The policies records may be made under, by key: a new worker is given them all. */
  private readonly policies = new Map<number, { id: string; policy: SerialisePolicy }>();
  private readonly keys = new Map<string, number>();
  private nextKey = 0;
  /** Keys of policies the last snapshots had and the applied one has not, the oldest first (at most MAX_RETIRED). */
  private retired: number[] = [];
  /** Forgotten keys whose labels batches still in the worker may need (received): dropped once none is. */
  private forgottenLabels: number[] = [];
  private readonly maxBatch: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueuedBytes: number;

  constructor(private readonly opts: WorkerSerialiserOptions<T>) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.flushIntervalMs = opts.flushIntervalMs ?? 50;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.metrics = opts.metrics ?? NO_CAPTURE_METRICS;
    this.shares = new NamespaceShares(opts.maxQueued, this.maxQueuedBytes);
  }

  /**
   * The key records of `policy` are sent with; equal policies (a snapshot reloaded) share one. With
   * `labels`, the worker writes the records to those of its destinations (setDestinations).
   */
  keyFor(policy: SerialisePolicy, labels?: string[]): number {
    const id = JSON.stringify([policy, labels]);
    let key = this.keys.get(id);
    if (key === undefined) {
      key = this.nextKey++;
      this.policies.set(key, { id, policy });
      this.keyLabels[key] = labels;
      this.keys.set(id, key);
      this.worker?.postMessage({ kind: 'policy', key, policy, labels } satisfies ToSerialiseWorker);
    }
    return key;
  }

  /** Whether records may still be made under `key` (a key forgotten by retainOnly needs keyFor again). */
  holds(key: number): boolean {
    return this.policies.has(key);
  }

  /**
   * The applied snapshot's policies are those of `current`: the others are retired, and past the
   * MAX_RETIRED most recently retired, forgotten, here and in the worker (which compiled their
   * detectors, ~13 KiB each). Without this every distinct policy ever applied stayed, and a tenant
   * that kept changing its DataPolicy grew every data plane's memory until the capture worker ran out
   * of heap and every new worker, given them all, did too. Requests still served on an older snapshot
   * keep a retired policy's key; one that outlives MAX_RETIRED changes gets a new key (keyFor).
   */
  retainOnly(current: ReadonlySet<number>): void {
    const retired = this.retired.filter((key) => !current.has(key) && this.policies.has(key));
    for (const key of this.policies.keys()) if (!current.has(key) && !retired.includes(key)) retired.push(key);
    if (retired.length > MAX_RETIRED) {
      // The records written so far go first: the worker forgets a key after the batches that name it.
      this.flush();
      for (const key of retired.splice(0, retired.length - MAX_RETIRED)) this.forget(key);
    }
    this.retired = retired;
  }

  private forget(key: number): void {
    const known = this.policies.get(key);
    if (known === undefined) return;
    this.policies.delete(key);
    this.keys.delete(known.id);
    this.forgottenLabels.push(key);
    this.worker?.postMessage({ kind: 'forget', key } satisfies ToSerialiseWorker);
    this.dropForgottenLabels();
  }

  /** Forgotten keys' labels, once no batch that may name them is in the worker. */
  private dropForgottenLabels(): void {
    if (this.outstanding.size > 0 || this.forgottenLabels.length === 0) return;
    for (const key of this.forgottenLabels) delete this.keyLabels[key];
    this.forgottenLabels = [];
  }

  /** Destinations of the worker with records it holds (tests). */
  get destinationsHolding(): number {
    return this.held.size;
  }

  /** How many policies records may be made under (tests). */
  get policiesHeld(): number {
    return this.policies.size;
  }

  /** The destinations the worker writes from now on (a changed one starts a new queue; a removed one drains). */
  setDestinations(destinations: WorkerDestination[], options: ExporterSetOptions): void {
    this.destinations = { kind: 'destinations', destinations, options };
    this.worker?.postMessage(this.destinations);
  }

  /** Hands a record's parts over; never throws, never waits. */
  submit(target: T, key: number, parts: RecordParts): void {
    if (!this.take(target, parts.namespace)) return;
    this.write(target, key, parts.namespace, parts);
    this.schedule();
  }

  /**
   * Takes a record whose parts `make` builds when its batch is sent, with the batch's other records
   * in one loop (the code and its data then warm, rather than run once per request between all of a
   * request's other work); never throws, never waits. `make` must give the same parts then as now:
   * it reads only what the answered request no longer changes, and files the record under `namespace`.
   */
  submitLater(target: T, key: number, namespace: string, make: () => RecordParts): void {
    if (!this.take(target, namespace)) return;
    this.later.push({ target, key, namespace, make });
    this.schedule();
  }

  /** Counts one more record of `namespace` in, or drops it (counted) when the queue or the namespace's share of it is full. */
  private take(target: T, namespace: string): boolean {
    if (this.closed) {
      this.opts.lost(target, 'shutdown');
      return false;
    }
    if (this.queued >= this.opts.maxQueued || !this.shares.admits(namespace, 1, 0)) {
      this.opts.lost(target, this.queued >= this.opts.maxQueued ? 'queue_full' : 'namespace_share');
      return false;
    }
    this.queued++;
    this.shares.add(namespace, 1, 0);
    return true;
  }

  /** A record counted in by take() is lost before it was written. */
  private untake(target: T, namespace: string, reason: DropReason): void {
    this.queued--;
    this.shares.remove(namespace, 1, 0);
    this.opts.lost(target, reason);
  }

  private schedule(): void {
    if (this.pendingTargets.length + this.later.length >= this.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs).unref();
  }

  /** The records taken with submitLater, their parts built and written now, in order. */
  private writeLater(): void {
    const later = this.later;
    if (later.length === 0) return;
    this.later = [];
    for (const { target, key, namespace, make } of later) {
      let parts: RecordParts;
      try {
        parts = make();
      } catch {
        this.untake(target, namespace, 'record_error');
        continue;
      }
      this.write(target, key, namespace, parts);
    }
  }

  /** A counted record's parts into the pending buffer (or dropped, past the bytes bound or the share of the namespace it is counted in, `share`). */
  private write(target: T, key: number, share: string, parts: RecordParts): void {
    // UTF-16 units: at most the UTF-8 bytes the parts take, so the bound holds to within 3×.
    const units = parts.metadata.length + parts.contentHead.length + parts.request.length + parts.response.length + parts.namespace.length + parts.time.length;
    if (this.queuedBytes + units > this.maxQueuedBytes) return this.untake(target, share, 'queue_full');
    if (!this.shares.admits(share, 0, units)) return this.untake(target, share, 'namespace_share');
    const before = this.pendingUsed;
    const { metadata, contentHead, request, response, namespace, time } = parts;
    // Room for 3 bytes a unit (their most), with no byte count first; a record of a long prompt is
    // counted, so that a 10 MiB prompt does not make a 30 MiB buffer.
    this.reserve(units > COUNTED_FROM ? Buffer.byteLength(metadata) + Buffer.byteLength(contentHead) + Buffer.byteLength(request) + Buffer.byteLength(response) + Buffer.byteLength(namespace) + Buffer.byteLength(time) : units * 3);
    // One write of the six parts: each Buffer write is a call into native code. A record all
    // ASCII (UTF-8 bytes = UTF-16 units, as nearly every one is) has its parts' ends from their
    // lengths; any other is written again part by part, over the same bytes.
    const written = this.pending!.write(metadata + contentHead + request + response + namespace + time, before);
    if (written === units) {
      const ends = this.pendingEnds;
      let end = before + metadata.length;
      ends.push(end);
      ends.push((end += contentHead.length));
      ends.push((end += request.length));
      ends.push((end += response.length));
      ends.push((end += namespace.length));
      ends.push(end + time.length);
      this.pendingUsed = before + written;
    } else {
      this.append(metadata);
      this.append(contentHead);
      this.append(request);
      this.append(response);
      this.append(namespace);
      this.append(time);
    }
    this.queuedBytes += this.pendingUsed - before;
    this.shares.add(share, 0, this.pendingUsed - before);
    this.pendingTargets.push(target);
    this.pendingKeys.push(key);
    this.pendingNamespaces.push(share);
  }

  /** Room in the pending buffer for `bytes` more bytes. */
  private reserve(bytes: number): void {
    const most = this.pendingUsed + bytes;
    const buffer = this.pending;
    if (buffer !== undefined && most <= buffer.length) return;
    // Unpooled: its whole ArrayBuffer is transferred to the worker.
    const grown = Buffer.allocUnsafeSlow(Math.max(most, this.pendingSize, 2 * (buffer?.length ?? 0)));
    buffer?.copy(grown, 0, 0, this.pendingUsed);
    this.pending = grown;
  }

  private append(text: string): void {
    if (text !== '') this.pendingUsed += this.pending!.write(text, this.pendingUsed);
    this.pendingEnds.push(this.pendingUsed);
  }

  /**
   * Starts the worker now, if none runs (and none died too recently): a DataPolicy was applied, so
   * that the worker loads, and warms its policies' and destinations' code, before the first record.
   */
  start(): void {
    if (!this.closed) this.running();
  }

  /** Records handed over and not yet delivered or lost. */
  get backlog(): number {
    return this.queued;
  }

  /** The size of the buffer the next batch is being written into (tests: what a record of a long prompt makes it allocate). */
  get pendingCapacity(): number {
    return this.pending?.length ?? 0;
  }

  private flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.writeLater();
    if (this.pendingTargets.length === 0) return;
    const worker = this.running();
    if (worker === undefined) {
      this.timer = setTimeout(() => this.flush(), Math.max(1, this.downUntil - Date.now())).unref();
      return;
    }
    const id = this.nextBatch++;
    const ends = this.pendingEnds;
    const keys = this.pendingKeys;
    this.outstanding.set(id, { targets: this.pendingTargets, keys, namespaces: this.pendingNamespaces, ends, bytes: this.pendingUsed });
    const bytes = this.pending!.buffer as ArrayBuffer;
    this.pendingSize = Math.min(this.pending!.length, 1 << 20); // one huge record does not make every batch huge
    this.pending = undefined;
    this.pendingUsed = 0;
    this.pendingEnds = [];
    this.pendingTargets = [];
    this.pendingKeys = [];
    this.pendingNamespaces = [];
    worker.postMessage({ kind: 'batch', id, bytes, ends, keys } satisfies ToSerialiseWorker, [bytes]);
  }

  /** The worker, started if there is none and none died too recently. */
  private running(): Worker | undefined {
    if (this.worker !== undefined) return this.worker;
    if (Date.now() < this.downUntil) return undefined;
    let worker: Worker;
    try {
      worker = startWorker(this.opts.workerModule ?? defaultWorkerModule(), this.opts.maxHeapMb);
    } catch {
      this.downUntil = Date.now() + (this.opts.respawnDelayMs ?? 1_000);
      return undefined;
    }
    // The process exits when it is done: a drain takes it back (ref) while it waits.
    if (!this.closed) worker.unref();
    worker.on('message', (message: FromSerialiseWorker) => {
      if (this.worker !== worker) return;
      if (message.kind === 'batch') return this.received(message);
      this.report(message.events);
      if (message.kind === 'drained') this.drained?.();
    });
    worker.on('error', () => this.died(worker));
    worker.on('exit', () => this.died(worker));
    this.policies.forEach(({ policy }, key) => worker.postMessage({ kind: 'policy', key, policy, labels: this.keyLabels[key] } satisfies ToSerialiseWorker));
    if (this.destinations !== undefined) worker.postMessage(this.destinations);
    this.worker = worker;
    return worker;
  }

  private received(batch: SerialisedBatch): void {
    const handed = this.outstanding.get(batch.id);
    if (handed === undefined) return; // given up on by a drain, and counted then
    this.outstanding.delete(batch.id);
    const { targets, keys } = handed;
    const { places } = batch;
    this.release(handed);
    const bytes = Buffer.from(batch.bytes);
    const failed = batch.failed.length === 0 ? undefined : new Set(batch.failed);
    // Per policy key, the records the worker queued for its own destinations: held until it reports on them.
    const queued: number[] = [];
    let place = 0;
    targets.forEach((target, i) => {
      if (failed?.has(i) === true) this.opts.lost(target, 'record_error');
      else if (this.keyLabels[keys[i]!] !== undefined) queued[keys[i]!] = (queued[keys[i]!] ?? 0) + 1;
      else {
        // A record handed back: its lines start where the record before it ended.
        const at = i === 0 ? 0 : batch.ends[2 * i - 1]!;
        const metadataEnd = batch.ends[2 * i]!;
        const contentEnd = batch.ends[2 * i + 1]!;
        const record: SerialisedRecord = { policyId: places[place]!, namespace: places[place + 1]!, time: places[place + 2]!, metadata: bytes.subarray(at, metadataEnd) };
        place += 3;
        if (contentEnd > metadataEnd) record.content = bytes.subarray(metadataEnd, contentEnd);
        this.opts.deliver(target, record);
      }
    });
    queued.forEach((n, key) => {
      for (const label of this.keyLabels[key]!) this.held.set(label, (this.held.get(label) ?? 0) + n);
    });
    // After the batch's records are counted as held: its events include the drops of their offers.
    this.report(batch.events);
    this.dropForgottenLabels();
    this.wake?.();
  }

  /** A batch that came back, or is lost, no longer counts against the bounds and its namespaces' shares. */
  private release(handed: { targets: T[]; namespaces: string[]; ends: number[]; bytes: number }): void {
    this.queued -= handed.targets.length;
    this.queuedBytes -= handed.bytes;
    const { namespaces, ends } = handed;
    for (let i = 0; i < namespaces.length; i++) this.shares.remove(namespaces[i]!, 1, ends[6 * i + 5]! - (i === 0 ? 0 : ends[6 * i - 1]!));
  }

  /** What the worker's destination queues reported, into the metrics; written or dropped records are no longer held. */
  private report(events: readonly CaptureEvent[]): void {
    for (const event of events) {
      if (event[0] === 'ready') {
        this.metrics.ready(event[1], event[2]);
        continue;
      }
      // A destination that holds nothing has no entry: kept at zero, every destination ever written stayed.
      const left = (this.held.get(event[1]) ?? 0) - event[2];
      if (left === 0) this.held.delete(event[1]);
      else this.held.set(event[1], left);
      if (event[0] === 'exported') this.metrics.exported(event[1], event[2]);
      else this.metrics.dropped(event[3], event[1], event[2]);
    }
  }

  /** Records the worker's queues held and never reported on: lost, counted as `reason`. */
  private dropHeld(reason: DropReason): void {
    for (const [label, n] of this.held) if (n > 0) this.metrics.dropped(reason, label, n);
    this.held.clear();
  }

  /** The worker crashed or exited: what it held is lost (counted), and the next one starts later. */
  private died(worker: Worker): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.downUntil = Date.now() + (this.opts.respawnDelayMs ?? 1_000);
    for (const handed of this.outstanding.values()) {
      for (const target of handed.targets) this.opts.lost(target, 'record_error');
      this.release(handed);
    }
    this.outstanding.clear();
    this.dropForgottenLabels();
    this.dropHeld('record_error');
    if (this.pendingTargets.length + this.later.length > 0) this.flush();
    this.wake?.();
    this.drained?.();
  }

  /** SIGTERM: serialises and delivers what was handed over until `deadline` (epoch ms); the rest is counted as shutdown. */
  async drain(deadline: number): Promise<void> {
    this.closed = true;
    this.downUntil = 0;
    this.flush();
    this.worker?.ref();
    while (this.queued > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.max(1, Math.min(deadline - Date.now(), this.flushIntervalMs))).unref();
      });
      this.wake = undefined;
      if (this.pendingTargets.length + this.later.length > 0 && this.timer === undefined) this.flush();
    }
    // The worker's destination queues write what they hold, in what is left.
    const worker = this.worker;
    if (worker !== undefined && [...this.held.values()].some((n) => n > 0) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        setTimeout(resolve, Math.max(1, deadline - Date.now())).unref();
        // A little before ours, so that its last reports arrive before we stop listening.
        worker.postMessage({ kind: 'drain', deadline: deadline - Math.min(100, (deadline - Date.now()) / 10) } satisfies ToSerialiseWorker);
      });
      this.drained = undefined;
    }
    this.dropHeld('shutdown');
    for (const target of this.pendingTargets) this.opts.lost(target, 'shutdown');
    for (const { target } of this.later) this.opts.lost(target, 'shutdown');
    this.later = [];
    for (const { targets } of this.outstanding.values()) for (const target of targets) this.opts.lost(target, 'shutdown');
    this.pending = undefined;
    this.pendingUsed = 0;
    this.pendingEnds = [];
    this.pendingTargets = [];
    this.pendingKeys = [];
    this.pendingNamespaces = [];
    this.outstanding.clear();
    this.queued = 0;
    this.queuedBytes = 0;
    this.shares.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.worker = undefined;
    await worker?.terminate();
  }
}

/** Policies kept after no snapshot has them (retainOnly): for requests still served on an older snapshot. */
const MAX_RETIRED = 64;

/** Records longer than this (UTF-16 units) are byte-counted before they are written (write). */
const COUNTED_FROM = 64 * 1024;

/** serialise-worker next to this module: .js when built, .ts when run from source (tests). */
const defaultWorkerModule = (): URL => new URL(`./serialise-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/** A TypeScript module (source checkout) runs through tsx, which a worker has to register itself. */
function startWorker(module: URL, maxHeapMb: number | undefined): Worker {
  const resourceLimits = maxHeapMb === undefined ? {} : { maxOldGenerationSizeMb: maxHeapMb };
  if (!module.pathname.endsWith('.ts')) return new Worker(module, { resourceLimits });
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); })`, { eval: true, resourceLimits });
}
