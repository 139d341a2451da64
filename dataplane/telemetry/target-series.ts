import type { TargetConfig } from '../config/snapshot.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { CounterSeries } from './summed-counter.js';
import type { HistogramSeries } from './summed-histogram.js';

interface UsageSeries {
  input: CounterSeries;
  output: CounterSeries;
  cachedInput: CounterSeries;
  cost: CounterSeries;
}

interface RequestSeries {
  operation: string;
  count: CounterSeries;
  duration: HistogramSeries;
}

/**
 * The metric series a served request of one target of one route adds to, each resolved on first
 * use: an increment is then a number added, not a label object built and a key joined per call.
 * Labels are exactly those a `inc(labels)` would have been given.
 */
export class TargetSeries {
  private readonly attempts = new Map<string, { count: CounterSeries; duration: HistogramSeries }>();
  private usageSeries: UsageSeries | undefined;
  private readonly requests = new Map<string, RequestSeries>();
  /** The target's labels on its route's metrics: provider and upstream_model as target-labels.ts shows them (bounded, or `_other`). */
  readonly labels: { readonly route: string; readonly provider: string; readonly upstream_model: string };

  constructor(
    private readonly metrics: GatewayMetrics,
    readonly routeId: string,
    /** The route's public model. */
    readonly model: string,
    readonly target: TargetConfig,
  ) {
    const shown = metrics.targetLabels.of(routeId, target);
    this.labels = { route: routeId, provider: shown.provider, upstream_model: shown.upstream_model };
  }

  /** tollgate_upstream_attempts_total and tollgate_upstream_duration_seconds for one outcome. */
  attempt(outcome: string): { count: CounterSeries; duration: HistogramSeries } {
    let found = this.attempts.get(outcome);
    if (found === undefined) {
      const labels = { ...this.labels, outcome };
      found = { count: this.metrics.attempts.series(labels), duration: this.metrics.upstreamDuration.series(labels) };
      this.attempts.set(outcome, found);
    }
    return found;
  }

  /** tollgate_tokens_total by type and tollgate_cost_usd_total. */
  usage(): UsageSeries {
    if (this.usageSeries === undefined) {
      const { provider, upstream_model } = this.labels;
      const labels = { route: this.routeId, model: this.model, provider, upstream_model };
      const { tokens, cost } = this.metrics;
      this.usageSeries = {
        input: tokens.series({ ...labels, type: 'input' }),
        output: tokens.series({ ...labels, type: 'output' }),
        cachedInput: tokens.series({ ...labels, type: 'cached_input' }),
        cost: cost.series(labels),
      };
    }
    return this.usageSeries;
  }

  /** tollgate_requests_total and tollgate_request_duration_seconds for one operation and status class. */
  request(operation: string, statusClass: string): RequestSeries {
    let found = this.requests.get(statusClass);
    if (found === undefined || found.operation !== operation) {
      const { provider, upstream_model: upstreamModel } = this.labels;
      found = {
        operation,
        count: this.metrics.requests.series({ operation, route: this.routeId, model: this.model, provider, upstream_model: upstreamModel, status_class: statusClass }),
        duration: this.metrics.requestDuration.series({ route: this.routeId, model: this.model, provider, status_class: statusClass }),
      };
      this.requests.set(statusClass, found);
    }
    return found;
  }
}

/** TargetSeries per target object of the snapshot (and its route): a new snapshot resolves anew. */
export class SeriesCache {
  private readonly byTarget = new WeakMap<TargetConfig, TargetSeries>();

  constructor(private readonly metrics: GatewayMetrics) {}

  of(routeId: string, model: string, target: TargetConfig): TargetSeries {
    const found = this.byTarget.get(target);
    if (found !== undefined && found.routeId === routeId && found.model === model) return found;
    const fresh = new TargetSeries(this.metrics, routeId, model, target);
    this.byTarget.set(target, fresh);
    return fresh;
  }
}
