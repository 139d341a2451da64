import type { Snapshot } from '../config/snapshot.js';
import { uninspectedRuleName } from '../config/guardrail-config.js';
import { PASS_THROUGH_ENDPOINTS } from '../config/pass-through-endpoints.js';
import { routeTargetLabels } from './target-labels.js';

/**
 * Label value when a request never got that far (no route matched, nothing served). Label values
 * come only from configuration (route ids, provider ids, public and upstream model names as
 * configured) and from enums; never from what a caller sent.
 */
export const NONE = 'none';

/** A series' labels, as prom-client and our summed metrics hold them. */
export type SeriesLabels = Readonly<Partial<Record<string, string | number>>>;

/** Whether a series names only objects the gateway still has (or had within the grace period). */
export type KeepSeries = (labels: SeriesLabels) => boolean;

/** A metric whose series of objects gone from the configuration can be dropped. */
export interface RetirableMetric {
  retire(keep: KeepSeries): void | Promise<void>;
}

/**
 * How long a series outlives the last snapshot that had its object: long enough for Prometheus to
 * scrape its last increments (scrape intervals are 15 s to 1 min), short enough that a tenant
 * creating and deleting uniquely named objects holds at most ten minutes of them in every pod.
 */
export const RETIRE_AFTER_MS = 10 * 60 * 1000;

/**
 * Drops the metric series of configured objects (routes, their models and targets, budgets,
 * guardrail rules, capture destinations) that no snapshot has had for RETIRE_AFTER_MS.
 *
 * Every series is labelled with names from configuration, never from requests, so the series are
 * bounded by what is configured; but without this a series stayed until the pod restarted, and a
 * tenant that kept creating uniquely named objects with traffic (a route per job, a budget per
 * day) grew every data plane's memory and Prometheus's series without bound. A sweep runs when a
 * snapshot is applied (the churn itself drives it) and before each scrape.
 */
export class SeriesRetirement {
  /** Object keys (objectKeys) and until when they count as configured: Infinity while the snapshot has them. */
  private named = new Map<string, number>();
  private applied = false;
  private readonly metrics: RetirableMetric[] = [];

  constructor(
    private readonly graceMs = RETIRE_AFTER_MS,
    private readonly now: () => number = Date.now,
  ) {}

  track(...metrics: RetirableMetric[]): void {
    this.metrics.push(...metrics);
  }

  /** A snapshot is served: what the one before had and this one has not starts its grace period. */
  apply(snapshot: Snapshot): Promise<void> {
    const now = this.now();
    const next = new Map<string, number>();
    for (const key of objectKeys(snapshot)) next.set(key, Infinity);
    for (const [key, until] of this.named) if (!next.has(key)) next.set(key, Math.min(until, now + this.graceMs));
    this.named = next;
    this.applied = true;
    return this.sweep();
  }

  /** Drops the series whose objects' grace has ended (nothing before the first snapshot: every object is unknown then). */
  async sweep(): Promise<void> {
    if (!this.applied) return;
    const now = this.now();
    for (const [key, until] of this.named) if (until <= now) this.named.delete(key);
    const keep: KeepSeries = (labels) => namesOnlyKnown(labels, this.named);
    for (const metric of this.metrics) await metric.retire(keep);
  }
}

/**
 * The objects a series' labels name, all of which must be known for it to stay: its route; the
 * route's public model; its target (provider and upstream model, or the provider alone) within
 * that route, or anywhere when the series has no route; its budget; its guardrail policy's rule;
 * its capture destination.
 */
function namesOnlyKnown(labels: SeriesLabels, named: ReadonlyMap<string, number>): boolean {
  const route = text(labels.route);
  const routed = route !== undefined && route !== NONE;
  if (routed && !named.has(`r\0${route}`)) return false;
  const model = text(labels.model);
  if (routed && model !== undefined && model !== NONE && !named.has(`m\0${route}\0${model}`)) return false;
  const provider = text(labels.provider);
  if (provider !== undefined && provider !== NONE) {
    // A series with a provider and no upstream model (request durations) names the provider as a target of the route.
    const upstreamModel = text(labels.upstream_model);
    const target = upstreamModel === undefined ? `p\0${provider}` : `t\0${provider}\0${upstreamModel}`;
    if (!named.has(routed ? `r${target}\0${route}` : target)) return false;
  }
  const budget = text(labels.budget);
  if (budget !== undefined && !named.has(`b\0${budget}`)) return false;
  const policy = text(labels.policy);
  if (policy !== undefined && !named.has(`g\0${policy}\0${text(labels.rule) ?? ''}`)) return false;
  const destination = text(labels.destination);
  return destination === undefined || named.has(`d\0${destination}`);
}

const text = (value: string | number | undefined): string | undefined => (value === undefined ? undefined : String(value));

/** Every object a snapshot configures that a series label can name, as namesOnlyKnown looks them up. */
export function objectKeys(snapshot: Snapshot): string[] {
  const keys: string[] = [];
  for (const route of snapshot.routes) {
    keys.push(`r\0${route.id}`, `m\0${route.id}\0${route.model}`);
    // A target's series are labelled as target-labels.ts shows it (cut, or `_other`); the circuit
    // states the gateway keeps are keyed by its names as configured.
    const { labels } = routeTargetLabels(route.targets);
    route.targets.forEach((t, i) => {
      const shown = labels[i] ?? { provider: t.providerId, upstream_model: t.model };
      keys.push(`t\0${t.providerId}\0${t.model}`, `rt\0${shown.provider}\0${shown.upstream_model}\0${route.id}`, `p\0${t.providerId}`, `rp\0${shown.provider}\0${route.id}`);
      if (shown.provider !== t.providerId || shown.upstream_model !== t.model) keys.push(`t\0${shown.provider}\0${shown.upstream_model}`, `p\0${shown.provider}`);
    });
  }
  for (const budget of snapshot.budgets) keys.push(`b\0${budget.id}`);
  for (const policy of snapshot.guardrails ?? []) {
    for (const rule of policy.rules) keys.push(`g\0${policy.id}\0${rule.name}`);
    // Its decisions about the pass-through endpoints no rule reads (policy/guardrail/uninspected.ts).
    for (const endpoint of PASS_THROUGH_ENDPOINTS) keys.push(`g\0${policy.id}\0${uninspectedRuleName(endpoint)}`);
  }
  // The capture metrics' destination label (capture-service.ts): "<policy id>/<destination name>".
  for (const policy of snapshot.dataPolicies ?? []) for (const d of policy.destinations) keys.push(`d\0${policy.id}/${d.name}`);
  return keys;
}

/** A prom-client Counter or Gauge: its series read with get() and dropped with remove(). */
export function retirablePromMetric(metric: {
  get(): Promise<{ values: readonly { labels: SeriesLabels }[] }>;
  remove(labels: Record<string, string | number>): void;
}): RetirableMetric {
  return {
    async retire(keep) {
      const { values } = await metric.get();
      for (const { labels } of values) if (!keep(labels)) metric.remove(labels as Record<string, string | number>);
    },
  };
}
