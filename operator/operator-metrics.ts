import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The operator's Prometheus metrics. Labels are bounded: no object names. */
export function createOperatorMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  // Memory, event-loop lag and GC of the operator process, as the data plane has them.
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    reconciles: new Counter({ name: 'tollgate_operator_reconciles_total', help: 'Reconcile runs (each compiles every object).', registers: [registry] }),
    reconcileErrors: new Counter({ name: 'tollgate_operator_reconcile_errors_total', help: 'Reconcile runs that failed.', registers: [registry] }),
    snapshotGeneration: new Gauge({ name: 'tollgate_operator_snapshot_generation', help: 'Generation of the latest published snapshot.', registers: [registry] }),
    snapshotBytes: new Gauge({ name: 'tollgate_operator_snapshot_bytes', help: 'Size of the latest published snapshot.', registers: [registry] }),
    pushSeconds: new Histogram({
      name: 'tollgate_operator_push_duration_seconds',
      help: 'Time to push a snapshot to one data-plane pod.',
      // Up to the push timeout (10 s).
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers: [registry],
    }),
    pushRefused: new Counter({
      name: 'tollgate_operator_push_refused_total',
      help: 'Snapshot pushes a data-plane pod refused, by reason: stale (it serves a newer generation of our term), stale_term (it serves a newer leader term: this replica was deposed), invalid (400).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    pushFailed: new Counter({
      name: 'tollgate_operator_push_failures_total',
      help: 'Snapshot pushes that got no usable answer from a data-plane pod, by reason: unauthorized (401/403: the admin token differs on one side; does not heal by itself), server_error (another status), bad_answer, timeout, unreachable.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    dataplanes: new Gauge({ name: 'tollgate_operator_dataplanes', help: 'Data-plane pods by state.', labelNames: ['state'], registers: [registry] }),
    usageRejected: new Counter({
      name: 'tollgate_operator_usage_records_rejected_total',
      help: 'Usage records from data-plane pods that could not be counted (e.g. negative tokens) and were dropped.',
      registers: [registry],
    }),
    usageRefused: new Counter({
      name: 'tollgate_operator_usage_reports_refused_total',
      help: 'Usage reports refused (403) because they name a data-plane pod they do not come from: another pod\'s name from a pod\'s address, or a pod that reports from its own address named from elsewhere. The sender keeps its records.',
      registers: [registry],
    }),
    usageLate: new Counter({
      name: 'tollgate_operator_usage_records_late_total',
      help: 'Usage records stamped before their Budget\'s current calendar period: counted in it (within 5 min: clock skew, a report across the rollover) or dropped (older).',
      labelNames: ['result'],
      registers: [registry],
    }),
    usageReportWrites: new Counter({
      name: 'tollgate_operator_usage_report_writes_total',
      help: 'UsageReport status writes (batched: at most one per report per flush interval).',
      labelNames: ['result'],
      registers: [registry],
    }),
    retentionDeletedObjects: new Counter({
      name: 'tollgate_operator_retention_deleted_objects_total',
      help: 'Captured-record objects the DataPolicy retention sweep deleted, by stream (content, metadata).',
      labelNames: ['stream'],
      registers: [registry],
    }),
    retentionDeletedBytes: new Counter({
      name: 'tollgate_operator_retention_deleted_bytes_total',
      help: 'Bytes of captured-record objects the DataPolicy retention sweep deleted, by stream.',
      labelNames: ['stream'],
      registers: [registry],
    }),
    retentionSweeps: new Counter({
      name: 'tollgate_operator_retention_sweeps_total',
      help: 'DataPolicy retention sweeps by result: complete, partial (stopped at the per-pass limit; continued next), failed (a bucket refused).',
      labelNames: ['result'],
      registers: [registry],
    }),
    leader: new Gauge({ name: 'tollgate_operator_leader', help: '1 while this replica is the leader.', registers: [registry] }),
  };
}
export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
