import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { KubeError, type KubeClient, type KubeList, type KubeObject } from './kube-client.js';

const INITIAL_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;
/** A watch shorter than this that brought no event is counted as a failure. */
const SHORT_WATCH_MS = 1_000;
/** Non-410 ERROR events in a row after which the informer relists. */
const MAX_WATCH_ERRORS = 3;
/** A watch that ran this long worked, events or none: the backoff starts over (client-go resets after 2 minutes). */
const HEALTHY_WATCH_MS = 60_000;

interface WatchStatus {
  code?: number;
  message?: string;
  details?: { causes?: { reason?: string }[] };
}

/** 504 ResourceVersionTooLarge: the API server has not seen the resourceVersion we resume from. */
function tooLargeResourceVersion(status: WatchStatus): boolean {
  if (status.details?.causes?.some((c) => c.reason === 'ResourceVersionTooLarge') === true) return true;
  return status.code === 504 && /too large resource version/i.test(status.message ?? '');
}

export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * List + watch one resource into a cache. Resumes watches from the last resourceVersion (bookmarks
 * included), relists on 410 Gone, on a resourceVersion too large and after three ERROR events in a
 * row, and restarts with capped exponential backoff on any error (a watch that closes at once with no
 * event is one), reset only by a real event, so that it never stops on its own.
 */
export class Informer<T extends KubeObject> {
  /** Keys this informer put into the (possibly shared) cache. */
  private readonly own = new Set<string>();
  private resourceVersion = '';
  private controller = new AbortController();
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];
  /** Lists done so far (a relist after 410 counts); for tests and metrics. */
  lists = 0;

  /**
   * `cache` may be shared by several informers of one resource (one per watched namespace); each
   * removes only the keys it added.
   */
  constructor(
    readonly cache: Map<string, T>,
    private readonly client: KubeClient,
    readonly path: string,
    private readonly onChange: (event: string, object: T | undefined) => void,
    private readonly logger: Logger,
    private readonly transform: (o: T) => T = (o) => o,
    /** How long a watch must run to count as healthy (tests shorten it). */
    private readonly healthyWatchMs = HEALTHY_WATCH_MS,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.controller.abort();
  }

  hasSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private async list(): Promise<void> {
    const items = new Map<string, T>();
    let continueToken = '';
    let rv = '';
    do {
      const sep = this.path.includes('?') ? '&' : '?';
      const page = await this.client.request<KubeList<T>>('GET', `${this.path}${sep}limit=500${continueToken ? `&continue=${encodeURIComponent(continueToken)}` : ''}`);
      for (const item of page.items) items.set(objectKey(item), this.transform(item));
      continueToken = page.metadata.continue ?? '';
      rv = page.metadata.resourceVersion ?? rv;
    } while (continueToken);
    for (const key of this.own) if (!items.has(key)) this.cache.delete(key);
    this.own.clear();
    for (const [k, v] of items) {
      this.cache.set(k, v);
      this.own.add(k);
    }
    this.resourceVersion = rv;
    this.lists++;
    this.onChange('LIST', undefined);
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private async run(): Promise<void> {
    let backoffMs = INITIAL_BACKOFF_MS;
    let needList = true;
    /** ERROR events in a row (not 410): the resourceVersion we resume from may be what is wrong. */
    let watchErrors = 0;
    while (!this.controller.signal.aborted) {
      let failure: string | undefined;
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        const startedAt = Date.now();
        let events = 0;
        for await (const event of this.client.watch<T>(this.path, this.resourceVersion, this.controller.signal)) {
          if (event.type === 'ERROR') {
            const status = event.object as WatchStatus;
            if (status.code === 410) {
              needList = true;
              break;
            }
            // Like client-go's reflector: a resourceVersion the API server (an HA member whose cache
            // lags) has not reached is relisted from etcd, as is any that keeps failing; retried as it
            // was, a 504 "Too large resource version" came back every 250 ms for ever.
            watchErrors++;
            if (tooLargeResourceVersion(status) || watchErrors >= MAX_WATCH_ERRORS) needList = true;
            throw new KubeError(status.code ?? 500, status.message ?? 'watch error');
          }
          // Only a real event shows the watch works: backoff starts over.
          events++;
          backoffMs = INITIAL_BACKOFF_MS;
          watchErrors = 0;
          const object = event.object as T;
          if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
          if (event.type === 'BOOKMARK') continue;
          const key = objectKey(object);
          if (event.type === 'DELETED') {
            this.cache.delete(key);
            this.own.delete(key);
          } else {
            this.cache.set(key, this.transform(object));
            this.own.add(key);
          }
          this.onChange(event.type, object);
        }
        // A watch the API server (or a proxy) closes at once, empty, is a failure (client-go: "very
        // short watch"): restarted at once, it made 18,503 requests in 5 s.
        const lasted = Date.now() - startedAt;
        if (!needList && events === 0 && lasted < SHORT_WATCH_MS) failure = 'the watch closed at once with no event';
        // A quiet resource's watches end empty: without this, failures hours apart would add up to
        // the 30 s ceiling, and one API server blip would keep the cache stale that long.
        if (lasted >= this.healthyWatchMs) {
          backoffMs = INITIAL_BACKOFF_MS;
          watchErrors = 0;
        }
      } catch (err) {
        if (this.controller.signal.aborted) return;
        if (err instanceof KubeError && err.status === 410) needList = true;
        failure = (err as Error).message;
      }
      if (failure === undefined || this.controller.signal.aborted) continue;
      this.logger.warn({ path: this.path, err: failure, retryInMs: backoffMs, relist: needList }, 'watch failed; restarting');
      await sleep(backoffMs, undefined, { signal: this.controller.signal }).catch(() => undefined);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }
  }
}
