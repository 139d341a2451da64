import type { Tracer } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, type Sampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { SamplerName } from './tracing-config.js';

/** Started trace export over OTLP/HTTP (protobuf): the SDK's (otel-sdk.ts) or the data plane's own (lean-tracing.ts). */
export interface Tracing {
  tracer: Tracer;
  /** Exports the spans ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and stops, within `timeoutMs` (what is not out by then is dropped). */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** The sampler OTEL_TRACES_SAMPLER names (the SDK's own implementations). */
export function samplerFor(name: SamplerName, ratio: number): Sampler {
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
