import type { UsageReportStatus, UsageStats } from '../api/usage-report.js';
import { addStats, emptyStats } from './usage-day.js';

// The console lists only the reports' metadata (PartialObjectMetadataList) for its overview, so a
// month of 50 namespaces is a few megabytes instead of the full reports' hourly breakdowns, and the
// viewer's RBAC on usagereports applies unchanged. The console reads the annotation back with
// summaryReport (web/usage-numbers.ts).
export { DAY_SUMMARY_ANNOTATION } from '../console/web/usage-numbers.js';

/**
 * The JSON in a UsageReport's DAY_SUMMARY_ANNOTATION: what the console's overview needs (requests
 * by outcome, tokens, cost, latency and TTFT histograms, provider mix) in a few kilobytes. `v` is
 * its format; the console reads the full report for any other.
 */
export interface DaySummary {
  v: 1;
  date: string;
  updatedAt: string;
  totals: UsageStats;
  histogramBoundsMs: number[];
  latencyMs: number[];
  ttftMs: number[];
  byProvider: Record<string, UsageStats>;
}

function addInto(into: number[], from: readonly number[]): void {
  from.forEach((n, i) => (into[i] = (into[i] ?? 0) + n));
}

/** A report's status summed over its hours; the route, model and caller breakdowns stay in the report only. */
export function daySummary(status: UsageReportStatus): DaySummary {
  const latencyMs: number[] = [];
  const ttftMs: number[] = [];
  const byProvider: Record<string, UsageStats> = {};
  for (const hour of status.hours) {
    addInto(latencyMs, hour.latencyMs);
    addInto(ttftMs, hour.ttftMs);
    for (const [key, s] of Object.entries(hour.byProvider)) addStats((byProvider[key] ??= emptyStats()), s);
  }
  return { v: 1, date: status.date, updatedAt: status.updatedAt, totals: status.totals, histogramBoundsMs: status.histogramBoundsMs, latencyMs, ttftMs, byProvider };
}
