import { Gauge, type Registry } from 'prom-client';
import { registerCountsByLabel } from './counts-counter.js';

export interface UsageBacklog {
  records: number;
  usd: number;
  oldestAt: number | undefined;
}

/**
 * The window in which Budget.status lags this pod's spend (reported budgets): records metered but
 * not yet acknowledged by the operator. A pod killed without SIGTERM loses what these show.
 */
export function registerUsageBacklog(registry: Registry, backlog: () => UsageBacklog, now: () => number = Date.now): void {
  const registers = [registry];
  new Gauge({
    name: 'tollgate_usage_reports_pending',
    help: 'Metered requests whose usage the operator has not acknowledged yet (not in Budget.status).',
    registers,
    collect() {
      this.set(backlog().records);
    },
  });
  new Gauge({
    name: 'tollgate_usage_reports_pending_usd',
    help: 'Cost (USD) of the metered requests not yet in Budget.status.',
    registers,
    collect() {
      this.set(backlog().usd);
    },
  });
  new Gauge({
    name: 'tollgate_usage_reports_oldest_pending_seconds',
    help: 'Age of the oldest metered request not yet in Budget.status (0 when none).',
    registers,
    collect() {
      const oldest = backlog().oldestAt;
      this.set(oldest === undefined ? 0 : Math.max(0, (now() - oldest) / 1000));
    },
  });
}

/**
 * Pending budget records merged because the operator did not acknowledge them for long (the pod's
 * memory stays bounded, governance.md "Usage reports"). budgets="different" is the hard bound: each
 * Budget named by such a merged record was charged its whole sum, an over-count worth an alert.
 */
export function registerUsageRecordsMerged(registry: Registry, merged: () => { sameBudgets: number; acrossBudgets: number }): void {
  registerCountsByLabel(
    registry,
    {
      name: 'tollgate_usage_records_merged_total',
      help: 'Unacknowledged budget usage records merged to bound memory: budgets="same" into one naming the same Budgets, budgets="different" into one naming other Budgets too (the hard bound: over-counts).',
      label: 'budgets',
    },
    () => {
      const m = merged();
      return { same: m.sameBudgets, different: m.acrossBudgets };
    },
  );
}

/**
 * Usage reports that got no answer, by reason. `unauthorized` (401/403: the admin token rotated on
 * one side only) and `tls` (the channel CA rotated on one side only) do not heal by themselves: the
 * pod's spend stays out of Budget.status, and leaves with the pod when it stops.
 */
export function registerUsageReportFailures(registry: Registry, failures: () => Readonly<Record<'unauthorized' | 'tls' | 'refused' | 'unreachable', number>>): void {
  registerCountsByLabel(
    registry,
    {
      name: 'tollgate_usage_reports_failed_total',
      help: 'Usage reports to the operator that got no answer: reason="unauthorized" (token refused), "tls" (certificate not trusted), "refused" (another non-200 answer, e.g. 503 from a standby), "unreachable".',
      label: 'reason',
    },
    failures,
  );
}
