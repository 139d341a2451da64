import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { hostDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TracingConfig } from './tracing-config.js';
import { samplerFor, type Tracing } from './tracing.js';

export type { Tracing } from './tracing.js';

/**
 * Starts @opentelemetry/sdk-node with traces only (no metrics or logs exporters, no
 * auto-instrumentation), carrying the active span across `await`s: the operator's tracing (a push
 * span is the child of the reconcile that scheduled it). The data plane passes every parent
 * explicitly and records its spans with its own lean tracer (lean-tracing.ts). Call only when a
 * TracingConfig was parsed, i.e. an endpoint is configured.
 */
export function startTracing(config: TracingConfig): Tracing {
  const exporter = new OTLPTraceExporter({ url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs });
  const processor = new BatchSpanProcessor(exporter);
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    resource: resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName, 'service.version': config.serviceVersion }),
    // OTEL_* variables were parsed into `config`; the env detector would read them a second time.
    resourceDetectors: [hostDetector, processDetector],
    sampler: samplerFor(config.sampler, config.samplerRatio),
    // The bound the data plane's tracer keeps too (tracing-config.ts), not the SDK's default of none.
    spanLimits: { attributeValueLengthLimit: config.attributeValueLengthLimit },
    spanProcessors: [processor],
    textMapPropagator: new W3CTraceContextPropagator(),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  return {
    tracer: trace.getTracer('tollgate', config.serviceVersion),
    flush: () => processor.forceFlush(),
    async shutdown() {
      await sdk.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
