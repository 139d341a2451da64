export interface StatusWriterOptions<J> {
  /** Writes in flight at once (default 8). */
  concurrency?: number;
  write: (key: string, job: J) => Promise<void>;
  /** Checked before every write: false drops everything pending (a replica that stopped leading writes nothing more). */
  canWrite: () => boolean;
  /** Called each time the queue drains after at least one write failed since the last drain, with the first failure. */
  onFailed?: (err: unknown) => void;
}

/**
 * Status writes off the compile-and-publish path. A reconcile used to publish, then await every
 * status PATCH one at a time: with 1,000 objects at 10 ms each, the next tenant's change waited 11 s
 * to be published. Here a reconcile only hands over what each object's status should be, and
 * returns; writes go `concurrency` at a time.
 *
 * Per object the latest wins: a reconcile's set replaces what is pending (an object it does not
 * name needs no write any more, or is gone), and an object is never written twice at once, so a
 * write computed earlier never lands after one computed later.
 */
export class StatusWriter<J> {
  /** Insertion-ordered: objects are written in the order they were first handed over. */
  private readonly pending = new Map<string, J>();
  private readonly inFlight = new Set<string>();
  private failure: { err: unknown } | undefined;
  private readonly idleWaiters: ((failure: { err: unknown } | undefined) => void)[] = [];
  private readonly concurrency: number;

  constructor(private readonly opts: StatusWriterOptions<J>) {
    this.concurrency = opts.concurrency ?? 8;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** The writes one reconcile wants, by object: everything pending and not named here is dropped. */
  replace(jobs: ReadonlyMap<string, J>): void {
    for (const key of this.pending.keys()) if (!jobs.has(key)) this.pending.delete(key);
    for (const [key, job] of jobs) this.pending.set(key, job);
    this.pump();
    this.checkIdle();
  }

  clear(): void {
    this.pending.clear();
    this.checkIdle();
  }

  /** Resolves once nothing is pending or in flight, with the first failure since the last drain. */
  idle(): Promise<{ err: unknown } | undefined> {
    if (this.pending.size === 0 && this.inFlight.size === 0) return Promise.resolve(undefined);
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (!this.opts.canWrite()) {
      this.pending.clear();
      return;
    }
    while (this.inFlight.size < this.concurrency) {
      let next: string | undefined;
      for (const key of this.pending.keys()) {
        if (!this.inFlight.has(key)) {
          next = key;
          break;
        }
      }
      if (next === undefined) return;
      const key = next;
      const job = this.pending.get(key) as J;
      this.pending.delete(key);
      this.inFlight.add(key);
      void this.opts
        .write(key, job)
        .catch((err: unknown) => {
          this.failure ??= { err };
        })
        .finally(() => {
          this.inFlight.delete(key);
          this.pump();
          this.checkIdle();
        });
    }
  }

  private checkIdle(): void {
    if (this.pending.size > 0 || this.inFlight.size > 0) return;
    const failure = this.failure;
    this.failure = undefined;
    if (failure !== undefined) this.opts.onFailed?.(failure.err);
    for (const w of this.idleWaiters.splice(0)) w(failure);
  }
}
