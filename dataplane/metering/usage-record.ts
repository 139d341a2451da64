import type { Operation, Usage } from '../core/canonical.js';
import type { EstimateReason } from './settled-usage.js';
import { nonNegativeUsd } from './cost.js';

/** One metered request, handed to the usage sink (logs today; the operator's Budget status later). */
export interface UsageRecord {
  requestId: string;
  /** The canonical operation; `passthrough` and `realtime` for endpoints the gateway forwards untranslated. */
  op: Operation | 'passthrough' | 'realtime';
  routeId: string;
  /** The public model name the client asked for. */
  model: string;
  providerId: string;
  upstreamModel: string;
  stream: boolean;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  costUsd: number;
  /** True when the gateway estimated the usage (the upstream reported none, or none that can be true). */
  estimated: boolean;
  /** Why it was estimated (the `reason` of tollgate_usage_estimated_total and the access log). */
  estimateReason?: EstimateReason;
}

/**
 * The record of one metered request: the one place its fields are laid out, for the request path,
 * pass-through endpoints and Realtime alike. `estimated` says why the usage is the gateway's
 * estimate. Positional, not one options object: the request path makes one per request.
 */
export function usageRecord(
  requestId: string,
  op: UsageRecord['op'],
  route: { id: string; model: string },
  target: { providerId: string; model: string },
  stream: boolean,
  usage: Usage,
  costUsd: number,
  estimated: EstimateReason | undefined,
): UsageRecord {
  // The backstop behind every caller's validity check: a count or cost below zero would credit the
  // Budgets the record is settled against. Clamped, and the record marked invalid, so that
  // tollgate_usage_estimated_total{reason="invalid"} counts it.
  const unsound = !sound(usage.inputTokens) || !sound(usage.outputTokens) || !sound(usage.cachedInputTokens) || !sound(costUsd);
  const reason = unsound ? (estimated ?? 'invalid') : estimated;
  return {
    requestId,
    op,
    routeId: route.id,
    model: route.model,
    providerId: target.providerId,
    upstreamModel: target.model,
    stream,
    inputTokens: unsound ? clamped(usage.inputTokens) : usage.inputTokens,
    outputTokens: unsound ? clamped(usage.outputTokens) : usage.outputTokens,
    cachedInputTokens: unsound ? Math.min(clamped(usage.cachedInputTokens), clamped(usage.inputTokens)) : usage.cachedInputTokens,
    costUsd: unsound ? nonNegativeUsd(costUsd) : costUsd,
    estimated: reason !== undefined,
    ...(reason === undefined ? {} : { estimateReason: reason }),
  };
}

const sound = (n: number): boolean => Number.isFinite(n) && n >= 0;
const clamped = (n: number): number => (sound(n) ? n : 0);

export interface UsageSink {
  record(usage: UsageRecord): void;
}

/** Keeps totals per route in memory; enough for `tollgate dev` and tests. */
export class UsageTotals implements UsageSink {
  readonly byRoute = new Map<string, { requests: number; inputTokens: number; outputTokens: number; costUsd: number }>();
  readonly records: UsageRecord[] = [];

  constructor(private readonly keep = 1000) {}

  record(usage: UsageRecord): void {
    const t = this.byRoute.get(usage.routeId) ?? { requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
    t.requests++;
    t.inputTokens += usage.inputTokens;
    t.outputTokens += usage.outputTokens;
    t.costUsd += usage.costUsd;
    this.byRoute.set(usage.routeId, t);
    this.records.push(usage);
    if (this.records.length > this.keep) this.records.shift();
  }

  /** Forgets the totals of routes not in `routeIds` (the served snapshot's): a data plane without a usage sink keeps these too. */
  retainRoutes(routeIds: ReadonlySet<string>): void {
    for (const id of this.byRoute.keys()) if (!routeIds.has(id)) this.byRoute.delete(id);
  }
}
