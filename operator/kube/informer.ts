import type { Logger } from 'pino';
import { KubeError, type KubeClient, type KubeList, type KubeObject } from './kube-client.js';

export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * List + watch one resource into a cache. Resumes watches from the last resourceVersion (bookmarks
 * included), relists on 410 Gone, and restarts with capped exponential backoff on any error, so that
 * it never stops on its own.
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
    let backoffMs = 250;
    let needList = true;
    while (!this.controller.signal.aborted) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        for await (const event of this.client.watch<T>(this.path, this.resourceVersion, this.controller.signal)) {
          backoffMs = 250;
          if (event.type === 'ERROR') {
            const status = event.object as { code?: number; message?: string };
            if (status.code === 410) {
              needList = true;
              break;
            }
            throw new KubeError(status.code ?? 500, status.message ?? 'watch error');
          }
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
      } catch (err) {
        if (this.controller.signal.aborted) return;
        if (err instanceof KubeError && err.status === 410) needList = true;
        this.logger.warn({ path: this.path, err: (err as Error).message, retryInMs: backoffMs }, 'watch failed; restarting');
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
    }
  }
}
