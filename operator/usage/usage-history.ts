import type { Logger } from 'pino';
import type { UsageReport } from '../../dataplane/config/usage-report.js';
import { API_VERSION } from '../api/common.js';
import { MAX_TOP_CALLERS, parseUsageReportStatus, type UsageReportStatus } from '../api/usage-report.js';
import { type KubeClient, KubeError, type KubeList, type KubeObject, METADATA_LIST } from '../kube/kube-client.js';
import { DAY_SUMMARY_ANNOTATION, daySummary } from './day-summary.js';
import { dayOf, UsageDay } from './usage-day.js';

const DAY_MS = 86_400_000;

export interface UsageHistoryOptions {
  client: Pick<KubeClient, 'request'>;
  logger: Logger;
  /** How often dirty reports are written; each report is written at most once per interval. */
  flushIntervalMs?: number;
  /** Reports of days older than this are deleted, and records for them are not counted. */
  retentionDays?: number;
  /** Callers kept by name per report (top by cost); the rest are summed. */
  topCallers?: number;
  /** Namespaces whose old reports the retention sweep deletes; [''] = all. */
  scopes?: readonly string[];
  now?: () => number;
  /** How much a pod's appliedThrough entry is worth keeping when a report holds too many (ReportingPods.rank). */
  rank?: (pod: string) => number;
  /** The retention sweep runs on the leader only. */
  isLeader?: () => boolean;
  /** Each status write (for the operator's metrics). */
  onWrite?: (result: 'ok' | 'error') => void;
  /**
   * Counted records were dropped from memory unwritten (a write failed and the report is read
   * again): pods that sent them once must send what is not acknowledged again (a new intake term).
   */
  onLost?: () => void;
}

interface Entry {
  day: UsageDay;
  object: KubeObject;
  dirty: boolean;
}

/** Errors that a retry cannot fix (no permission, a status the API server refuses): those records are dropped, not retried forever. */
function permanent(err: unknown): boolean {
  return err instanceof KubeError && (err.status === 400 || err.status === 403 || err.status === 422);
}

const path = (namespace: string, name?: string): string =>
  `/apis/tollgate.dev/v1alpha1/namespaces/${encodeURIComponent(namespace)}/usagereports${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

/**
 * Keeps UsageReport objects (one per namespace and day) from the data planes' usage records. A
 * record counts once: each report's status keeps, per pod, the last sequence number counted, in the
 * same write as the counts. Writes are batched (one per dirty report per interval, however many pods
 * report), so a pod's records are acknowledged only once the write holding them succeeded: until
 * then the pod keeps them, and sends them again when the intake term changes (onLost, a new leader),
 * where the sequence numbers make the resend harmless. An operator restart or a new leader reads the
 * reports back and so neither loses nor double-counts anything.
 */
export class UsageHistory {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  /** Reports the API server refused for good (permission, validation): not tried again until the next sweep. */
  private readonly refused = new Set<string>();
  /** Per pod, the lowest sequence number counted in memory but not yet written. */
  private unwritten = new Map<string, number>();
  /** The same, for the write in progress. */
  private writing = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastSweep = 0;
  private readonly now: () => number;
  readonly flushIntervalMs: number;
  readonly retentionDays: number;
  readonly topCallers: number;

  constructor(private readonly opts: UsageHistoryOptions) {
    this.now = opts.now ?? Date.now;
    this.flushIntervalMs = opts.flushIntervalMs ?? 5_000;
    this.retentionDays = opts.retentionDays ?? 30;
    this.topCallers = Math.min(MAX_TOP_CALLERS, Math.max(1, opts.topCallers ?? 10));
  }

  /** Periodic writes and the retention sweep (hourly). */
  start(): void {
    const tick = (): void => {
      void this.flush()
        .then(() => (this.now() - this.lastSweep >= 3_600_000 && this.opts.isLeader?.() !== false ? this.sweep() : undefined))
        .catch((err: unknown) => this.opts.logger.warn({ err: (err as Error).message }, 'usage history write failed; will retry'))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.flushIntervalMs);
        });
    };
    this.timer = setTimeout(tick, this.flushIntervalMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }

  /** Forget everything in memory (on losing leadership): unacknowledged records come back to the next leader. */
  reset(): void {
    this.entries.clear();
    this.refused.clear();
    this.unwritten.clear();
    this.writing.clear();
  }

  /** The oldest day still kept. */
  private oldestDay(): string {
    return dayOf(this.now() - this.retentionDays * DAY_MS);
  }

  /**
   * Counts a pod's report in memory; returns the sequence number through which every record of this
   * pod is written (Infinity when nothing of it waits): the caller acknowledges no more than that.
   */
  async handle(report: UsageReport): Promise<number> {
    const oldest = this.oldestDay();
    const scopes = this.opts.scopes ?? [''];
    const inScope = (ns: string): boolean => scopes.includes('') || scopes.includes(ns);
    const records = report.records.filter((r) => r.request !== undefined && inScope(r.request.namespace) && dayOf(r.at) >= oldest).sort((a, b) => a.seq - b.seq);
    const keyOf = (r: (typeof records)[number]): string => `${r.request?.namespace ?? ''}/${dayOf(r.at)}`;
    // A write that failed drops its report from memory; load again, then count synchronously.
    for (let round = 0; ; round++) {
      const keys = [...new Set(records.map(keyOf))];
      await Promise.all(keys.filter((key) => !this.refused.has(key)).map((key) => this.load(key).catch((err: unknown) => this.unloadable(key, err))));
      if (keys.every((key) => this.entries.has(key) || this.refused.has(key))) break;
      if (round >= 2) throw new Error('usage reports changed while loading; retry');
    }
    for (const record of records) {
      const request = record.request;
      const entry = this.entries.get(keyOf(record));
      if (request === undefined || entry === undefined) continue;
      if (!entry.day.add(report.pod, record.seq, record.at, request, record.costUsd)) continue;
      entry.dirty = true;
      if (!this.unwritten.has(report.pod)) this.unwritten.set(report.pod, record.seq);
    }
    return this.writtenThrough(report.pod);
  }

  /** A report that cannot be read or created for good is skipped (its records are not counted); anything else is retried. */
  private unloadable(key: string, err: unknown): void {
    if (!permanent(err)) throw err;
    this.refused.add(key);
    this.opts.logger.warn({ report: key, err: (err as Error).message }, 'UsageReport cannot be read or created; these usage records are not counted');
  }

  private writtenThrough(pod: string): number {
    const first = Math.min(this.unwritten.get(pod) ?? Infinity, this.writing.get(pod) ?? Infinity);
    return first === Infinity ? Infinity : first - 1;
  }

  private load(key: string): Promise<Entry> {
    const entry = this.entries.get(key);
    if (entry !== undefined) return Promise.resolve(entry);
    let loading = this.loading.get(key);
    if (loading === undefined) {
      loading = this.fetchOrCreate(key).finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }

  private async fetchOrCreate(key: string): Promise<Entry> {
    const [namespace = '', date = ''] = key.split('/');
    let object: KubeObject;
    try {
      object = await this.opts.client.request<KubeObject>('GET', path(namespace, date));
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
      const fresh = { apiVersion: API_VERSION, kind: 'UsageReport', metadata: { name: date, namespace, labels: { 'app.kubernetes.io/managed-by': 'tollgate' } }, spec: {} };
      try {
        object = await this.opts.client.request<KubeObject>('POST', path(namespace), fresh);
      } catch (createErr) {
        if (!(createErr instanceof KubeError && createErr.status === 409)) throw createErr;
        object = await this.opts.client.request<KubeObject>('GET', path(namespace, date));
      }
    }
    const raw = (object as KubeObject & { status?: unknown }).status;
    const parsed = raw === undefined ? undefined : parseUsageReportStatus(raw);
    if (parsed !== undefined && !parsed.success) this.opts.logger.warn({ report: key, issue: parsed.error.issues[0]?.message }, 'UsageReport status unreadable; counting the day from zero');
    const entry: Entry = { day: new UsageDay(namespace, date, parsed?.success === true ? parsed.data : undefined, this.opts.rank), object, dirty: false };
    const existing = this.entries.get(key);
    if (existing !== undefined) return existing;
    this.entries.set(key, entry);
    return entry;
  }

  /** Writes every dirty report (one at a time; concurrent callers share the write in progress). */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    this.writing = this.unwritten;
    this.unwritten = new Map();
    let failed: unknown;
    for (const [key, entry] of [...this.entries]) {
      if (!entry.dirty) continue;
      entry.dirty = false;
      const status = entry.day.toStatus(this.topCallers, this.now());
      try {
        const body = { ...entry.object, status };
        const written = await this.opts.client.request<KubeObject>('PUT', `${path(entry.day.namespace, entry.day.date)}/status`, body);
        entry.object = written;
        this.opts.onWrite?.('ok');
        entry.object = await this.summarize(entry, status);
      } catch (err) {
        this.opts.onWrite?.('error');
        if (permanent(err)) {
          // Retrying cannot help and would hold back every later record of these pods: count it lost.
          this.opts.logger.error({ report: key, err: (err as Error).message }, 'UsageReport write refused; the counts since its last write are lost');
          this.entries.delete(key);
          continue;
        }
        // Conflict (another writer), gone, or unreachable: read it back before counting into it again.
        if (this.entries.get(key) === entry) this.entries.delete(key);
        this.opts.onLost?.();
        failed ??= err;
      }
    }
    const written = this.writing;
    this.writing = new Map();
    if (failed !== undefined) {
      for (const [pod, seq] of written) this.unwritten.set(pod, Math.min(seq, this.unwritten.get(pod) ?? Infinity));
      throw failed;
    }
    // Old days nobody reports any more need no memory.
    const oldest = dayOf(this.now() - DAY_MS);
    for (const [key, entry] of this.entries) if (!entry.dirty && entry.day.date < oldest) this.entries.delete(key);
  }

  /**
   * Puts the day's summary on the report's metadata (a status write cannot change metadata), for
   * the console's overview. The records are already written: a failure here only leaves the
   * summary behind, so the report is written again (with its summary) at the next flush.
   */
  private async summarize(entry: Entry, status: UsageReportStatus): Promise<KubeObject> {
    const patch = { metadata: { resourceVersion: entry.object.metadata.resourceVersion, annotations: { [DAY_SUMMARY_ANNOTATION]: JSON.stringify(daySummary(status)) } } };
    try {
      return await this.opts.client.request<KubeObject>('PATCH', path(entry.day.namespace, entry.day.date), patch, 'application/merge-patch+json');
    } catch (err) {
      const retry = !permanent(err);
      this.opts.logger.warn({ report: `${entry.day.namespace}/${entry.day.date}`, err: (err as Error).message }, retry ? 'UsageReport summary not written; again at the next flush' : 'UsageReport summary refused (may the operator patch usagereports?)');
      if (retry) entry.dirty = true;
      return entry.object;
    }
  }

  /** Deletes reports older than the retention. */
  async sweep(): Promise<number> {
    this.lastSweep = this.now();
    // Reports refused earlier (e.g. before RBAC was fixed) are tried again.
    this.refused.clear();
    const oldest = this.oldestDay();
    let deleted = 0;
    for (const scope of this.opts.scopes ?? ['']) {
      const listPath = scope === '' ? '/apis/tollgate.dev/v1alpha1/usagereports' : path(scope);
      // Names only: the metadata of a month of reports, not their hourly breakdowns (~100 KiB each).
      const list = await this.opts.client.request<KubeList<KubeObject>>('GET', listPath, undefined, undefined, undefined, METADATA_LIST);
      // An empty metadata-only list comes as `items: null` (seen from kube-apiserver 1.32).
      for (const item of list.items ?? []) {
        const namespace = item.metadata.namespace ?? '';
        if (!/^\d{4}-\d{2}-\d{2}$/.test(item.metadata.name) || item.metadata.name >= oldest) continue;
        try {
          await this.opts.client.request('DELETE', path(namespace, item.metadata.name));
          deleted++;
        } catch (err) {
          if (!(err instanceof KubeError && err.status === 404)) throw err;
        }
        this.entries.delete(`${namespace}/${item.metadata.name}`);
      }
    }
    if (deleted > 0) this.opts.logger.info({ deleted, olderThan: oldest }, 'usage reports past retention deleted');
    return deleted;
  }
}
