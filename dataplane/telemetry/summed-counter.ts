import { Counter, type CounterConfiguration, type LabelValues } from 'prom-client';
import type { KeepSeries, RetirableMetric } from './series-retirement.js';

interface Pending<T extends string> {
  labels: LabelValues<T>;
  value: number;
  /** Incremented since the last read (by 0 too: prom-client shows a series once it was incremented at all). */
  dirty: boolean;
  /** Dropped by retire(): a handle still holding it makes or finds its series again. */
  retired: boolean;
}

/**
 * A prom-client Counter fed through a Map of sums per label set (keyed by the label values in
 * `labelNames` order), handed over whenever the counter is read (a scrape, or `get()`). On the
 * request path an increment is a string join and a Map lookup, not prom-client's label validation
 * and hashing per call; what a scrape shows is the same.
 */
export class SummedCounter<T extends string> implements RetirableMetric {
  readonly counter: Counter<T>;
  private readonly names: readonly T[];
  private readonly pending = new Map<string, Pending<T>>();

  constructor(config: CounterConfiguration<T>) {
    this.names = config.labelNames ?? [];
    const pending = this.pending;
    this.counter = new Counter<T>({
      ...config,
      collect() {
        for (const p of pending.values()) {
          if (!p.dirty) continue;
          this.inc(p.labels, p.value);
          p.value = 0;
          p.dirty = false;
        }
      },
    });
  }

  /** As Counter.inc, and refused the same way: a negative or non-finite value throws here, at the caller. */
  inc(labels: LabelValues<T>, value = 1): void {
    add(this.pendingOf(labels), value);
  }

  /**
   * One label set's series, resolved once: its `inc` is `inc(labels, value)` without the key. A
   * handle whose series was retired makes it again on its next increment (a counter reset, to
   * Prometheus), so it stays valid for the counter's life.
   */
  series(labels: LabelValues<T>): CounterSeries {
    let p = this.pendingOf(labels);
    return {
      inc: (value = 1) => {
        if (p.retired) p = this.pendingOf(labels);
        add(p, value);
      },
    };
  }

  /** Drops the series `keep` refuses, here and in the prom-client counter (SeriesRetirement). */
  retire(keep: KeepSeries): void {
    for (const [key, p] of this.pending) {
      if (keep(p.labels)) continue;
      this.pending.delete(key);
      p.retired = true;
      this.counter.remove(p.labels);
    }
  }

  private pendingOf(labels: LabelValues<T>): Pending<T> {
    let key = '';
    for (const name of this.names) key += `${labels[name] ?? ''}\u0000`;
    let p = this.pending.get(key);
    if (p === undefined) {
      // Shown from its first increment on (by 0 too), as before: a resolved series not yet incremented is not shown.
      p = { labels, value: 0, dirty: false, retired: false };
      this.pending.set(key, p);
    }
    return p;
  }
}

/** A counter series resolved by SummedCounter.series. */
export interface CounterSeries {
  inc(value?: number): void;
}

function add<T extends string>(p: Pending<T>, value: number): void {
  if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
  if (value < 0) throw new Error('It is not possible to decrease a counter');
  p.value += value;
  p.dirty = true;
}
