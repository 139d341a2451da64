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
 * The gateway's own requests in flight to one pod URL, counted over every Provider that lists it:
 * that is the real load on the pod, whoever sends it. The states sharing it are advanced before it changes.
 */
export class PodInFlight {
  count = 0;
  readonly states = new Set<PodState>();
}

/**
 * What one Provider knows about one of its pods, keyed by Provider and base URL so that it
 * survives snapshot swaps: the last scrape with the Provider's own settings, health and a short
 * cool-down after the pod pushed back; only the in-flight count is shared with other Providers
 * listing the same URL. A Provider naming another team's pod with a bad health path thus drains
 * the pod for itself alone. It also keeps a processor-sharing clock for GPU-second metering: while
 * n requests share the pod, each is charged 1/n of the elapsed time, n being the larger of the
 * gateway's in-flight count and the pod's reported running batch (which includes other gateway replicas).
 */
export class PodState {
  private metrics: PodLoad | undefined;
  private metricsAt = Number.NEGATIVE_INFINITY;
  private healthFailures = 0;
  private coolUntil = 0;
  /** Failed answers (5xx, timeouts, connection errors) in a row from this pod. */
  private failuresInRow = 0;
  /** Seconds each request has been charged since the state was created. */
  private shareClock = 0;
  private shareAt: number;
  /** The staleAfter last used, for advancing this clock when another Provider's request changes the shared count. */
  private staleAfterMs = 0;

  constructor(
    readonly url: string,
    now: number,
    readonly inFlight: PodInFlight = new PodInFlight(),
  ) {
    this.shareAt = now;
    inFlight.states.add(this);
  }

  /** The gateway's requests in flight to this pod, through any Provider. */
  get outstanding(): number {
    return this.inFlight.count;
  }

  /** Stops sharing the in-flight count (the state is forgotten; a lease still held keeps counting down). */
  detach(): void {
    this.inFlight.states.delete(this);
  }

  private divisor(now: number, staleAfterMs: number): number {
    const running = now - this.metricsAt <= staleAfterMs ? (this.metrics?.running ?? 0) : 0;
    return Math.max(1, this.outstanding, running);
  }

  /** Advances the sharing clock to `now` under the current divisor; call before anything changes it. */
  private advance(now: number, staleAfterMs: number): void {
    this.staleAfterMs = staleAfterMs;
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

  /** Every clock that divides by the shared count runs up to now under the old count before it changes. */
  private advanceSharers(now: number, staleAfterMs: number): void {
    this.advance(now, staleAfterMs);
    for (const s of this.inFlight.states) if (s !== this) s.advance(now, s.staleAfterMs);
  }

  begin(now: number, staleAfterMs: number): void {
    this.advanceSharers(now, staleAfterMs);
    this.inFlight.count++;
  }

  end(now: number, staleAfterMs: number): void {
    this.advanceSharers(now, staleAfterMs);
    this.inFlight.count = Math.max(0, this.inFlight.count - 1);
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

  /** Counts a failed answer; returns how many came in a row. */
  failed(): number {
    return ++this.failuresInRow;
  }

  /** The pod answered: its run of failures is over. */
  answered(): void {
    this.failuresInRow = 0;
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
