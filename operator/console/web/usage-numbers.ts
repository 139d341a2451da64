// The numbers the console and `tollgate spend` show, computed in one place from UsageReport objects
// so that the two cannot disagree. No DOM and no Node: the browser loads this file as
// /console/usage-numbers.js, the CLI imports it.

export type Outcomes = Partial<Record<string, number>>;

/** A UsageReport's stats (status.totals, each hour's totals and breakdown entries). */
export interface Stats {
  requests: number;
  outcomes: Outcomes;
  failovers: number;
  cacheHits: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  costUsd: number;
}
export type Breakdown = Record<string, Stats>;

export interface Hour {
  hour: number;
  totals: Stats;
  latencyMs: number[];
  ttftMs: number[];
  byRoute: Breakdown;
  byModel: Breakdown;
  byProvider: Breakdown;
  byCaller: Breakdown;
}

/** The parts of a UsageReport object the numbers are read from. */
export interface UsageReportObject {
  metadata: { name: string; namespace?: string };
  status?: { date: string; totals: Stats; errors: number; histogramBoundsMs: number[]; hours: Hour[] };
  /** Set when read from the report's day summary: the breakdowns it holds (see summaryReport). */
  fromSummary?: readonly Dimension[];
}

/**
 * The annotation the operator puts on every UsageReport: the day summed over its hours (totals,
 * latency and TTFT histograms, and since v2 every breakdown), a few kilobytes. The console and
 * `tollgate spend` read only these (a metadata-only list) where they suffice.
 */
export const DAY_SUMMARY_ANNOTATION = 'tollgate.dev/day-summary';

/** A UsageReport as a metadata-only list returns it. */
export interface ReportMetadata {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
}

export const OUTCOMES = ['ok', 'rate_limited', 'budget_rejected', 'guardrail_blocked', 'rejected', 'upstream_4xx', 'upstream_5xx', 'timeout', 'cancelled'] as const;
export const DIMENSIONS = { namespace: 'Namespace', route: 'Route', model: 'Model', provider: 'Provider', caller: 'Caller' } as const;
export type Dimension = keyof typeof DIMENSIONS;

export function isDimension(value: string): value is Dimension {
  return Object.hasOwn(DIMENSIONS, value);
}

/**
 * Stats as a day summary (v2) packs them: [requests, failovers, cacheHits, inputTokens,
 * outputTokens, cachedInputTokens, costUsd, then requests per outcome in OUTCOMES order, trailing
 * zeros left out]. A quarter of the size of the object form, which matters because every summary of
 * a month comes with the overview's one list.
 */
export type PackedStats = number[];
const PACKED_FIELDS = 7;

export function packStats(s: Stats): PackedStats {
  const outcomes = OUTCOMES.map((o) => s.outcomes[o] ?? 0);
  while (outcomes.at(-1) === 0) outcomes.pop();
  return [s.requests, s.failovers, s.cacheHits, s.inputTokens, s.outputTokens, s.cachedInputTokens, s.costUsd, ...outcomes];
}

/** The stats back (outcomes with no request are absent, as in the report), or undefined for anything else. */
export function unpackStats(x: unknown): Stats | undefined {
  if (!Array.isArray(x) || x.length < PACKED_FIELDS || x.length > PACKED_FIELDS + OUTCOMES.length || !x.every((n) => typeof n === 'number' && Number.isFinite(n))) return undefined;
  const n = x as number[];
  const outcomes: Outcomes = {};
  OUTCOMES.forEach((o, i) => {
    const v = n[PACKED_FIELDS + i] ?? 0;
    if (v !== 0) outcomes[o] = v;
  });
  const at = (i: number): number => n[i] ?? 0;
  return { requests: at(0), outcomes, failovers: at(1), cacheHits: at(2), inputTokens: at(3), outputTokens: at(4), cachedInputTokens: at(5), costUsd: at(6) };
}

function isStats(x: unknown): x is Stats {
  const s = x as Partial<Stats> | null;
  return typeof s === 'object' && s !== null && typeof s.requests === 'number' && typeof s.costUsd === 'number' && typeof s.outcomes === 'object' && s.outcomes !== null;
}

/** A breakdown of a summary: v1 has stats objects, v2 packed stats. Undefined when anything in it is not. */
function summaryBreakdown(x: unknown, stats: (x: unknown) => Stats | undefined): Breakdown | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return undefined;
  // fromEntries: a key "__proto__" (a tenant's model name) stays an entry rather than a prototype.
  const out: [string, Stats][] = [];
  for (const [key, value] of Object.entries(x)) {
    const s = stats(value);
    if (s === undefined) return undefined;
    out.push([key, s]);
  }
  return Object.fromEntries(out);
}

/** Dimensions a v1 summary (an operator before v2) breaks down by: routes, models and callers need the full report. */
const V1_DIMENSIONS: readonly Dimension[] = ['namespace', 'provider'];

/**
 * A report's day summary as a report of one hour: every number comes out the same as from the full
 * report (the summary is the same counters summed over the hours; a day keeps the same routes,
 * models, providers and callers by name in every hour). `fromSummary` says which breakdowns it
 * holds: all from a v2 summary, namespace and provider from a v1 one. Undefined when the report has
 * no readable summary (written by an older operator): read the full report then.
 */
export function summaryReport(item: ReportMetadata): UsageReportObject | undefined {
  const raw = item.metadata.annotations?.[DAY_SUMMARY_ANNOTATION];
  if (raw === undefined) return undefined;
  let s: { v?: unknown; date?: unknown; totals?: unknown; histogramBoundsMs?: unknown; latencyMs?: unknown; ttftMs?: unknown; byProvider?: unknown; byRoute?: unknown; byModel?: unknown; byCaller?: unknown };
  try {
    s = JSON.parse(raw) as typeof s;
  } catch {
    return undefined;
  }
  const numbers = (x: unknown): x is number[] => Array.isArray(x) && x.every((n) => typeof n === 'number');
  if ((s.v !== 1 && s.v !== 2) || typeof s.date !== 'string' || !numbers(s.histogramBoundsMs) || !numbers(s.latencyMs) || !numbers(s.ttftMs)) return undefined;
  const stats = s.v === 1 ? (x: unknown): Stats | undefined => (isStats(x) ? x : undefined) : unpackStats;
  const totals = stats(s.totals);
  const byProvider = summaryBreakdown(s.byProvider, stats);
  const [byRoute, byModel, byCaller] = s.v === 1 ? [{}, {}, {}] : [summaryBreakdown(s.byRoute, stats), summaryBreakdown(s.byModel, stats), summaryBreakdown(s.byCaller, stats)];
  if (totals === undefined || byProvider === undefined || byRoute === undefined || byModel === undefined || byCaller === undefined) return undefined;
  const hour: Hour = { hour: 0, totals, latencyMs: s.latencyMs, ttftMs: s.ttftMs, byRoute, byModel, byProvider, byCaller };
  return {
    metadata: { name: item.metadata.name, namespace: item.metadata.namespace },
    status: { date: s.date, totals, errors: errorsOf(totals), histogramBoundsMs: s.histogramBoundsMs, hours: [hour] },
    fromSummary: s.v === 1 ? V1_DIMENSIONS : Object.keys(DIMENSIONS) as Dimension[],
  };
}

/** Whether a report (full, or read from its summary) can be broken down by `dim`. */
export const holds = (r: UsageReportObject, dim: Dimension): boolean => r.fromSummary === undefined || r.fromSummary.includes(dim);


// ---- formatting (for people) -------------------------------------------------------------

// Made at first use, not when the module loads: every CLI process (a data plane too) loads this
// module, and the first Intl formatter reads ~5 MiB of ICU data into its RSS for good
// (bench/results/native-memory-s8-2026-12-05.md).
let formats: { usd: Intl.NumberFormat; usdSmall: Intl.NumberFormat; whole: Intl.NumberFormat } | undefined;
function numberFormats(): NonNullable<typeof formats> {
  formats ??= {
    usd: new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 }),
    usdSmall: new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 4 }),
    whole: new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }),
  };
  return formats;
}

/** US dollars; four decimals below $1, where API calls cost fractions of a cent; a non-zero cost never shows as $0.00. */
export function money(n: number): string {
  if (n > 0 && n < 0.00005) return '< $0.0001';
  const f = numberFormats();
  return (n !== 0 && Math.abs(n) < 1 ? f.usdSmall : f.usd).format(n);
}
export const count = (n: number): string => numberFormats().whole.format(n);
export const percent = (part: number, all: number): string => (all === 0 ? '–' : `${((part / all) * 100).toFixed(1)}%`);

/** A histogram bound read as a duration: the true value is at most this. */
export function duration(ms: number | undefined): string {
  if (ms === undefined) return '–';
  if (!Number.isFinite(ms)) return '> 60 s';
  return ms < 1000 ? `≤ ${ms} ms` : `≤ ${(ms / 1000).toLocaleString('en-US')} s`;
}

// ---- numbers -----------------------------------------------------------------------------

export function emptyStats(): Stats {
  return { requests: 0, outcomes: {}, failovers: 0, cacheHits: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, costUsd: 0 };
}

export function addStats(into: Stats, s: Stats): Stats {
  into.requests += s.requests;
  for (const [k, v] of Object.entries(s.outcomes)) into.outcomes[k] = (into.outcomes[k] ?? 0) + (v ?? 0);
  into.failovers += s.failovers;
  into.cacheHits += s.cacheHits;
  into.inputTokens += s.inputTokens;
  into.outputTokens += s.outputTokens;
  into.cachedInputTokens += s.cachedInputTokens;
  into.costUsd += s.costUsd;
  return into;
}

export const errorsOf = (s: Stats): number => s.requests - (s.outcomes.ok ?? 0);

/** A span of days: totals and the latency/TTFT histograms summed over its reports. */
export interface Period {
  totals: Stats;
  latency: number[];
  ttft: number[];
  bounds: number[];
}

const inSpan = (r: UsageReportObject, from: string, to: string): boolean => r.status !== undefined && r.status.date >= from && r.status.date <= to;

/** Everything the reports of the days from..to (inclusive, YYYY-MM-DD) hold. */
export function windowOf(reports: readonly UsageReportObject[], from: string, to: string): Period {
  const w: Period = { totals: emptyStats(), latency: [], ttft: [], bounds: [] };
  for (const r of reports) {
    const s = r.status;
    if (s === undefined || !inSpan(r, from, to)) continue;
    w.bounds = s.histogramBoundsMs;
    addStats(w.totals, s.totals);
    for (const hour of s.hours) {
      hour.latencyMs.forEach((n, i) => (w.latency[i] = (w.latency[i] ?? 0) + n));
      hour.ttftMs.forEach((n, i) => (w.ttft[i] = (w.ttft[i] ?? 0) + n));
    }
  }
  return w;
}

/** The bucket bound under which a share q of the requests fell (a histogram is good to one bucket). */
export function quantile(histogram: readonly number[], bounds: readonly number[], q: number): number | undefined {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i] ?? 0;
    if (seen >= q * total) return bounds[i] ?? Number.POSITIVE_INFINITY;
  }
  return Number.POSITIVE_INFINITY;
}

const FIELD = { route: 'byRoute', model: 'byModel', provider: 'byProvider', caller: 'byCaller' } as const;

/** Stats per namespace, route, model, provider or caller over the days from..to. */
export function breakdown(reports: readonly UsageReportObject[], dim: Dimension, from: string, to: string): Map<string, Stats> {
  const out = new Map<string, Stats>();
  const put = (key: string, s: Stats): void => {
    out.set(key, addStats(out.get(key) ?? emptyStats(), s));
  };
  for (const r of reports) {
    const s = r.status;
    if (s === undefined || !inSpan(r, from, to)) continue;
    if (dim === 'namespace') {
      put(r.metadata.namespace ?? '', s.totals);
      continue;
    }
    for (const hour of s.hours) for (const [key, stats] of Object.entries(hour[FIELD[dim]])) put(key, stats);
  }
  return out;
}

/** The breakdown as rows, most expensive first (then most requests, then by name). */
export function breakdownRows(reports: readonly UsageReportObject[], dim: Dimension, from: string, to: string): [string, Stats][] {
  return [...breakdown(reports, dim, from, to)].sort(([ka, a], [kb, b]) => b.costUsd - a.costUsd || b.requests - a.requests || (ka < kb ? -1 : ka > kb ? 1 : 0));
}

/** The columns of a breakdown row after its name, and the row's cells as shown. */
export const STATS_HEADERS = ['Requests', 'Errors', 'Error rate', 'Cost', 'Input tokens', 'Output tokens', 'Cache hits'] as const;
export function statsCells(key: string, s: Stats): string[] {
  return [key, count(s.requests), count(errorsOf(s)), percent(errorsOf(s), s.requests), money(s.costUsd), count(s.inputTokens), count(s.outputTokens), count(s.cacheHits)];
}

const DAY_MS = 86_400_000;
const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The last `span` days (UTC) up to and including today: the console's "Days" and `spend --since Nd`. */
export function lastDays(span: number, now: number): { since: string; today: string } {
  return { since: dayOf(now - (span - 1) * DAY_MS), today: dayOf(now) };
}

/** Every day from since to today, inclusive. */
export function days(since: string, today: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${since}T00:00:00Z`); t <= Date.parse(`${today}T00:00:00Z`); t += DAY_MS) out.push(dayOf(t));
  return out;
}
