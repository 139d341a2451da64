import type { OutlierDetectionConfig, TargetConfig } from '../../config/snapshot.js';
import { targetKey } from '../configured-targets.js';

/** closed: serving; open: ejected until the cooldown ends; half_open: one probe request decides. */
export type HealthState = 'closed' | 'open' | 'half_open';

interface Entry {
  providerId: string;
  model: string;
  state: HealthState;
  consecutiveFailures: number;
  windowStart: number;
  windowAttempts: number;
  windowFailures: number;
  /** Ejections in a row (reset once the target stayed healthy for maxEjectionMs). */
  ejections: number;
  ejectedUntil: number;
  closedAt: number;
  probeInflight: boolean;
}

export interface TargetHealthView {
  state: HealthState;
  ejections: number;
  /** Set when the provider failed its active health check. */
  activeFailure?: string;
  /** Remaining cooldown when open. */
  ejectedForMs?: number;
}

export interface TargetHealthOptions {
  now?: () => number;
  /** Every state change (the observer's circuitState gauge). */
  onState?: (providerId: string, model: string, state: HealthState) => void;
}

/**
 * Passive health per target (provider + upstream model), shared by every route and kept across
 * snapshot swaps, like TargetStats. Consecutive failures, or an error rate in a window, eject the
 * target for a cooldown that doubles on each repeated ejection (up to maxEjectionMs); when it ends
 * the target is half-open: one attempt probes it and its result closes or re-opens the circuit.
 * Only upstream failures count (5xx, timeouts, connection errors); client errors and 429s do not.
 */
export class TargetHealth {
  private readonly entries = new Map<string, Entry>();
  /** Providers whose active health check fails, with why. */
  private readonly downProviders = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly opts: TargetHealthOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  private key(t: TargetConfig): string {
    return targetKey(t);
  }

  /**
   * Forgets the passive health of targets not in `configured` (configuredTargets): one configured
   * again starts closed, and its state is reported so (the circuit gauge would otherwise still
   * show an ejection it no longer has).
   */
  retainOnly(configured: ReadonlySet<string>): void {
    for (const [key, e] of this.entries) {
      if (e.probeInflight || configured.has(key)) continue;
      this.entries.delete(key);
      this.set(e, 'closed');
    }
  }

  private entry(t: TargetConfig): Entry {
    const k = this.key(t);
    let e = this.entries.get(k);
    if (e === undefined) {
      const now = this.now();
      e = {
        providerId: t.providerId,
        model: t.model,
        state: 'closed',
        consecutiveFailures: 0,
        windowStart: now,
        windowAttempts: 0,
        windowFailures: 0,
        ejections: 0,
        ejectedUntil: 0,
        closedAt: now,
        probeInflight: false,
      };
      this.entries.set(k, e);
    }
    return e;
  }

  private set(e: Entry, state: HealthState): void {
    if (e.state === state) return;
    e.state = state;
    this.opts.onState?.(e.providerId, e.model, state);
  }

  /** Moves an open target whose cooldown is over to half-open. */
  private refresh(e: Entry): void {
    if (e.state === 'open' && this.now() >= e.ejectedUntil) this.set(e, 'half_open');
  }

  /** Active health: the provider's probes fail (reason) or pass again (undefined). */
  markProvider(providerId: string, failing: string | undefined): void {
    if (failing === undefined) this.downProviders.delete(providerId);
    else this.downProviders.set(providerId, failing);
  }

  /** Whether the target may be tried now: its provider passes active checks, and it is closed or half-open with no probe in flight. */
  available(t: TargetConfig, config: OutlierDetectionConfig | undefined): boolean {
    if (this.downProviders.has(t.providerId)) return false;
    if (config === undefined) return true;
    const e = this.entries.get(this.key(t));
    if (e === undefined) return true;
    this.refresh(e);
    return e.state === 'closed' || (e.state === 'half_open' && !e.probeInflight);
  }

  view(t: TargetConfig): TargetHealthView {
    const down = this.downProviders.get(t.providerId);
    if (down !== undefined) return { state: 'open', ejections: 0, activeFailure: down };
    const e = this.entries.get(this.key(t));
    if (e === undefined) return { state: 'closed', ejections: 0 };
    this.refresh(e);
    return e.state === 'open' ? { state: e.state, ejections: e.ejections, ejectedForMs: Math.max(0, e.ejectedUntil - this.now()) } : { state: e.state, ejections: e.ejections };
  }

  /** An attempt starts; a half-open target's attempt is its probe. */
  begin(t: TargetConfig, config: OutlierDetectionConfig | undefined): void {
    if (config === undefined) return;
    const e = this.entries.get(this.key(t));
    if (e === undefined) return;
    this.refresh(e);
    if (e.state === 'half_open') e.probeInflight = true;
  }

  /** The attempt ended without a verdict on the upstream (the client went away). */
  abandon(t: TargetConfig): void {
    const e = this.entries.get(this.key(t));
    if (e !== undefined) e.probeInflight = false;
  }

  success(t: TargetConfig, config: OutlierDetectionConfig | undefined): void {
    if (config === undefined) return;
    const e = this.entries.get(this.key(t));
    if (e === undefined) return;
    e.probeInflight = false;
    e.consecutiveFailures = 0;
    this.count(e, config, false);
    if (e.state !== 'closed') {
      e.closedAt = this.now();
      this.resetWindow(e);
      this.set(e, 'closed');
    }
  }

  failure(t: TargetConfig, config: OutlierDetectionConfig | undefined): void {
    if (config === undefined) return;
    const e = this.entry(t);
    e.probeInflight = false;
    if (e.state === 'half_open') return this.eject(e, config);
    if (e.state === 'open') return;
    e.consecutiveFailures++;
    this.count(e, config, true);
    const rate = config.errorRateThreshold;
    const byRate = rate !== undefined && e.windowAttempts >= config.errorRateMinRequests && e.windowFailures / e.windowAttempts >= rate;
    if (e.consecutiveFailures >= config.consecutiveFailures || byRate) this.eject(e, config);
  }

  private count(e: Entry, config: OutlierDetectionConfig, failed: boolean): void {
    const now = this.now();
    if (now - e.windowStart >= config.windowMs) {
      e.windowStart = now;
      e.windowAttempts = 0;
      e.windowFailures = 0;
    }
    e.windowAttempts++;
    if (failed) e.windowFailures++;
  }

  private resetWindow(e: Entry): void {
    e.windowStart = this.now();
    e.windowAttempts = 0;
    e.windowFailures = 0;
  }

  private eject(e: Entry, config: OutlierDetectionConfig): void {
    const now = this.now();
    // A target that stayed healthy long enough starts again from the base cooldown.
    if (e.state === 'closed' && now - e.closedAt >= config.maxEjectionMs) e.ejections = 0;
    e.ejections++;
    const cooldown = Math.min(config.baseEjectionMs * 2 ** Math.min(e.ejections - 1, 30), config.maxEjectionMs);
    e.ejectedUntil = now + cooldown;
    e.consecutiveFailures = 0;
    this.resetWindow(e);
    this.set(e, 'open');
  }
}
