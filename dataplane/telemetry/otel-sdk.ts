import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { hostDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { SyncContextManager } from './sync-context-manager.js';
import type { SamplerName, TracingConfig } from './tracing-config.js';

/** A started OpenTelemetry SDK exporting traces over OTLP/HTTP (protobuf). */
export interface Tracing {
  tracer: Tracer;
  /** Exports the spans ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and unregisters the SDK's globals. */
  shutdown(): Promise<void>;
}

function sampler(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

export interface TracingOptions {
  /**
   * Carry the active span across `await`s (AsyncLocalStorage): the operator needs it (a push span is
   * the child of the reconcile that scheduled it); the data plane passes parents explicitly and
   * runs without, since async hooks cost something on every promise. Default true.
   */
  asyncContext?: boolean;
}

/**
 * Starts @opentelemetry/sdk-node with traces only (no metrics or logs exporters, no
 * auto-instrumentation: Tollgate creates its own GenAI spans). Call only when a TracingConfig was
 * parsed, i.e. an endpoint is configured; without one nothing is started and nothing is traced.
 */
export function startTracing(config: TracingConfig, opts: TracingOptions = {}): Tracing {
  const exporter = new OTLPTraceExporter({ url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs });
  const processor = new BatchSpanProcessor(exporter);
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    resource: resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName, 'service.version': config.serviceVersion }),
    // OTEL_* variables were parsed into `config`; the env detector would read them a second time.
    resourceDetectors: [hostDetector, processDetector],
    sampler: sampler(config.sampler, config.samplerRatio),
    spanProcessors: [processor],
    textMapPropagator: new W3CTraceContextPropagator(),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    ...(opts.asyncContext === false ? { contextManager: new SyncContextManager() } : {}),
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
