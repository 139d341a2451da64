import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
// The response parser's own file: the package's index loads every serializer (logs, metrics, JSON),
// ~1.1 MiB of heap a data plane would keep for good to read an export's partial-success reply.
import { deserializeExportTraceServiceResponse } from '@opentelemetry/otlp-transformer/build/src/trace/protobuf/response-deserializer.js';
import { detectResources, hostDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { LeanTracer, type LeanSpan, type SpanSink } from './lean-tracer.js';
import { type Clock, clockOf, EncodedSpans, OtlpSpanEncoder } from './otlp-span-encoder.js';
import type { TracingConfig } from './tracing-config.js';
import { samplerFor, type Tracing } from './tracing.js';
import type { SpanDrops } from './span-drop-metrics.js';

/** The SDK BatchSpanProcessor's defaults. */
const MAX_QUEUE = 2048;
const MAX_BATCH = 512;
const DELAY_MS = 5000;
const EXPORT_TIMEOUT_MS = 30_000;

/** Emptied batches kept for the next ones (their buffers grow to a full batch's size once). */
const SPARE_BATCHES = 2;

/** Says why spans were dropped (throttled: a collector down fails every batch). */
export type DropWarning = (detail: string, reason: keyof SpanDrops) => void;

/**
 * Ended spans, exported in batches as the SDK's BatchSpanProcessor does (a batch when 512 are
 * queued or 5 s after the first, one export at a time, at most 2,048 queued; more are dropped).
 * Each span is encoded when it ends (EncodedSpans): the queue holds bytes, not span objects.
 * Spans dropped are counted by why (tollgate_spans_dropped_total) and said in the log: before,
 * they went to the OpenTelemetry diag logger, which the data plane does not install.
 */
export class SpanBatcher implements SpanSink {
  /** Full batches waiting, oldest first. */
  private readonly full: EncodedSpans[] = [];
  /** The batch spans are added to. */
  private open: EncodedSpans | undefined;
  private readonly spare: EncodedSpans[] = [];
  /** Spans queued (in `full` and `open`), not counting the batch being exported. */
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private exporting: Promise<void> | undefined;
  /** Spans in the batch being exported. */
  private inFlight = 0;
  /** The shutdown deadline passed: nothing more is exported, and what ends is dropped. */
  private abandoned = false;
  private readonly dropped: SpanDrops = { queue_full: 0, export_failed: 0, shutdown: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly exportBatch: (spans: EncodedSpans) => Promise<void>,
    private readonly warn: DropWarning = () => undefined,
  ) {}

  drops(): SpanDrops {
    return this.dropped;
  }

  ended(span: LeanSpan): void {
    if (this.abandoned) {
      this.dropped.shutdown++;
      return;
    }
    if (this.queued >= MAX_QUEUE) {
      this.dropped.queue_full++;
      this.warn(`the export queue holds ${MAX_QUEUE} spans; spans that end while it is full are dropped`, 'queue_full');
      return;
    }
    const open = (this.open ??= this.spare.pop() ?? new EncodedSpans(this.clock));
    try {
      open.add(span);
    } catch (err) {
      diag.error('span could not be encoded', err);
      return;
    }
    this.queued++;
    if (open.count >= MAX_BATCH) {
      this.full.push(open);
      this.open = undefined;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.exporting !== undefined || this.abandoned) return;
    if (this.full.length > 0) {
      this.exportNext();
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.exportNext(), DELAY_MS);
    this.timer.unref();
  }

  private exportNext(): void {
    this.clearTimer();
    const batch = this.full.shift() ?? this.open;
    if (batch === undefined || batch.count === 0) return;
    if (batch === this.open) this.open = undefined;
    this.queued -= batch.count;
    this.inFlight = batch.count;
    this.exporting = this.exportBatch(batch)
      .catch((err: unknown) => {
        // Spans of an export the shutdown gave up on are counted there.
        if (this.abandoned) return;
        this.dropped.export_failed += batch.count;
        this.warn(err instanceof Error ? err.message : String(err), 'export_failed');
      })
      .finally(() => {
        this.exporting = undefined;
        this.inFlight = 0;
        batch.reset();
        if (this.spare.length < SPARE_BATCHES) this.spare.push(batch);
        if (this.queued > 0) this.schedule();
      });
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Exports everything queued (after the export under way). */
  async flush(): Promise<void> {
    this.clearTimer();
    while (!this.abandoned && (this.exporting !== undefined || this.queued > 0)) {
      if (this.exporting === undefined) this.exportNext();
      await this.exporting;
    }
  }

  /**
   * Exports what is queued within `timeoutMs`, else drops the rest (counted as `shutdown`) and
   * exports nothing more: true when everything went out. Before, each queued batch was exported in
   * turn, each up to the export timeout, and a collector that never answered held a drained pod up
   * to 30 s past its shutdown deadline, until the kubelet killed it.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
    });
    const flushed = await Promise.race([this.flush().then(() => true as const), expired]);
    clearTimeout(timer);
    if (flushed) return true;
    this.abandoned = true;
    this.clearTimer();
    const lost = this.queued + this.inFlight;
    this.dropped.shutdown += lost;
    this.queued = 0;
    this.full.length = 0;
    this.open = undefined;
    if (lost > 0) this.warn(`${lost} spans were not exported by the shutdown deadline (${timeoutMs} ms left for them)`, 'shutdown');
    return false;
  }
}

/**
 * The data plane's tracing: LeanTracer spans (lean-tracer.ts) encoded by OtlpSpanEncoder and sent by
 * the OpenTelemetry exporter's own OTLP/HTTP transport (headers, timeout, retries, compression and
 * TLS settings from OTEL_EXPORTER_OTLP_*, as with the SDK). Same sampler, same Resource, same
 * protobuf as the SDK would produce, at a fraction of its cost per span. No context manager or
 * propagator is installed globally: the data plane passes every parent explicitly.
 */
export function startLeanTracing(config: TracingConfig, warn?: DropWarning): Tracing {
  const resource = resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName, 'service.version': config.serviceVersion })
    .merge(detectResources({ detectors: [hostDetector, processDetector] }))
    .merge(resourceFromAttributes({ 'service.name': config.serviceName }));
  const clock = clockOf(performance.timeOrigin);
  let encoder: OtlpSpanEncoder | undefined;
  const serializer = {
    serializeRequest: (spans: EncodedSpans): Uint8Array => {
      encoder ??= new OtlpSpanEncoder({ resource: resource.attributes, scopeName: 'tollgate', scopeVersion: config.serviceVersion }, clock);
      return encoder.frame(spans);
    },
    deserializeResponse: deserializeExportTraceServiceResponse,
  };
  const exporter = new OTLPExporterBase<EncodedSpans>(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({ url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
      serializer,
      'otlp_http_span_exporter',
      { name: 'span', countItems: (spans) => spans.count },
      undefined,
    ),
  );
  const send = async (spans: EncodedSpans): Promise<void> => {
    // The host id is read asynchronously; the first export waits for it, as the SDK's does.
    if (resource.asyncAttributesPending === true) await resource.waitForAsyncAttributes?.();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Timeout')), EXPORT_TIMEOUT_MS);
      exporter.export(spans, (result: ExportResult) => {
        clearTimeout(timer);
        if (result.code === ExportResultCode.SUCCESS) resolve();
        else reject(result.error ?? new Error('span export failed'));
      });
    });
  };
  const batcher = new SpanBatcher(clock, send, warn);
  const tracer = new LeanTracer(samplerFor(config.sampler, config.samplerRatio), batcher, config.attributeValueLengthLimit);
  return {
    tracer,
    flush: () => batcher.flush(),
    async shutdown(timeoutMs = EXPORT_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      // An export given up on would hold the exporter's shutdown until its own timeout.
      if (!(await batcher.drain(timeoutMs))) return;
      await withinMs(exporter.shutdown(), deadline - Date.now());
    },
  };
}

/** `work`, or nothing once `ms` have passed (what it still does is not waited for). */
async function withinMs(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
  clearTimeout(timer);
}
