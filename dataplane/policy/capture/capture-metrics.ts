import { Counter, Gauge, type Registry } from 'prom-client';

/** Why a record never reached a destination. */
export type DropReason = 'queue_full' | 'namespace_share' | 'destination_error' | 'shutdown' | 'record_error';

/** What capture reports; the data plane's Prometheus registry implements it (createCaptureMetrics). */
export interface CaptureMetrics {
  exported(destination: string, records: number): void;
  dropped(reason: DropReason, destination: string, records: number): void;
  ready(destination: string, ready: boolean): void;
}

export const NO_CAPTURE_METRICS: CaptureMetrics = { exported: () => {}, dropped: () => {}, ready: () => {} };

/**
 * Label values are DataPolicy ids and destination names from configuration, never request data.
 * `series`: the metrics themselves, whose series of destinations no snapshot has any more the data
 * plane drops (telemetry's SeriesRetirement).
 */
export function createCaptureMetrics(registry: Registry): CaptureMetrics & { series: readonly (Counter<string> | Gauge<string>)[] } {
  const registers = [registry];
  const exported = new Counter({ name: 'tollgate_capture_records_total', help: 'Capture records written to a destination.', labelNames: ['destination'] as const, registers });
  const dropped = new Counter({
    name: 'tollgate_capture_dropped_total',
    help: 'Capture records dropped: queue_full (the bounded queue was full), namespace_share (the namespace of the record held half of a queue already), destination_error (the write failed), shutdown (still queued when the drain ended), record_error (the record could not be built, or the capture worker crashed holding it).',
    labelNames: ['reason', 'destination'] as const,
    registers,
  });
  const ready = new Gauge({ name: 'tollgate_capture_destination_ready', help: '1 when the last write to a capture destination succeeded, 0 when it failed.', labelNames: ['destination'] as const, registers });
  return {
    series: [exported, dropped, ready],
    exported: (destination, n) => exported.inc({ destination }, n),
    dropped: (reason, destination, n) => dropped.inc({ reason, destination }, n),
    ready: (destination, ok) => ready.set({ destination }, ok ? 1 : 0),
  };
}
