// One deadline for the whole of a data plane's shutdown, so that the chart can give the pod a grace
// period the process never outlives (charts/tollgate/templates/_helpers.tpl, tollgate.dataplaneGracePeriod).

/**
 * Time for usage reports after the drain timeout: what the pod metered must reach the operator
 * before it goes, and an operator leader failing over answers within about this long. The chart's
 * grace period includes it (`usageReportAllowance` there); change both together.
 */
export const USAGE_REPORT_ALLOWANCE_MS = 10_000;

/**
 * How long usage reports may still take, at `now`, in a drain that started at `drainStartedAt`:
 * what is left of the drain timeout plus the reporting allowance, never more. Waiting a fresh
 * drain timeout here (as before) let an idle keep-alive connection and an operator that does not
 * acknowledge keep the pod past its grace period, and the kubelet killed it mid-report.
 */
export function usageReportBudgetMs(drainStartedAt: number, drainTimeoutMs: number, now: number): number {
  return Math.max(0, drainStartedAt + drainTimeoutMs + USAGE_REPORT_ALLOWANCE_MS - now);
}

/**
 * The whole of a shutdown, from the signal: the drain timeout and the reporting allowance. Spans
 * still buffered are exported in what is left of it (launch.ts thenFlush), never after.
 */
export function shutdownDeadlineMs(drainTimeoutMs: number): number {
  return drainTimeoutMs + USAGE_REPORT_ALLOWANCE_MS;
}
