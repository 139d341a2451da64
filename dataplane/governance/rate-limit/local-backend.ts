import type { BucketReport, LimitCheck, RateLimitBackend, TakeResult } from './backend.js';
import { type BucketState, resetMs, tokensAt, tokensNeeded, waitMs } from './token-bucket.js';

interface LocalBucket extends BucketState {
  limit: number;
  /** When it was last charged, as a count of charges: the least recently charged go first (bound). */
  charged: number;
}

export interface LocalBackendOptions {
  /** Ready data-plane pods sharing the limits (default 1). See setReplicas. */
  replicas?: number;
  /** Buckets kept at most (default 100 000); full buckets are dropped first, then the least recently used. */
  maxBuckets?: number;
  now?: () => number;
}

/**
 * Per-pod token buckets. Each pod enforces limit × share with share = 1 / ready pods, so that the
 * cluster-wide limit holds when a Service spreads traffic evenly. Single-threaded, so each take is
 * atomic without locks.
 */
export class LocalRateLimitBackend implements RateLimitBackend {
  readonly kind = 'local';
  private readonly buckets = new Map<string, LocalBucket>();
  /** Charges so far (LocalBucket.charged). */
  private charges = 0;
  private readonly maxBuckets: number;
  private readonly now: () => number;
  private replicas: number;

  constructor(opts: LocalBackendOptions = {}) {
    this.maxBuckets = opts.maxBuckets ?? 100_000;
    this.now = opts.now ?? Date.now;
    this.replicas = 1;
    this.setReplicas(opts.replicas ?? 1);
  }

  /**
   * The number of ready data-plane pods, including this one. Buckets keep their tokens; capacity
   * and refill rate change at once (tokens above the new capacity are cut off).
   */
  setReplicas(replicas: number): void {
    if (!Number.isInteger(replicas) || replicas < 1) throw new RangeError(`replicas must be an integer >= 1, got ${replicas}`);
    this.replicas = replicas;
  }

  get share(): number {
    return 1 / this.replicas;
  }

  get size(): number {
    return this.buckets.size;
  }

  private capacity(check: LimitCheck): number {
    return check.limit / this.replicas;
  }

  private report(tokens: number, check: LimitCheck, wait: number): BucketReport {
    const capacity = this.capacity(check);
    const clusterWide = Math.floor(Math.max(0, tokens) * this.replicas + 1e-9);
    return { remaining: Math.min(check.limit, clusterWide), waitMs: wait, resetMs: resetMs(tokens, capacity) };
  }

  take(checks: readonly LimitCheck[]): Promise<TakeResult> {
    return Promise.resolve(this.takeSync(checks));
  }

  takeSync(checks: readonly LimitCheck[]): TakeResult {
    const now = this.now();
    const n = checks.length;
    const tokens = new Array<number>(n);
    let admitted = true;
    for (let i = 0; i < n; i++) {
      const c = checks[i] as LimitCheck;
      const capacity = this.capacity(c);
      const t = tokensAt(this.buckets.get(c.key), capacity, now);
      tokens[i] = t;
      if (t < tokensNeeded(c.cost, capacity)) admitted = false;
    }
    const reports = new Array<BucketReport>(n);
    for (let i = 0; i < n; i++) {
      const c = checks[i] as LimitCheck;
      let t = tokens[i] as number;
      if (!admitted) {
        reports[i] = this.report(t, c, waitMs(t, c.cost, this.capacity(c)));
        continue;
      }
      t -= c.cost;
      this.store(c, t, now);
      reports[i] = this.report(t, c, 0);
    }
    if (admitted) this.bound(now);
    return { admitted, reports };
  }

  adjust(checks: readonly LimitCheck[], deltas: readonly number[]): Promise<void> {
    this.adjustSync(checks, deltas);
    return Promise.resolve();
  }

  adjustSync(checks: readonly LimitCheck[], deltas: readonly number[]): void {
    const now = this.now();
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i] as LimitCheck;
      const delta = deltas[i] ?? 0;
      if (delta === 0) continue;
      const capacity = this.capacity(c);
      this.store(c, Math.min(capacity, tokensAt(this.buckets.get(c.key), capacity, now) + delta), now);
    }
  }

  close(): Promise<void> {
    this.buckets.clear();
    return Promise.resolve();
  }

  /** Charged now; a full bucket is dropped (it equals an absent one). */
  private store(check: LimitCheck, tokens: number, now: number): void {
    const bucket = this.buckets.get(check.key);
    if (tokens >= this.capacity(check)) {
      if (bucket !== undefined) this.buckets.delete(check.key);
      return;
    }
    const charged = ++this.charges;
    if (bucket === undefined) {
      this.buckets.set(check.key, { tokens, updatedMs: now, limit: check.limit, charged });
      return;
    }
    // Updated in place: no new object and no delete and re-insert in the map on every request
    // (the map's order is no longer the charge order: `charged` is).
    bucket.tokens = tokens;
    bucket.updatedMs = now;
    bucket.limit = check.limit;
    bucket.charged = charged;
  }

  /**
   * Keeps the map bounded. A full bucket equals an absent one, so those go first; if that is not
   * enough, the least recently charged ones (which gives them a fresh bucket). Sweeps down to 90% so
   * that the linear pass is amortised.
   */
  private bound(now: number): void {
    if (this.buckets.size <= this.maxBuckets) return;
    const target = Math.floor(this.maxBuckets * 0.9);
    for (const [key, b] of this.buckets) {
      const capacity = b.limit / this.replicas;
      if (tokensAt(b, capacity, now) >= capacity) this.buckets.delete(key);
    }
    if (this.buckets.size <= target) return;
    const byCharge = [...this.buckets].sort((a, b) => a[1].charged - b[1].charged);
    for (const [key] of byCharge) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}
