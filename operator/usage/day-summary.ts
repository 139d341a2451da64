import type { UsageReportStatus, UsageStats } from '../api/usage-report.js';
import { type PackedStats, packStats } from '../console/web/usage-numbers.js';
import { addStats, emptyStats } from './usage-day.js';

// The console and `tollgate spend` list only the reports' metadata (PartialObjectMetadataList)
// where the summaries suffice, so a month of 50 namespaces is a few megabytes instead of the full
// reports' hourly breakdowns, and the viewer's RBAC on usagereports applies unchanged. They read
// the annotation back with summaryReport (web/usage-numbers.ts).
export { DAY_SUMMARY_ANNOTATION } from '../console/web/usage-numbers.js';

/**
 * The JSON in a UsageReport's DAY_SUMMARY_ANNOTATION: the day summed over its hours, in a few
 * kilobytes: requests by outcome, tokens, cost, latency and TTFT histograms, and the breakdowns by
 * provider, route, model and caller. Summing the hours loses nothing a view shows: a report keeps
 * the same keys by name in every hour (the day's top ones, the rest under "(other)"), so the
 * summary has at most 11 providers, 11 routes, 11 models and 26 callers. `v` is its format (1: no
 * route, model or caller breakdowns, stats as objects); stats are packed (packStats).
 */
export interface DaySummary {
  v: 2;
  date: string;
  updatedAt: string;
  totals: PackedStats;
  histogramBoundsMs: number[];
  latencyMs: number[];
  ttftMs: number[];
  byProvider: Record<string, PackedStats>;
  byRoute: Record<string, PackedStats>;
  byModel: Record<string, PackedStats>;
  byCaller: Record<string, PackedStats>;
}

function addInto(into: number[], from: readonly number[]): void {
  from.forEach((n, i) => (into[i] = (into[i] ?? 0) + n));
}

type Dimension = 'byProvider' | 'byRoute' | 'byModel' | 'byCaller';

/** A report's status summed over its hours. */
export function daySummary(status: UsageReportStatus): DaySummary {
  const latencyMs: number[] = [];
  const ttftMs: number[] = [];
  // Maps: a key is a name a tenant chose, and `into["__proto__"]` on a plain object is Object.prototype.
  const dims: Record<Dimension, Map<string, UsageStats>> = { byProvider: new Map(), byRoute: new Map(), byModel: new Map(), byCaller: new Map() };
  for (const hour of status.hours) {
    addInto(latencyMs, hour.latencyMs);
    addInto(ttftMs, hour.ttftMs);
    for (const [dim, into] of Object.entries(dims) as [Dimension, Map<string, UsageStats>][]) {
      for (const [key, s] of Object.entries(hour[dim])) {
        let sum = into.get(key);
        if (sum === undefined) into.set(key, (sum = emptyStats()));
        addStats(sum, s);
      }
    }
  }
  const packed = (b: Map<string, UsageStats>): Record<string, PackedStats> => Object.fromEntries([...b].map(([k, s]) => [k, packStats(s)]));
  return {
    v: 2,
    date: status.date,
    updatedAt: status.updatedAt,
    totals: packStats(status.totals),
    histogramBoundsMs: status.histogramBoundsMs,
    latencyMs,
    ttftMs,
    byProvider: packed(dims.byProvider),
    byRoute: packed(dims.byRoute),
    byModel: packed(dims.byModel),
    byCaller: packed(dims.byCaller),
  };
}
