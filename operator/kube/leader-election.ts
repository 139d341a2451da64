import type { Logger } from 'pino';
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
 */
export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
    private readonly callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void },
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  /** Stops campaigning; a leader releases the Lease so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.leading) {
      this.setLeading(false);
      try {
        const lease = await this.get();
        if (lease?.spec.holderIdentity === this.opts.identity) {
          lease.spec.holderIdentity = null;
          lease.spec.leaseDurationSeconds = 1;
          await this.client.request('PUT', this.path(), lease);
        }
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'could not release the lease');
      }
    }
  }

  private path(name = this.opts.name): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases${name ? `/${name}` : ''}`;
  }

  private async get(): Promise<Lease | undefined> {
    try {
      return await this.client.request<Lease>('GET', this.path());
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.logger.info({ identity: this.opts.identity, leading }, leading ? 'became leader' : 'lost leadership');
    if (leading) this.callbacks.onStartedLeading();
    else this.callbacks.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    const lease = await this.get();
    const durationS = Math.ceil(this.opts.leaseDurationMs / 1000);
    if (lease === undefined) {
      await this.client.request('POST', this.path(''), {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: { holderIdentity: this.opts.identity, leaseDurationSeconds: durationS, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
      });
      return true;
    }
    const holder = lease.spec.holderIdentity ?? '';
    const renewed = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = renewed + (lease.spec.leaseDurationSeconds ?? durationS) * 1000 < now;
    if (holder !== '' && holder !== this.opts.identity && !expired) return false;
    const spec = { ...lease.spec, holderIdentity: this.opts.identity, leaseDurationSeconds: durationS, renewTime: microTime(now) };
    if (holder !== this.opts.identity) {
      spec.acquireTime = microTime(now);
      spec.leaseTransitions = (lease.spec.leaseTransitions ?? 0) + 1;
    }
    // The resourceVersion makes this a compare-and-swap: a concurrent writer gets 409 and loses.
    await this.client.request('PUT', this.path(), { ...lease, spec });
    return true;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) {
        this.lastRenew = this.now();
        this.setLeading(true);
      } else {
        this.setLeading(false);
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'lease update failed');
      if (this.leading && this.now() - this.lastRenew > this.opts.renewDeadlineMs) this.setLeading(false);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.opts.retryPeriodMs);
  }
}
