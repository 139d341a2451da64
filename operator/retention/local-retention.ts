import type { Logger } from 'pino';
import { writerTag } from '../../dataplane/config/capture-layout.js';
import type { DataPolicyConfig } from '../../dataplane/config/data-policy-config.js';
import { localStore } from './local-store.js';
import { type SweepResult, sweep, type SweepLimits } from './sweep.js';

export interface LocalRetentionOptions {
  /** The DataPolicies being served (the current snapshot's). */
  policies: () => readonly DataPolicyConfig[] | undefined;
  logger: Logger;
  /** Between two sweeps; default 1 minute. */
  intervalMs?: number;
  limits?: SweepLimits;
  now?: () => number;
}

/**
 * `tollgate dev`'s retention: the same sweep the operator runs on buckets, over each localDirectory
 * destination, content and metadata by their own retention. A developer has no status to read, so
 * what it deleted is logged.
 */
export class LocalRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: LocalRetentionOptions) {}

  start(): void {
    const tick = (): void => {
      this.running = this.pass()
        .then(() => undefined)
        .catch((err: unknown) => this.opts.logger.warn({ err: (err as Error).message }, 'retention sweep of a local directory failed'))
        .finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.opts.intervalMs ?? 60_000).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Sweeps every localDirectory destination of every policy with a retention once. */
  async pass(): Promise<{ policy: string; path: string; result: SweepResult }[]> {
    const done: { policy: string; path: string; result: SweepResult }[] = [];
    for (const p of this.opts.policies() ?? []) {
      const retentionMs = { ...(p.retention.contentMs === undefined ? {} : { content: p.retention.contentMs }), ...(p.retention.metadataMs === undefined ? {} : { metadata: p.retention.metadataMs }) };
      if (Object.keys(retentionMs).length === 0) continue;
      for (const d of p.destinations) {
        if (d.type !== 'localDirectory') continue;
        const result = await sweep(localStore(d.path), { root: '', writer: writerTag(p.id), retentionMs }, (this.opts.now ?? Date.now)(), this.opts.limits ?? { maxDeletes: 10_000, maxListCalls: 2_000 });
        done.push({ policy: p.id, path: d.path, result });
        const deleted = (result.streams.content?.deletedObjects ?? 0) + (result.streams.metadata?.deletedObjects ?? 0);
        if (deleted > 0 || result.failures.length > 0) {
          this.opts.logger.info({ dataPolicy: p.id, path: d.path, content: result.streams.content, metadata: result.streams.metadata, failures: result.failures }, `retention: deleted ${deleted} expired file(s)`);
        }
      }
    }
    return done;
  }
}
