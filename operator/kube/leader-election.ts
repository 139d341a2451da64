import type { Logger } from 'pino';
import { MAX_TERM } from '../../dataplane/config/snapshot-envelope.js';
import { KubeError, type KubeClient } from './kube-client.js';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** RFC 3339 with microseconds, the MicroTime format Lease fields require. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

/**
 * Lease-based leader election (coordination.k8s.io/v1), the same protocol as client-go: take the
 * Lease when it is free or expired, renew it every retry period, and give up leadership when a
 * renewal has not succeeded within the renew deadline. Updates use optimistic concurrency.
 *
 * Fenced in time: every attempt is aborted when it would outlast the renew deadline, and the
 * deadline runs on its own timer, so a leader whose API calls hang stops leading at the deadline
 * rather than when a 30 s request timeout fires (a standby takes over after the lease duration).
 * Expiry is judged by this replica's clock only: when it first saw the current lease record, as
 * client-go does, never the holder's renewTime (another clock).
 *
 * Each acquisition raises the Lease's leaseTransitions; the leader's term is that count + 1. The
 * term goes into every snapshot, and data-plane pods refuse a lower term: a deposed leader cannot
 * replace its successor's snapshot even while it still believes it leads.
 */
export class LeaderElector {
  private leading = false;
  private stopped = false;
  private ticking = false;
  private timer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** When the last successful renewal started (this replica's clock). */
  private renewedAt = 0;
  private currentTerm = 0;
  /** A term some data-plane pod serves: the next write of the Lease takes its count above it. */
  private termFloor = 0;
  /** The lease record last seen and when this replica first saw it. */
  private observed: { record: string; at: number } | undefined;
  /** confirm() came while a renewal ran (it may have read the Lease before the new floor): one more after it. */
  private again = false;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
    private readonly callbacks: {
      onStartedLeading: () => void;
      onStoppedLeading: () => void;
      /**
       * The term changed while leading (a deleted Lease recreated at 0, raised above a pod's term):
       * what was published under the old one must be published again under the new one.
       */
      onTermChanged?: (term: number) => void;
    },
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** The term of the current (or last) leadership: the Lease's leaseTransitions + 1, 0 before any. */
  get term(): number {
    return this.currentTerm;
  }

  start(): void {
    void this.tick();
  }

  /**
   * A data-plane pod serves `podTerm`, not below ours: another replica has led since we took the
   * Lease (we are deposed), or the Lease was deleted and recreated, its count restarting at 0. Reads
   * the Lease at once: another holder ends our leadership now; if we still hold it, the renewal
   * raises leaseTransitions above `podTerm` (a compare-and-swap, like every write), so that our
   * snapshots are taken again.
   */
  async confirm(podTerm: number): Promise<void> {
    this.termFloor = Math.max(this.termFloor, Math.min(podTerm, MAX_TERM - 1));
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    await this.tick();
  }

  /** Stops campaigning; a leader releases the Lease so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.leading) {
      this.setLeading(false);
      try {
        const signal = AbortSignal.timeout(this.opts.renewDeadlineMs);
        const lease = await this.get(signal);
        if (lease?.spec.holderIdentity === this.opts.identity) {
          lease.spec.holderIdentity = null;
          lease.spec.leaseDurationSeconds = 1;
          await this.client.request('PUT', this.path(), lease, 'application/json', signal);
        }
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'could not release the lease');
      }
    }
  }

  private path(name = this.opts.name): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases${name ? `/${name}` : ''}`;
  }

  private async get(signal: AbortSignal): Promise<Lease | undefined> {
    try {
      return await this.client.request<Lease>('GET', this.path(), undefined, 'application/json', signal);
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  private setLeading(leading: boolean): void {
    if (!leading) clearTimeout(this.deadlineTimer);
    if (leading === this.leading) return;
    this.leading = leading;
    this.logger.info({ identity: this.opts.identity, leading, term: this.currentTerm }, leading ? 'became leader' : 'lost leadership');
    if (leading) this.callbacks.onStartedLeading();
    else this.callbacks.onStoppedLeading();
  }

  /** Remembers when this replica first saw this lease record; any write changes its resourceVersion. */
  private observe(lease: Lease): void {
    const record = JSON.stringify([lease.metadata.resourceVersion ?? '', lease.spec.holderIdentity ?? '', lease.spec.renewTime ?? '', lease.spec.leaseTransitions ?? 0]);
    if (this.observed?.record !== record) this.observed = { record, at: this.now() };
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const lease = await this.get(signal);
    const now = this.now();
    const durationS = Math.ceil(this.opts.leaseDurationMs / 1000);
    if (lease === undefined) {
      const transitions = this.termFloor;
      const created = await this.client.request<Lease>(
        'POST',
        this.path(''),
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: { holderIdentity: this.opts.identity, leaseDurationSeconds: durationS, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: transitions },
        },
        'application/json',
        signal,
      );
      this.observe(created);
      this.setTerm(transitions + 1);
      return true;
    }
    this.observe(lease);
    const holder = lease.spec.holderIdentity ?? '';
    const seenAt = this.observed?.at ?? now;
    const expired = seenAt + (lease.spec.leaseDurationSeconds ?? durationS) * 1000 < now;
    if (holder !== '' && holder !== this.opts.identity && !expired) return false;
    const spec = { ...lease.spec, holderIdentity: this.opts.identity, leaseDurationSeconds: durationS, renewTime: microTime(now) };
    if (holder !== this.opts.identity) {
      spec.acquireTime = microTime(now);
      spec.leaseTransitions = (lease.spec.leaseTransitions ?? 0) + 1;
    }
    spec.leaseTransitions = Math.max(spec.leaseTransitions ?? 0, this.termFloor);
    // The resourceVersion makes this a compare-and-swap: a concurrent writer gets 409 and loses.
    const written = await this.client.request<Lease>('PUT', this.path(), { ...lease, spec }, 'application/json', signal);
    this.observe(written);
    this.setTerm(spec.leaseTransitions + 1);
    return true;
  }

  private setTerm(term: number): void {
    if (term === this.currentTerm) return;
    this.currentTerm = term;
    // A leader that becomes one is told by onStartedLeading (its reconcile publishes the term).
    if (this.leading) this.callbacks.onTermChanged?.(term);
  }

  /** Stops leading when the renew deadline passes without a renewal, whatever the requests are doing. */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const left = this.renewedAt + this.opts.renewDeadlineMs - this.now();
    this.deadlineTimer = setTimeout(() => {
      if (!this.leading || this.now() - this.renewedAt < this.opts.renewDeadlineMs) return;
      this.logger.warn({ renewDeadlineMs: this.opts.renewDeadlineMs }, 'lease not renewed within the renew deadline');
      this.setLeading(false);
    }, Math.max(0, left));
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.ticking = true;
    const started = this.now();
    // A leader's attempt may last only until its deadline; a candidate's at most one renew deadline.
    const budget = this.leading ? this.renewedAt + this.opts.renewDeadlineMs - started : this.opts.renewDeadlineMs;
    try {
      const ok = await this.tryAcquireOrRenew(AbortSignal.timeout(Math.max(1, budget)));
      if (ok && !this.stopped) {
        // The start of the attempt, not its end: others date the record from when they saw it, later.
        this.renewedAt = started;
        this.armDeadline();
        this.setLeading(true);
      } else if (!ok) {
        this.setLeading(false);
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'lease update failed');
      if (this.leading && this.now() - this.renewedAt >= this.opts.renewDeadlineMs) this.setLeading(false);
    } finally {
      this.ticking = false;
    }
    if (!this.stopped) {
      clearTimeout(this.timer);
      const again = this.again;
      this.again = false;
      this.timer = setTimeout(() => void this.tick(), again ? 0 : this.opts.retryPeriodMs);
    }
  }
}
