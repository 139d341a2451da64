import type { Registry } from 'prom-client';
import { registerCountsByLabel } from './counts-counter.js';

/** Spans that never reached the collector, by why (counted since start). */
export interface SpanDrops {
  /** Ended while the export queue held its most (2,048 spans). */
  queue_full: number;
  /** In a batch the collector refused or never answered (after the exporter's retries). */
  export_failed: number;
  /** Still queued or being exported when the shutdown deadline came. */
  shutdown: number;
}

/** A tracer that counts the spans it dropped (the data plane's LeanTracer). */
export interface SpanDropSource {
  spanDrops(): SpanDrops;
}

/** Known by its method, not by its class: importing lean-tracer.ts here would load the SDK's samplers with tracing off. */
function countsDrops(tracer: object): tracer is SpanDropSource {
  return typeof (tracer as Partial<SpanDropSource>).spanDrops === 'function';
}

/** tollgate_spans_dropped_total{reason}: spans the data plane's tracer dropped (nothing without such a tracer). */
export function registerSpanDrops(registry: Registry, tracer: object): void {
  if (!countsDrops(tracer)) return;
  registerCountsByLabel(
    registry,
    {
      name: 'tollgate_spans_dropped_total',
      help: 'Spans not exported: reason="queue_full" (the export queue was full), "export_failed" (the collector refused or did not answer), "shutdown" (still queued at the shutdown deadline).',
      label: 'reason',
    },
    () => ({ ...tracer.spanDrops() }),
  );
}
