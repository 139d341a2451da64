import { Counter, type CounterConfiguration, type LabelValues } from 'prom-client';

interface Pending<T extends string> {
  labels: LabelValues<T>;
  value: number;
  /** Incremented since the last read (by 0 too: prom-client shows a series once it was incremented at all). */
  dirty: boolean;
}

/**
 * A prom-client Counter fed through a Map of sums per label set (keyed by the label values in
 * `labelNames` order), handed over whenever the counter is read (a scrape, or `get()`). On the
 * request path an increment is a string join and a Map lookup, not prom-client's label validation
 * and hashing per call; what a scrape shows is the same.
 */
export class SummedCounter<T extends string> {
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
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    if (value < 0) throw new Error('It is not possible to decrease a counter');
    let key = '';
    for (const name of this.names) key += `${labels[name] ?? ''}\u0000`;
    const p = this.pending.get(key);
    if (p === undefined) this.pending.set(key, { labels, value, dirty: true });
    else {
      p.value += value;
      p.dirty = true;
    }
  }
}
