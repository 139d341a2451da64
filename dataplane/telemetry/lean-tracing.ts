import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { detectResources, hostDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { LeanTracer, type LeanSpan, type SpanSink } from './lean-tracer.js';
import { clockOf, OtlpSpanEncoder } from './otlp-span-encoder.js';
import type { TracingConfig } from './tracing-config.js';
import { samplerFor, type Tracing } from './tracing.js';

/** The SDK BatchSpanProcessor's defaults. */
const MAX_QUEUE = 2048;
const MAX_BATCH = 512;
const DELAY_MS = 5000;
const EXPORT_TIMEOUT_MS = 30_000;

/**
 * Ended spans, exported in batches as the SDK's BatchSpanProcessor does (a batch when 512 are
 * queued or 5 s after the first, one export at a time, at most 2,048 queued; more are dropped).
 */
class SpanBatcher implements SpanSink {
  private queue: LeanSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private exporting: Promise<void> | undefined;
  private dropped = 0;

  constructor(private readonly exportBatch: (spans: LeanSpan[]) => Promise<void>) {}

  ended(span: LeanSpan): void {
    if (this.queue.length >= MAX_QUEUE) {
      if (this.dropped++ === 0) diag.debug('maxQueueSize reached, dropping spans');
      return;
    }
    this.queue.push(span);
    this.schedule();
  }

  private schedule(): void {
    if (this.exporting !== undefined) return;
    if (this.queue.length >= MAX_BATCH) {
      this.exportNext();
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.exportNext(), DELAY_MS);
    this.timer.unref();
  }

  private exportNext(): void {
    this.clearTimer();
    if (this.queue.length === 0) return;
    const batch = this.queue.length <= MAX_BATCH ? this.queue : this.queue.splice(0, MAX_BATCH);
    if (batch === this.queue) this.queue = [];
    if (this.dropped > 0) {
      diag.warn(`Dropped ${this.dropped} spans because maxQueueSize reached`);
      this.dropped = 0;
    }
    this.exporting = this.exportBatch(batch)
      .catch((err: unknown) => diag.error('span export failed', err))
      .finally(() => {
        this.exporting = undefined;
        if (this.queue.length > 0) this.schedule();
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
    while (this.exporting !== undefined || this.queue.length > 0) {
      if (this.exporting === undefined) this.exportNext();
      await this.exporting;
    }
  }
}

/**
 * The data plane's tracing: LeanTracer spans (lean-tracer.ts) encoded by OtlpSpanEncoder and sent by
 * the OpenTelemetry exporter's own OTLP/HTTP transport (headers, timeout, retries, compression and
 * TLS settings from OTEL_EXPORTER_OTLP_*, as with the SDK). Same sampler, same Resource, same
 * protobuf as the SDK would produce, at a fraction of its cost per span. No context manager or
 * propagator is installed globally: the data plane passes every parent explicitly.
 */
export function startLeanTracing(config: TracingConfig): Tracing {
  const resource = resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName, 'service.version': config.serviceVersion })
    .merge(detectResources({ detectors: [hostDetector, processDetector] }))
    .merge(resourceFromAttributes({ 'service.name': config.serviceName }));
  const clock = clockOf(performance.timeOrigin);
  let encoder: OtlpSpanEncoder | undefined;
  const serializer = {
    serializeRequest: (spans: LeanSpan[]): Uint8Array => {
      encoder ??= new OtlpSpanEncoder({ resource: resource.attributes, scopeName: 'tollgate', scopeVersion: config.serviceVersion }, clock);
      return encoder.encode(spans);
    },
    deserializeResponse: ProtobufTraceSerializer.deserializeResponse,
  };
  const exporter = new OTLPExporterBase<LeanSpan[]>(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({ url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
      serializer,
      'otlp_http_span_exporter',
      { name: 'span', countItems: (spans) => spans.length },
      undefined,
    ),
  );
  const send = async (spans: LeanSpan[]): Promise<void> => {
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
  const batcher = new SpanBatcher(send);
  const tracer = new LeanTracer(samplerFor(config.sampler, config.samplerRatio), batcher);
  return {
    tracer,
    flush: () => batcher.flush(),
    async shutdown() {
      await batcher.flush();
      await exporter.shutdown();
    },
  };
}
