import type { OutcomeClass, RequestUsage } from '../../dataplane/config/request-usage.js';
import {
  HISTOGRAM_BOUNDS_MS,
  MAX_APPLIED_PODS,
  MAX_BREAKDOWN_KEYS,
  OTHER_KEY,
  type UsageHour,
  type UsageReportStatus,
  type UsageStats,
} from '../api/usage-report.js';
import { leastWorth } from '../budgets/reporting-pods.js';

/** Distinct keys a breakdown holds in memory before new ones go straight to OTHER_KEY. */
const MAX_KEYS_IN_MEMORY = 1000;

type Dimension = 'byRoute' | 'byModel' | 'byProvider' | 'byCaller';
const DIMENSIONS: readonly Dimension[] = ['byRoute', 'byModel', 'byProvider', 'byCaller'];

interface HourState {
  totals: UsageStats;
  latencyMs: number[];
  ttftMs: number[];
  dims: Record<Dimension, Map<string, UsageStats>>;
}

/** The day (UTC, YYYY-MM-DD) a timestamp falls on. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function emptyStats(): UsageStats {
  return { requests: 0, outcomes: {}, failovers: 0, cacheHits: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, costUsd: 0 };
}

function round(n: number): number {
  return Math.round(n * 1e8) / 1e8;
}

/**
 * A count's sum, held at the largest safe integer: the status schema reads counts as safe integers.
 * Each record's token counts are (the intake checks that), but their sum was not: two records of a
 * Provider that reports 2^53 − 1 tokens made the status one no leader could read back, and the next
 * leader counted that namespace's day again from zero (the rows already written lost).
 */
const plus = (a: number, b: number): number => Math.min(Number.MAX_SAFE_INTEGER, a + b);

export function addStats(into: UsageStats, from: UsageStats): void {
  into.requests = plus(into.requests, from.requests);
  for (const [cls, n] of Object.entries(from.outcomes) as [OutcomeClass, number | undefined][]) {
    into.outcomes[cls] = plus(into.outcomes[cls] ?? 0, n ?? 0);
  }
  into.failovers = plus(into.failovers, from.failovers);
  into.cacheHits = plus(into.cacheHits, from.cacheHits);
  into.inputTokens = plus(into.inputTokens, from.inputTokens);
  into.outputTokens = plus(into.outputTokens, from.outputTokens);
  into.cachedInputTokens = plus(into.cachedInputTokens, from.cachedInputTokens);
  into.costUsd = round(into.costUsd + from.costUsd);
}

function statsOf(request: RequestUsage, costUsd: number): UsageStats {
  return {
    requests: 1,
    outcomes: { [request.outcome]: 1 },
    failovers: request.failovers,
    cacheHits: request.cacheHit ? 1 : 0,
    inputTokens: request.inputTokens,
    outputTokens: request.outputTokens,
    cachedInputTokens: request.cachedInputTokens,
    costUsd,
  };
}

function copyStats(s: UsageStats): UsageStats {
  return { ...s, outcomes: { ...s.outcomes } };
}

export function bucketIndex(ms: number): number {
  const i = HISTOGRAM_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return i === -1 ? HISTOGRAM_BOUNDS_MS.length : i;
}

function emptyHistogram(): number[] {
  return new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
}

/** Most expensive first, then most requests, then by name (a stable order). */
function ranked(totals: Map<string, UsageStats>): string[] {
  return [...totals]
    .filter(([key]) => key !== OTHER_KEY)
    .sort(([ka, a], [kb, b]) => b.costUsd - a.costUsd || b.requests - a.requests || (ka < kb ? -1 : 1))
    .map(([key]) => key);
}

/**
 * One namespace's usage on one day: what a UsageReport's status holds, in memory. Pure: the
 * operator's usage history loads it from and writes it to the API server. Records count once per
 * pod and sequence number (`appliedThrough`), which is what makes resent reports harmless.
 */
export class UsageDay {
  private readonly hours = new Map<number, HourState>();
  /** Insertion order is report order: the least recently reporting pod is first (evicted first). */
  private readonly applied = new Map<string, number>();

  constructor(
    readonly namespace: string,
    readonly date: string,
    status?: UsageReportStatus,
    /** How much a pod's appliedThrough entry is worth keeping (ReportingPods.rank); absent: all alike. */
    private readonly rank?: (pod: string) => number,
  ) {
    if (status === undefined) return;
    for (const [pod, seq] of Object.entries(status.appliedThrough)) this.applied.set(pod, seq);
    for (const hour of status.hours) {
      const state = this.hour(hour.hour);
      state.totals = copyStats(hour.totals);
      hour.latencyMs.forEach((n, i) => (state.latencyMs[i] = n));
      hour.ttftMs.forEach((n, i) => (state.ttftMs[i] = n));
      for (const dim of DIMENSIONS) for (const [key, s] of Object.entries(hour[dim])) state.dims[dim].set(key, copyStats(s));
    }
  }

  appliedThrough(pod: string): number {
    return this.applied.get(pod) ?? 0;
  }

  private hour(h: number): HourState {
    let state = this.hours.get(h);
    if (state === undefined) {
      state = { totals: emptyStats(), latencyMs: emptyHistogram(), ttftMs: emptyHistogram(), dims: { byRoute: new Map(), byModel: new Map(), byProvider: new Map(), byCaller: new Map() } };
      this.hours.set(h, state);
    }
    return state;
  }

  /** Counts one record unless this pod's sequence number was counted already; says whether it counted. */
  add(pod: string, seq: number, at: number, request: RequestUsage, costUsd: number): boolean {
    if (seq <= this.appliedThrough(pod)) return false;
    this.applied.delete(pod);
    this.applied.set(pod, seq);
    // The lowest ranked go first. Before, simply the least recently reporting: 200 reports under
    // made-up pod names pushed every real pod out, and their resent records counted twice.
    if (this.applied.size > MAX_APPLIED_PODS) this.applied.delete(leastWorth(this.applied.keys(), this.rank) ?? '');
    const state = this.hour(new Date(at).getUTCHours());
    const one = statsOf(request, round(costUsd));
    addStats(state.totals, one);
    const latency = state.latencyMs;
    latency[bucketIndex(request.latencyMs)] = (latency[bucketIndex(request.latencyMs)] ?? 0) + 1;
    if (request.ttftMs !== undefined) state.ttftMs[bucketIndex(request.ttftMs)] = (state.ttftMs[bucketIndex(request.ttftMs)] ?? 0) + 1;
    const keys: Record<Dimension, string | undefined> = { byRoute: request.route, byModel: request.model, byProvider: request.provider, byCaller: request.caller };
    for (const dim of DIMENSIONS) {
      const key = keys[dim];
      if (key === undefined) continue;
      const map = state.dims[dim];
      const slot = map.has(key) || map.size < MAX_KEYS_IN_MEMORY ? key : OTHER_KEY;
      const stats = map.get(slot) ?? emptyStats();
      addStats(stats, one);
      map.set(slot, stats);
    }
    return true;
  }

  /** The status to write: hours in order, each breakdown cut to its top keys (by the day's cost) plus OTHER_KEY. */
  toStatus(topCallers: number, now: number): UsageReportStatus {
    const keep: Record<Dimension, Set<string>> = {
      byRoute: this.top('byRoute', MAX_BREAKDOWN_KEYS),
      byModel: this.top('byModel', MAX_BREAKDOWN_KEYS),
      byProvider: this.top('byProvider', MAX_BREAKDOWN_KEYS),
      byCaller: this.top('byCaller', topCallers),
    };
    const totals = emptyStats();
    const hours: UsageHour[] = [];
    for (const h of [...this.hours.keys()].sort((a, b) => a - b)) {
      const state = this.hours.get(h);
      if (state === undefined) continue;
      addStats(totals, state.totals);
      const hour: UsageHour = { hour: h, totals: copyStats(state.totals), latencyMs: [...state.latencyMs], ttftMs: [...state.ttftMs], byRoute: {}, byModel: {}, byProvider: {}, byCaller: {} };
      for (const dim of DIMENSIONS) {
        // Keys are names tenants choose ("__proto__" is a valid public model): assigned to a plain
        // object such a key sets its prototype and vanishes; fromEntries makes every key its own.
        const out: [string, UsageStats][] = [];
        let other: UsageStats | undefined;
        for (const [key, s] of state.dims[dim]) {
          if (keep[dim].has(key)) out.push([key, copyStats(s)]);
          else addStats((other ??= emptyStats()), s);
        }
        if (other !== undefined) out.push([OTHER_KEY, other]);
        hour[dim] = Object.fromEntries(out);
      }
      hours.push(hour);
    }
    const ok = totals.outcomes.ok ?? 0;
    return {
      date: this.date,
      totals,
      errors: totals.requests - ok,
      histogramBoundsMs: [...HISTOGRAM_BOUNDS_MS],
      hours,
      appliedThrough: Object.fromEntries(this.applied),
      updatedAt: new Date(now).toISOString().replace(/\.\d+Z$/, 'Z'),
    };
  }

  private top(dim: Dimension, n: number): Set<string> {
    const totals = new Map<string, UsageStats>();
    for (const state of this.hours.values()) {
      for (const [key, s] of state.dims[dim]) {
        const t = totals.get(key) ?? emptyStats();
        addStats(t, s);
        totals.set(key, t);
      }
    }
    return new Set(ranked(totals).slice(0, n));
  }
}
