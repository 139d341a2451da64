import type { SendWindow, UsageReportRecord, UsageReportResponse } from '../../config/usage-report.js';
import { COMPACT_ABOVE, compactBudgetRecords, nextCompactionAt } from './usage-compaction.js';

/**
 * Usage-history records (no budget) kept while the operator does not acknowledge them; beyond this
 * the oldest are dropped (counted), so an unreachable operator costs bounded memory. Budget records
 * are never dropped: they are spend the budgets must see; they are merged instead (usage-compaction.ts).
 */
export const MAX_PENDING_HISTORY = 50_000;

/** Records per report: the operator refuses more than 5,000. */
export const MAX_BATCH = 2_000;

/**
 * Resend what is still not durable after this long without progress, at least, and after this many
 * of the operator's write intervals: a safety net (a term change not seen), far beyond a write that
 * is merely slow because the API server is busy.
 */
export const RESEND_AFTER_MS = 60_000;
export const RESEND_AFTER_INTERVALS = 12;

/** One report as sent: its window, and the records after `after`. */
export interface OutboxBatch {
  window: SendWindow;
  records: UsageReportRecord[];
}

/** Index of the first record with seq > after (records are in seq order). */
function firstAfter(records: readonly UsageReportRecord[], after: number): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((records[mid]?.seq ?? 0) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A pod's usage records between metering and durability, and which of them the operator leader
 * already has. The operator answers each report with its term (`epoch`), what that term holds of
 * this pod (`receivedThrough`) and what is persisted (`ackedThrough`): the pod sends each record
 * once per term, keeps it until it is persisted, and sends what is not persisted again only when
 * the term changes (operator restart, leader change, a write that failed), or when nothing became
 * durable for a long time. Persisted records are dropped; a resend is harmless, the operator counts
 * a (pod, seq) once.
 *
 * An operator older than the window answers without a term: the pod then sends its oldest records
 * every time, as pods did before, and trusts an acknowledgement only for a report that started at
 * its durable point (such an operator acknowledges through the last record of the report).
 */
export class UsageOutbox {
  private pending: UsageReportRecord[] = [];
  private pendingHistory = 0;
  private pendingBudget = 0;
  /** Budget records are merged when there are more than this. */
  private compactAt = COMPACT_ABOVE;
  /** The highest seq ever put in a report: the operator may have every record up to it, answered or not. */
  private issuedThrough = 0;
  /** Every record with seq ≤ durable is persisted. */
  private durable = 0;
  /** The term `epoch` has every record with seq ≤ sent (sent ≥ durable). */
  private sent = 0;
  private epoch: string | undefined;
  /** When the durable point last moved, or nothing was outstanding. */
  private progressAt: number;
  private resendAfterMs: number;
  /** History records dropped because too many were unacknowledged. */
  historyDropped = 0;
  /** Records put on the wire, resends included. */
  recordsSent = 0;
  /** Times everything not durable was sent again (a new term, or the timeout). */
  resends = 0;
  /** Budget records merged into one of the same Budgets, and into one naming other Budgets too (the hard bound). */
  budgetMerged = 0;
  budgetMergedAcross = 0;

  constructor(
    now: number,
    private readonly minResendAfterMs = RESEND_AFTER_MS,
  ) {
    this.progressAt = now;
    this.resendAfterMs = minResendAfterMs;
  }

  /** Records in seq order (the reporter numbers them). Returns how many history records were dropped to make room (0 normally). */
  push(record: UsageReportRecord): number {
    this.pending.push(record);
    if (record.request === undefined) {
      if (++this.pendingBudget > this.compactAt) this.compact();
      return 0;
    }
    if (++this.pendingHistory <= MAX_PENDING_HISTORY) return 0;
    let drop = Math.ceil(MAX_PENDING_HISTORY / 10);
    const target = drop;
    this.pending = this.pending.filter((r) => r.request === undefined || drop-- <= 0);
    const dropped = target - Math.max(0, drop);
    this.historyDropped += dropped;
    this.pendingHistory -= dropped;
    return dropped;
  }

  /** The next report: what the current term does not have yet (all of it after a term change or the timeout). */
  next(now: number): OutboxBatch {
    if (this.sent <= this.durable) this.progressAt = now;
    else if (now - this.progressAt >= this.resendAfterMs) {
      this.sent = this.durable;
      this.progressAt = now;
      this.resends++;
    }
    const from = firstAfter(this.pending, this.sent);
    const records = this.pending.slice(from, from + MAX_BATCH);
    this.recordsSent += records.length;
    this.issuedThrough = Math.max(this.issuedThrough, records[records.length - 1]?.seq ?? 0);
    return { window: { ...(this.epoch === undefined ? {} : { epoch: this.epoch }), after: this.sent, durable: this.durable }, records };
  }

  /** The operator's answer to `batch` (a 200). */
  answered(batch: OutboxBatch, answer: UsageReportResponse, now: number): void {
    if (answer.epoch === undefined) {
      // An operator without the window acknowledges through the report's last record: true only
      // when the report started at the durable point. It has no memory of what was sent: send the
      // oldest records again next time.
      if (batch.window.after <= this.durable) this.advance(answer.ackedThrough, now);
      this.epoch = undefined;
      this.sent = this.durable;
      return;
    }
    this.epoch = answer.epoch;
    this.advance(answer.ackedThrough, now);
    // No receivedThrough: the report did not continue what the term has; send everything not durable.
    const sent = Math.max(this.durable, answer.receivedThrough ?? 0);
    if (sent < this.sent) this.resends++;
    this.sent = sent;
    if (answer.flushIntervalMs !== undefined) this.resendAfterMs = Math.max(this.minResendAfterMs, RESEND_AFTER_INTERVALS * answer.flushIntervalMs);
  }

  private advance(ackedThrough: number, now: number): void {
    if (ackedThrough <= this.durable) return;
    this.durable = ackedThrough;
    this.progressAt = now;
    const keep = firstAfter(this.pending, ackedThrough);
    for (let i = 0; i < keep; i++) {
      if (this.pending[i]?.request !== undefined) this.pendingHistory--;
      else this.pendingBudget--;
    }
    this.pending = this.pending.slice(keep);
    this.compactAt = nextCompactionAt(this.pendingBudget);
  }

  /**
   * Merges pending budget records (the operator has not acknowledged for long). Records the operator
   * may hold already (sent in this term, or in a report not answered yet) merge only among
   * themselves, so a report in flight is not sent again inside a larger record; were one merged
   * anyway, it would count twice, never less than once (usage-compaction.ts).
   */
  private compact(): void {
    const result = compactBudgetRecords(this.pending, Math.max(this.sent, this.issuedThrough));
    this.pending = result.records;
    this.pendingBudget -= result.merged + result.mergedAcross;
    this.budgetMerged += result.merged;
    this.budgetMergedAcross += result.mergedAcross;
    this.compactAt = nextCompactionAt(this.pendingBudget);
  }

  /** Not persisted yet, oldest first. */
  get records(): readonly UsageReportRecord[] {
    return this.pending;
  }

  get size(): number {
    return this.pending.length;
  }
}
