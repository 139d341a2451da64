import type { Logger } from 'pino';
import { type Dispatcher, request } from '../../config/undici.js';
import type { BudgetConfig } from '../../config/snapshot.js';
import type { RequestUsage } from '../../config/request-usage.js';
import type { BudgetLedger } from './budget-ledger.js';
import { type UsageReportRecord, UsageReportResponseSchema } from '../../config/usage-report.js';
import { UsageOutbox } from './usage-outbox.js';

export interface UsageReporterOptions {
  /** Operator base URL; absent in `tollgate dev`, where this pod's ledger is the whole truth. */
  operatorUrl?: string;
  token?: string;
  intervalMs?: number;
  logger: Logger;
  /** For an https operator URL with a private CA. */
  dispatcher?: Dispatcher;
  /** Ready data-plane pods, as the operator counts them (per-pod limits use it for their share). */
  onReplicas?: (replicas: number) => void;
  /** Resend what is not persisted after this long without progress (default 60 s; at least 12 operator write intervals). */
  resendAfterMs?: number;
}

/** Unacknowledged spend older than this is logged: several report intervals went by without an answer. */
const BEHIND_WARN_MS = 2_000;

/** One report round trip at most: an operator that accepted the connection but does not answer is given up on. */
const SEND_TIMEOUT_MS = 10_000;

/** A refused token or certificate is said at most this often: it does not heal by itself, and a report goes every 200 ms. */
const CHANNEL_WARN_MS = 30_000;

/** Why a report got no answer: `unauthorized` and `tls` need a person (a token or CA rotated on one side only). */
export type UsageReportFailure = 'unauthorized' | 'tls' | 'refused' | 'unreachable';

/** Node's TLS verification errors, as the socket reports them (undici passes them on, sometimes as the cause). */
function isTlsError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 3; e = (e as Error & { cause?: unknown }).cause, depth++) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string' && (/CERT|SELF_SIGNED|ISSUER|TLS|SSL|SIGNATURE/.test(code))) return true;
    if (/certificate|ssl|tls/i.test(e.message)) return true;
  }
  return false;
}

/** Waits `ms`, or less if `signal` aborts first. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/**
 * Sends this pod's metered usage to the operator with an idempotency key (pod + sequence) and
 * keeps every record until the operator says it is persisted; each record crosses the wire once per
 * operator leader term (UsageOutbox). The operator's answer carries the persisted totals, which the
 * ledger enforces against. Reports run every interval even when empty, so totals stay fresh.
 */
export class UsageReporter {
  private seq = 0;
  private readonly outbox: UsageOutbox;
  private timer: NodeJS.Timeout | undefined;
  private lastWarnAt = 0;
  private lastChannelWarnAt = Number.NEGATIVE_INFINITY;
  /** Reports that got no answer, by reason (tollgate_usage_reports_failed_total). */
  readonly failures: Record<UsageReportFailure, number> = { unauthorized: 0, tls: 0, refused: 0, unreachable: 0 };
  private inflight: Promise<void> | undefined;
  private stopped = false;
  /** Aborted when the shutdown's reporting deadline passes: a send in flight then must not hold the exit. */
  private readonly deadline = new AbortController();
  reportsSent = 0;

  constructor(
    private readonly ledger: BudgetLedger,
    private readonly opts: UsageReporterOptions,
  ) {
    this.outbox = new UsageOutbox(Date.now(), opts.resendAfterMs);
  }

  /** Usage-history records dropped because too many were unacknowledged. */
  get historyDropped(): number {
    return this.outbox.historyDropped;
  }

  /**
   * Pending budget records merged while the operator did not acknowledge them: into one of the same
   * Budgets, or (past the hard bound) into one naming other Budgets too, which over-counts those.
   */
  get merged(): { sameBudgets: number; acrossBudgets: number } {
    return { sameBudgets: this.outbox.budgetMerged, acrossBudgets: this.outbox.budgetMergedAcross };
  }

  /** Records put on the wire (resends included) and times the unpersisted ones were sent again. */
  get sent(): { records: number; resends: number } {
    return { records: this.outbox.recordsSent, resends: this.outbox.resends };
  }

  start(): void {
    if (this.opts.operatorUrl === undefined) return;
    const tick = (): void => {
      void this.flush().finally(() => {
        this.warnIfBehind();
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 200);
      });
    };
    this.timer = setTimeout(tick, this.opts.intervalMs ?? 200);
  }

  record(r: Pick<UsageReportRecord, 'at' | 'costUsd' | 'tokens' | 'budgetIds'>, budgets: readonly BudgetConfig[]): void {
    // Field by field, not { ...r, seq }: in the gateway that spread allocated ~0.35 KB per request (bench/alloc-per-request.ts).
    const record: UsageReportRecord = { at: r.at, costUsd: r.costUsd, tokens: r.tokens, budgetIds: r.budgetIds, seq: ++this.seq };
    this.ledger.addRecord(record, budgets);
    if (this.opts.operatorUrl !== undefined && record.budgetIds.length > 0) {
      const { budgetMerged, budgetMergedAcross } = this.outbox;
      this.outbox.push(record);
      // A compaction runs after the pending records doubled: at most one line per doubling.
      if (this.outbox.budgetMergedAcross > budgetMergedAcross) {
        this.opts.logger.error(
          { merged: this.outbox.budgetMergedAcross - budgetMergedAcross, pending: this.outbox.size },
          'usage records of different Budgets merged: too many unacknowledged for too long; each of those Budgets is charged their sum (over-counted)',
        );
      } else if (this.outbox.budgetMerged > budgetMerged) {
        this.opts.logger.warn(
          { merged: this.outbox.budgetMerged - budgetMerged, pending: this.outbox.size },
          'unacknowledged usage records of the same Budgets merged to bound memory: the operator has not acknowledged them for long',
        );
      }
    }
  }

  /** One finished request, for usage history (UsageReport): sent with the budget records, acknowledged the same way. */
  reportRequest(request: RequestUsage, costUsd: number): void {
    if (this.opts.operatorUrl === undefined) return;
    const dropped = this.outbox.push({ seq: ++this.seq, at: Date.now(), costUsd, tokens: request.inputTokens + request.outputTokens, budgetIds: [], request });
    if (dropped > 0) {
      this.opts.logger.warn({ dropped, total: this.outbox.historyDropped }, 'usage history records dropped: the operator has not acknowledged them for too long (budget spend is kept)');
    }
  }

  get unacknowledged(): number {
    return this.outbox.size;
  }

  /** Metered spend the operator has not acknowledged: Budget.status does not include it yet. */
  backlog(): { records: number; usd: number; oldestAt: number | undefined } {
    let usd = 0;
    let records = 0;
    let oldestAt: number | undefined;
    for (const r of this.outbox.records) {
      if (r.request !== undefined) continue;
      usd += r.costUsd;
      records++;
      oldestAt ??= r.at;
    }
    return { records, usd, oldestAt };
  }

  /** Says, at most every 10 s, that Budget.status is behind (a pod killed now would lose this spend). */
  private warnIfBehind(): void {
    const { records, usd, oldestAt } = this.backlog();
    const now = Date.now();
    const behindMs = oldestAt === undefined ? 0 : now - oldestAt;
    if (behindMs < BEHIND_WARN_MS || now - this.lastWarnAt < 10_000) return;
    this.lastWarnAt = now;
    this.opts.logger.warn(
      { records, usd: Math.round(usd * 1e6) / 1e6, oldestSeconds: Math.round(behindMs / 100) / 10 },
      'usage reports waiting to be sent: Budget.status does not include this spend yet (the operator has not acknowledged it)',
    );
  }

  /** One report round trip (at most one at a time). */
  flush(): Promise<void> {
    this.inflight ??= this.send().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async send(): Promise<void> {
    const url = this.opts.operatorUrl;
    if (url === undefined) return;
    const resends = this.outbox.resends;
    const batch = this.outbox.next(Date.now());
    if (this.outbox.resends > resends) this.opts.logger.warn({ records: batch.records.length }, 'usage records not persisted for a long time: sending them again');
    try {
      const res = await request(`${url.replace(/\/$/, '')}/v1/usage`, {
        method: 'POST',
        ...(this.opts.dispatcher === undefined ? {} : { dispatcher: this.opts.dispatcher }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.token ?? ''}` },
        body: JSON.stringify({ pod: this.ledger.pod, records: batch.records, window: batch.window }),
        signal: AbortSignal.any([AbortSignal.timeout(SEND_TIMEOUT_MS), this.deadline.signal]),
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) {
        // The window stays where it was: the same records go again (the operator counts them once).
        if (res.statusCode === 403) {
          // Not the token (that is a 401): the operator binds a pod's reports to its address, and this
          // report named a data-plane pod it does not come from (its own name is another pod's?).
          this.failed('unauthorized', { status: res.statusCode, error: operatorError(text) }, 'usage report refused: the operator does not take this pod\'s reports under this name from this address (see error); this spend is not in Budget.status, and is lost if the pod stops before it is accepted');
        } else if (res.statusCode === 401) {
          this.failed('unauthorized', { status: res.statusCode }, 'usage report refused: the operator does not accept this pod\'s admin token (rotated on one side only?); this spend is not in Budget.status, and is lost if the pod stops before it is accepted');
        } else {
          this.failures.refused++;
          this.opts.logger.debug({ status: res.statusCode }, 'usage report not accepted; will resend');
        }
        return;
      }
      const answer = UsageReportResponseSchema.parse(JSON.parse(text));
      this.outbox.answered(batch, answer, Date.now());
      this.ledger.update(answer.budgets, answer.replicas);
      this.opts.onReplicas?.(answer.replicas);
      this.reportsSent++;
    } catch (err) {
      if (isTlsError(err)) {
        this.failed('tls', { err: (err as Error).message }, 'usage report failed on TLS: the operator\'s certificate is not trusted (channel CA rotated on one side only?); this spend is not in Budget.status, and is lost if the pod stops before it is accepted');
      } else {
        this.failures.unreachable++;
        this.opts.logger.debug({ err: (err as Error).message }, 'usage report failed; will resend');
      }
    }
  }

  /** A failure that does not heal by itself: counted, and said at warn level at most every 30 s. */
  private failed(reason: 'unauthorized' | 'tls', detail: Record<string, unknown>, message: string): void {
    this.failures[reason]++;
    const now = Date.now();
    if (now - this.lastChannelWarnAt < CHANNEL_WARN_MS) return;
    this.lastChannelWarnAt = now;
    const { records, usd } = this.backlog();
    this.opts.logger.warn({ ...detail, failures: this.failures[reason], records, usd: Math.round(usd * 1e6) / 1e6 }, message);
  }

  /**
   * On shutdown: keep reporting until everything is acknowledged or `budgetMs` has passed, then
   * abort the send in flight: the caller's deadline is the pod's, and the kubelet does not wait for
   * a report (each send otherwise runs up to 10 s).
   */
  async drain(budgetMs: number): Promise<boolean> {
    this.stopped = true;
    clearTimeout(this.timer);
    const stop = this.deadline.signal;
    if (budgetMs <= 0) this.deadline.abort();
    const cut = setTimeout(() => this.deadline.abort(), Math.max(0, budgetMs));
    try {
      while (this.outbox.size > 0 && !stop.aborted) {
        await this.flush();
        if (this.outbox.size > 0 && !stop.aborted) await pause(100, stop);
      }
      // A send a tick started before the drain may still be running: it ends by the deadline too.
      await this.inflight;
    } finally {
      clearTimeout(cut);
    }
    return this.outbox.size === 0;
  }
}

/** The operator's error text of a refusal, for the log (bounded: it is the peer's). */
function operatorError(text: string): string {
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    return typeof error === 'string' ? error.slice(0, 300) : '';
  } catch {
    return '';
  }
}
