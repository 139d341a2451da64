import type { TargetConfig } from '../config/snapshot.js';

interface Stats {
  inflight: number;
  /** Exponentially weighted moving average of time to first byte, ms; undefined until measured. */
  latencyMs: number | undefined;
}

const ALPHA = 0.2;

/**
 * Live load and latency per provider + upstream model, shared by every route and kept across snapshot
 * swaps (requests on an old snapshot still count against the same upstream).
 */
export class TargetStats {
  private readonly targets = new Map<string, Stats>();
  private readonly providers = new Map<string, number>();

  private key(t: TargetConfig): string {
    return `${t.providerId}\u0000${t.model}`;
  }

  private get(t: TargetConfig): Stats {
    const k = this.key(t);
    let s = this.targets.get(k);
    if (s === undefined) {
      s = { inflight: 0, latencyMs: undefined };
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
  }
}
