import { createHash } from 'node:crypto';
import type { Snapshot } from '../config/snapshot.js';

/** The `provider` and `upstream_model` of a route's targets past MAX_TARGET_LABEL_SETS. */
export const OTHER_TARGET = '_other';

/**
 * Distinct (provider, upstream model) label sets a route's metrics keep apart; the route's targets
 * past them (in the snapshot's order) share one `_other` set. A tenant's route may list hundreds of
 * targets, and every target metric multiplied by them (histograms by 16 buckets, by outcomes) made
 * one route thousands of series, rendered by every scrape on the event loop that serves requests.
 */
export const MAX_TARGET_LABEL_SETS = 32;

/** Longest provider or upstream_model label value; a longer one is cut and given a hash of the whole (still distinct). */
export const MAX_LABEL_VALUE_CHARS = 128;

/** Label values of one target of one route, as every target metric of the route shows them. */
export interface TargetLabelValues {
  readonly provider: string;
  readonly upstream_model: string;
}

/** A configured name as a label value: as it is up to MAX_LABEL_VALUE_CHARS, else its start, `~` and 8 hex digits of its SHA-256. */
export function boundedLabel(value: string): string {
  if (value.length <= MAX_LABEL_VALUE_CHARS) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 8);
  return `${value.slice(0, MAX_LABEL_VALUE_CHARS - 9)}~${hash}`;
}

const FOLDED: TargetLabelValues = { provider: OTHER_TARGET, upstream_model: OTHER_TARGET };

/**
 * The label values of a route's targets, index for index: the first MAX_TARGET_LABEL_SETS distinct
 * (provider, model) pairs as themselves (bounded), the others `_other`; and how many distinct pairs
 * were folded. Deterministic: the series and their retirement (series-retirement.ts) agree.
 */
export function routeTargetLabels(targets: readonly { providerId: string; model: string }[]): { labels: TargetLabelValues[]; folded: number } {
  const kept = new Map<string, TargetLabelValues>();
  const folded = new Set<string>();
  const labels = targets.map((t) => {
    const key = `${t.providerId}\u0000${t.model}`;
    let found = kept.get(key);
    if (found === undefined) {
      if (kept.size < MAX_TARGET_LABEL_SETS) {
        found = { provider: boundedLabel(t.providerId), upstream_model: boundedLabel(t.model) };
        kept.set(key, found);
      } else {
        folded.add(key);
        found = FOLDED;
      }
    }
    return found;
  });
  return { labels, folded: folded.size };
}

/**
 * The label values of every target of the served snapshot, decided once when it is applied: a
 * request's metrics look them up once per target (target-series.ts), not per increment.
 */
export class TargetLabels {
  /** By target object: one target of one route (a snapshot's objects are not shared between routes; the route id is checked). */
  private readonly byTarget = new WeakMap<object, { routeId: string; labels: TargetLabelValues }>();
  /** By route, provider and model, for the served snapshot: usage records name a target by its ids. */
  private byKey = new Map<string, TargetLabelValues>();
  /** Distinct target label sets folded into `_other`, per route that has any. */
  private foldedByRoute = new Map<string, number>();

  apply(snapshot: Snapshot): void {
    const byKey = new Map<string, TargetLabelValues>();
    const folded = new Map<string, number>();
    for (const route of snapshot.routes) {
      const result = routeTargetLabels(route.targets);
      route.targets.forEach((t, i) => {
        const labels = result.labels[i] ?? FOLDED;
        this.byTarget.set(t, { routeId: route.id, labels });
        byKey.set(`${route.id}\u0000${t.providerId}\u0000${t.model}`, labels);
      });
      if (result.folded > 0) folded.set(route.id, result.folded);
    }
    this.byKey = byKey;
    this.foldedByRoute = folded;
  }

  /** The label values of `target` on route `routeId`; a target no applied snapshot had is shown as itself, bounded. */
  of(routeId: string, target: { providerId: string; model: string }): TargetLabelValues {
    const known = this.byTarget.get(target);
    if (known !== undefined && known.routeId === routeId) return known.labels;
    return this.byKey.get(`${routeId}\u0000${target.providerId}\u0000${target.model}`) ?? { provider: boundedLabel(target.providerId), upstream_model: boundedLabel(target.model) };
  }

  /** Routes of the served snapshot with targets folded, and how many distinct label sets each folded. */
  folded(): ReadonlyMap<string, number> {
    return this.foldedByRoute;
  }
}
