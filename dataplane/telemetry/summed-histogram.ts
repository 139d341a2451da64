import { Histogram, type HistogramConfiguration, type LabelValues, type ObserveDataWithExemplar } from 'prom-client';
import type { KeepSeries, RetirableMetric } from './series-retirement.js';

interface Series<T extends string> {
  /** The first label object observed for the series (prom-client keeps the same). */
  labels: LabelValues<T>;
  /** Observations per upper bound (index as in `buckets`); beyond the last bound only `count` grows. */
  counts: number[];
  sum: number;
  count: number;
  /** Dropped by retire(): a handle still holding it makes or finds its series again. */
  retired: boolean;
}

interface ExportValue {
  labels: Record<string, string | number>;
  sharedLabels: LabelValues<string>;
  value: number;
  metricName: string;
  exemplar?: null;
}

/** A histogram series resolved by SummedHistogram.series. */
export interface HistogramSeries {
  observe(value: number): void;
}

/**
 * A prom-client Histogram whose observations go to a Map of bucket counts per label set (keyed by
 * the label values in `labelNames` order) instead of through prom-client's label validation and
 * hashing on every call. What a scrape (or `get()`) shows is what prom-client's Histogram shows
 * for the same observations. Only `observe(labels, value)` and `reset()` are supported.
 */
export class SummedHistogram<T extends string> extends Histogram<T> implements RetirableMetric {
  private readonly names: readonly T[];
  private readonly bounds: readonly number[];
  private readonly byKey = new Map<string, Series<T>>();
  private readonly metricName: string;
  private readonly metricHelp: string;
  /** Counts resets, so that a resolved series handle notices its series was dropped. */
  private generation = 0;

  constructor(config: HistogramConfiguration<T> & { buckets: number[] }) {
    super(config);
    this.metricName = config.name;
    this.metricHelp = config.help;
    // prom-client's constructor sets `observe` on the instance, which hides a prototype override.
    this.observe = SummedHistogram.prototype.observe;
    this.names = config.labelNames ?? [];
    // In the order given, as prom-client counts and shows them.
    this.bounds = [...config.buckets];
  }

  override observe(value: number): void;
  override observe(labels: LabelValues<T>, value: number): void;
  override observe(observeData: ObserveDataWithExemplar<T>): void;
  override observe(labelsOrValue: LabelValues<T> | number | ObserveDataWithExemplar<T>, maybeValue?: number): void {
    if (typeof labelsOrValue !== 'object' || maybeValue === undefined) throw new Error('SummedHistogram takes observe(labels, value) only');
    const labels = labelsOrValue as LabelValues<T>;
    if (!Number.isFinite(maybeValue)) throw new TypeError(`Value is not a valid number: ${maybeValue}`);
    this.add(this.seriesOf(labels), maybeValue);
  }

  /**
   * One label set's series, resolved once: its `observe` is `observe(labels, value)` without the
   * key. After a reset (which drops every series) or once its series was retired, the handle finds
   * or makes its series again.
   */
  series(labels: LabelValues<T>): HistogramSeries {
    // Made on the first observation: a series shows in a scrape once it was observed, as in prom-client.
    let generation = this.generation;
    let s: Series<T> | undefined;
    return {
      observe: (value: number) => {
        if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
        if (s === undefined || generation !== this.generation || s.retired) {
          generation = this.generation;
          s = this.seriesOf(labels);
        }
        this.add(s, value);
      },
    };
  }

  private seriesOf(labels: LabelValues<T>): Series<T> {
    let key = '';
    for (const name of this.names) key += `${labels[name] ?? ''}\u0000`;
    let s = this.byKey.get(key);
    if (s === undefined) {
      s = { labels, counts: this.bounds.map(() => 0), sum: 0, count: 0, retired: false };
      this.byKey.set(key, s);
    }
    return s;
  }

  private add(s: Series<T>, value: number): void {
    s.sum += value;
    s.count += 1;
    const { bounds } = this;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] ?? Number.POSITIVE_INFINITY)) {
        s.counts[i] = (s.counts[i] ?? 0) + 1;
        break;
      }
    }
  }

  /** Drops the series `keep` refuses (SeriesRetirement). */
  retire(keep: KeepSeries): void {
    for (const [key, s] of this.byKey) {
      if (keep(s.labels)) continue;
      this.byKey.delete(key);
      s.retired = true;
    }
  }

  override reset(): void {
    // prom-client's constructor calls reset() before the fields of this class exist.
    (this.byKey as Map<string, Series<T>> | undefined)?.clear();
    this.generation = (this.generation ?? 0) + 1;
    super.reset();
  }

  /** What prom-client's Registry reads (and Histogram.get() splays): the same shape and order as prom-client's own. */
  async getForPromString(): Promise<{ name: string; help: string; type: string; values: ExportValue[]; aggregator: string }> {
    const name = this.metricName;
    const bucket = `${name}_bucket`;
    const values: ExportValue[] = [];
    for (const s of this.byKey.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i] ?? 0;
        values.push({ labels: { le }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${name}_count` });
    }
    return Promise.resolve({ name, help: this.metricHelp, type: 'histogram', values, aggregator: 'sum' });
  }
}
