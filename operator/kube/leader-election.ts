import type { Logger } from 'pino';
import { MAX_TERM } from '../../dataplane/config/snapshot-envelope.js';
import { KubeError, type KubeClient } from './kube-client.js';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string; annotations?: Record<string, string> };
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
  /**
   * The Lease operators of an older chart use (`tollgate-operator`) when `name` is another one: it
   * is co-held while leading (see LeaderElector), so that a rolling upgrade never has an old and a
   * new replica leading at once.
   */
  legacyName?: string;
}

/**
 * Marks a Lease a replica holds only to keep older replicas of its own Deployment from leading (the
 * value names the Lease it leads under). Another Deployment whose own Lease this is may take it.
 */
export const CO_HOLD_ANNOTATION = 'tollgate.dev/co-held-for';

/** The Deployment a pod name belongs to (`<deployment>-<template hash>-<suffix>`); undefined for another shape. */
function deploymentOf(identity: string): string | undefined {
  const parts = identity.split('-');
  return parts.length >= 3 ? parts.slice(0, -2).join('-') : undefined;
}

/** Whether `holder` may be a replica of this replica's Deployment; when either name is not a pod's, assume so (wait rather than lead twice). */
function sameDeployment(holder: string, identity: string): boolean {
  const a = deploymentOf(holder);
  const b = deploymentOf(identity);
  return a === undefined || b === undefined || a === b;
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
 *
 * With `legacyName` (the Lease was renamed per release, and replicas of an older chart of this
 * release may still campaign for the old name during a rolling upgrade) a replica leads only when it
 * also holds the legacy Lease or that Lease is none of its Deployment's business: absent (no older
 * replica ever ran here), or held, unexpired, by a pod of another Deployment (another release whose
 * own Lease has that name). While a pod of its own Deployment holds it, unexpired, the replica does
 * not lead: an older replica leads. Otherwise it takes the legacy Lease with the same compare-and-swap
 * as its own and renews it with every renewal, marked CO_HOLD_ANNOTATION: older replicas (which
 * respect any holder) wait, and an operator of another release whose own Lease this is takes it over.
 * Its term starts above the legacy Lease's, so data-plane pods take its snapshots over an older
 * leader's; the legacy Lease carries its count on, so an older replica that takes it back later
 * starts above it.
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
  /** Per Lease name: the record last seen and when this replica first saw it. */
  private readonly observed = new Map<string, { record: string; at: number }>();
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
      const signal = AbortSignal.timeout(this.opts.renewDeadlineMs);
      // Both at once rather than waiting out their expiry: leadership has already ended here.
      for (const name of this.opts.legacyName === undefined ? [this.opts.name] : [this.opts.legacyName, this.opts.name]) {
        try {
          const lease = await this.get(signal, name);
          if (lease?.spec.holderIdentity === this.opts.identity) {
            lease.spec.holderIdentity = null;
            lease.spec.leaseDurationSeconds = 1;
            await this.client.request('PUT', this.path(name), lease, 'application/json', signal);
          }
        } catch (err) {
          this.logger.warn({ err: (err as Error).message, lease: name }, 'could not release the lease');
        }
      }
    }
  }

  private path(name = this.opts.name): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases${name ? `/${name}` : ''}`;
  }

  private async get(signal: AbortSignal, name = this.opts.name): Promise<Lease | undefined> {
    try {
      return await this.client.request<Lease>('GET', this.path(name), undefined, 'application/json', signal);
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
    if (this.observed.get(lease.metadata.name)?.record !== record) this.observed.set(lease.metadata.name, { record, at: this.now() });
  }

  /** Whether a Lease's holder, as this replica has seen it, has not renewed it for the lease duration. */
  private expired(lease: Lease, now: number): boolean {
    const seenAt = this.observed.get(lease.metadata.name)?.at ?? now;
    return seenAt + (lease.spec.leaseDurationSeconds ?? Math.ceil(this.opts.leaseDurationMs / 1000)) * 1000 < now;
  }

  /**
   * The legacy Lease's say: 'mine' (renew it), 'take' (free or expired: take it), 'blocked' (a pod of
   * this Deployment, an older replica, holds it) or 'ignore' (absent, or another Deployment's).
   */
  private legacyVerdict(lease: Lease | undefined, now: number): 'mine' | 'take' | 'blocked' | 'ignore' {
    if (lease === undefined) return 'ignore';
    this.observe(lease);
    const holder = lease.spec.holderIdentity ?? '';
    if (holder === this.opts.identity) return 'mine';
    if (holder === '' || this.expired(lease, now)) return 'take';
    return sameDeployment(holder, this.opts.identity) ? 'blocked' : 'ignore';
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const legacyName = this.opts.legacyName !== undefined && this.opts.legacyName !== this.opts.name ? this.opts.legacyName : undefined;
    const legacy = legacyName === undefined ? undefined : await this.get(signal, legacyName);
    const verdict = this.legacyVerdict(legacy, this.now());
    if (verdict === 'blocked') return false;
    // Above the older leader's term (legacy count + 1), so that pods take this replica's snapshots.
    if (verdict === 'take' && legacy !== undefined) this.termFloor = Math.max(this.termFloor, Math.min((legacy.spec.leaseTransitions ?? 0) + 1, MAX_TERM - 1));
    if (!(await this.acquireOwn(signal))) return false;
    if (legacy !== undefined && (verdict === 'take' || verdict === 'mine')) await this.holdLegacy(legacy, verdict === 'take', signal);
    return true;
  }

  /** Takes or renews the legacy Lease (compare-and-swap: an older replica writing at once gets 409, or this one does and does not lead). */
  private async holdLegacy(lease: Lease, take: boolean, signal: AbortSignal): Promise<void> {
    const now = this.now();
    const counted = (lease.spec.leaseTransitions ?? 0) + (take ? 1 : 0);
    const spec = {
      ...lease.spec,
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.opts.leaseDurationMs / 1000),
      renewTime: microTime(now),
      ...(take ? { acquireTime: microTime(now) } : {}),
      leaseTransitions: Math.min(Math.max(counted, this.currentTerm - 1), MAX_TERM - 1),
    };
    const metadata = { ...lease.metadata, annotations: { ...lease.metadata.annotations, [CO_HOLD_ANNOTATION]: this.opts.name } };
    const written = await this.client.request<Lease>('PUT', this.path(lease.metadata.name), { ...lease, metadata, spec }, 'application/json', signal);
    this.observe(written);
  }

  private async acquireOwn(signal: AbortSignal): Promise<boolean> {
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
    // A replica of another release holds this Lease only to fence its own older replicas (their
    // Lease had this name): it is this Deployment's to take. Its own Deployment's replicas wait.
    const coHeld = lease.metadata.annotations?.[CO_HOLD_ANNOTATION] !== undefined && !sameDeployment(holder, this.opts.identity);
    if (holder !== '' && holder !== this.opts.identity && !this.expired(lease, now) && !coHeld) return false;
    const spec = { ...lease.spec, holderIdentity: this.opts.identity, leaseDurationSeconds: durationS, renewTime: microTime(now) };
    if (holder !== this.opts.identity) {
      spec.acquireTime = microTime(now);
      spec.leaseTransitions = (lease.spec.leaseTransitions ?? 0) + 1;
    }
    spec.leaseTransitions = Math.max(spec.leaseTransitions ?? 0, this.termFloor);
    const annotations = { ...lease.metadata.annotations };
    delete annotations[CO_HOLD_ANNOTATION];
    // The resourceVersion makes this a compare-and-swap: a concurrent writer gets 409 and loses.
    const written = await this.client.request<Lease>('PUT', this.path(), { ...lease, metadata: { ...lease.metadata, annotations }, spec }, 'application/json', signal);
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
