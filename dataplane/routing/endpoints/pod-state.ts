import type { PodLoad } from '../../providers/types.js';
import type { PodView } from './pod-scoring.js';

/** Per-pod settings, from the provider's pod settings (RuntimeProvider.podLoad). */
export interface PodSettings {
  scrapeIntervalMs: number;
  scrapeTimeoutMs: number;
  staleAfterMs: number;
  metricsPath: string;
  healthPath: string;
  unhealthyThreshold: number;
}

/**
 * Everything the gateway knows about one pod, keyed by its base URL so that it survives snapshot
 * swaps: its own requests in flight, the last scrape, health and a short cool-down after the pod
 * pushed back. It also keeps a processor-sharing clock for GPU-second metering: while n requests
 * share the pod, each is charged 1/n of the elapsed time, n being the larger of the gateway's own
 * in-flight count and the pod's reported running batch (which includes other gateway replicas).
 */
export class PodState {
  outstanding = 0;
  private metrics: PodLoad | undefined;
  private metricsAt = Number.NEGATIVE_INFINITY;
  private healthFailures = 0;
  private coolUntil = 0;
  /** Seconds each request has been charged since the state was created. */
  private shareClock = 0;
  private shareAt: number;

  constructor(
    readonly url: string,
    now: number,
  ) {
    this.shareAt = now;
  }

  private divisor(now: number, staleAfterMs: number): number {
    const running = now - this.metricsAt <= staleAfterMs ? (this.metrics?.running ?? 0) : 0;
    return Math.max(1, this.outstanding, running);
  }

  /** Advances the sharing clock to `now` under the current divisor; call before anything changes it. */
  private advance(now: number, staleAfterMs: number): void {
    if (now <= this.shareAt) return;
    // The reported batch stops counting when it goes stale: split the interval there.
    const staleAt = this.metricsAt + staleAfterMs;
    if (staleAt > this.shareAt && staleAt < now) {
      this.shareClock += (staleAt - this.shareAt) / 1000 / this.divisor(this.shareAt, staleAfterMs);
      this.shareAt = staleAt;
    }
    this.shareClock += (now - this.shareAt) / 1000 / this.divisor(this.shareAt + 1, staleAfterMs);
    this.shareAt = now;
  }

  clock(now: number, staleAfterMs: number): number {
    this.advance(now, staleAfterMs);
    return this.shareClock;
  }

  begin(now: number, staleAfterMs: number): void {
    this.advance(now, staleAfterMs);
    this.outstanding++;
  }

  end(now: number, staleAfterMs: number): void {
    this.advance(now, staleAfterMs);
    this.outstanding = Math.max(0, this.outstanding - 1);
  }

  observeMetrics(metrics: PodLoad, now: number, staleAfterMs: number): void {
    this.advance(now, staleAfterMs);
    this.metrics = metrics;
    this.metricsAt = now;
  }

  observeHealth(ok: boolean): void {
    this.healthFailures = ok ? 0 : this.healthFailures + 1;
  }

  /** Keeps the pod out of picks until `until` (after a 429/503 or a refused connection). */
  coolDown(until: number): void {
    this.coolUntil = Math.max(this.coolUntil, until);
  }

  /** Milliseconds of cool-down left, 0 when none. */
  coolingFor(now: number): number {
    return Math.max(0, this.coolUntil - now);
  }

  view(now: number, settings: Pick<PodSettings, 'staleAfterMs' | 'unhealthyThreshold'>): PodView {
    const view: PodView = {
      url: this.url,
      outstanding: this.outstanding,
      available: this.healthFailures < settings.unhealthyThreshold && now >= this.coolUntil,
    };
    // Metrics older than staleAfter say nothing any more: the pod is judged by the gateway's own count.
    if (this.metrics !== undefined && now - this.metricsAt <= settings.staleAfterMs) view.metrics = this.metrics;
    return view;
  }
}
