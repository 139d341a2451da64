import type { TargetConfig } from '../config/snapshot.js';
import { targetKey } from './configured-targets.js';

interface Stats {
  inflight: number;
  /** Exponentially weighted moving average of time to first byte, ms; undefined until measured. */
  latencyMs: number | undefined;
  /** Sequence number of the last latency observation (0 = never). */
  measuredSeq: number;
}

const ALPHA = 0.2;
/** least-latency explores (tries the least recently measured target first) once in this many orderings. */
export const EXPLORE_EVERY = 20;

/**
 * Live load and latency per provider + upstream model, shared by every route and kept across snapshot
 * swaps (requests on an old snapshot still count against the same upstream).
 */
export class TargetStats {
  private readonly targets = new Map<string, Stats>();
  private readonly providers = new Map<string, number>();
  private observations = 0;
  private orderings = 0;

  private key(t: TargetConfig): string {
    return targetKey(t);
  }

  /** Forgets the targets not in `configured` (configuredTargets) with no attempt in flight; one in flight is forgotten at a later call. */
  retainOnly(configured: ReadonlySet<string>): void {
    for (const [key, s] of this.targets) if (s.inflight === 0 && !configured.has(key)) this.targets.delete(key);
  }

  private get(t: TargetConfig): Stats {
    const k = this.key(t);
    let s = this.targets.get(k);
    if (s === undefined) {
      s = { inflight: 0, latencyMs: undefined, measuredSeq: 0 };
      this.targets.set(k, s);
    }
    return s;
  }

  inflight(t: TargetConfig): number {
    return this.targets.get(this.key(t))?.inflight ?? 0;
  }

  latency(t: TargetConfig): number | undefined {
    return this.targets.get(this.key(t))?.latencyMs;
  }

  /** Orders of least-latency measurements: lower = measured longer ago. */
  measuredSeq(t: TargetConfig): number {
    return this.targets.get(this.key(t))?.measuredSeq ?? 0;
  }

  /** True once every EXPLORE_EVERY calls: a deterministic bit of exploration for least-latency. */
  explore(): boolean {
    this.orderings = (this.orderings + 1) % EXPLORE_EVERY;
    return this.orderings === 0;
  }

  providerInflight(providerId: string): number {
    return this.providers.get(providerId) ?? 0;
  }

  /** Marks an attempt as started; the returned function ends it exactly once. */
  start(t: TargetConfig): () => void {
    const s = this.get(t);
    s.inflight++;
    this.providers.set(t.providerId, (this.providers.get(t.providerId) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      s.inflight--;
      const n = (this.providers.get(t.providerId) ?? 1) - 1;
      if (n === 0) this.providers.delete(t.providerId);
      else this.providers.set(t.providerId, n);
    };
  }

  observeLatency(t: TargetConfig, ms: number): void {
    const s = this.get(t);
    s.latencyMs = s.latencyMs === undefined ? ms : s.latencyMs + ALPHA * (ms - s.latencyMs);
    s.measuredSeq = ++this.observations;
  }
}
