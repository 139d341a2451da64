import type { UsageReportRecord } from '../../config/usage-report.js';

/**
 * Budget records a pod keeps unacknowledged before it merges them. Normally a pod holds those of
 * one write interval; this many means the operator has not acknowledged for a long time (at 1,000
 * budgeted requests/s, 20 s), and each record held costs ~150 bytes of heap in the outbox and ledger.
 */
export const COMPACT_ABOVE = 20_000;

/**
 * The hard bound on pending budget records (~15 MiB): past it, records naming different Budgets are
 * merged too, each Budget then charged the merged sum. Reached only with more than ~50,000 distinct
 * sets of Budgets pending at once; the alternative, dropping spend, would under-count.
 */
export const MAX_PENDING_BUDGET_RECORDS = 100_000;

/**
 * Slots records are merged within, tried in turn until enough is merged. A minute never straddles a
 * calendar period's start (midnight in any time zone is a whole minute of UTC); an hour can, which
 * moves the earlier minutes' spend into the new period (over-counted there, never lost). The last
 * slot merges everything of the same Budgets, as of the latest record.
 */
const SLOTS_MS = [60_000, 3_600_000, Number.POSITIVE_INFINITY] as const;

/** A merge across Budgets stops adding records once their Budgets number this many (a report's size stays small). */
const MAX_MERGED_BUDGET_IDS = 64;

export interface CompactionResult {
  records: UsageReportRecord[];
  /** Records folded into another one naming the same Budgets. */
  merged: number;
  /** Records folded into one naming other Budgets too (the hard bound): those Budgets over-count. */
  mergedAcross: number;
}

/** When the caller compacts next: after the count doubles, so the cost of a compaction is paid by as many records as it keeps. */
export function nextCompactionAt(budgetRecords: number): number {
  return Math.min(MAX_PENDING_BUDGET_RECORDS, Math.max(COMPACT_ABOVE, 2 * budgetRecords));
}

const isBudgetRecord = (r: UsageReportRecord): boolean => r.request === undefined && r.budgetIds.length > 0;

/**
 * One record for several. The operator counts a record into a Budget unless that Budget's
 * appliedThrough for the pod already covers its seq, and appliedThrough = s means every record of
 * the pod with seq ≤ s was counted there. Carrying the highest seq of its parts, the merged record
 * is skipped only where every part was counted, and otherwise counts every part: a part counted
 * before (an answer lost) counts again, over-counting, and none is ever lost. It carries the latest
 * `at` of its parts: later spend stays longer in a rolling window and is never dropped as late.
 * Field order as record() builds it: the wire format stays byte-identical.
 */
function mergedRecord(parts: readonly UsageReportRecord[], budgetIds: string[]): UsageReportRecord {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  let at = Number.NEGATIVE_INFINITY;
  let costUsd = 0;
  let tokens = 0;
  let seq = 0;
  for (const p of parts) {
    at = Math.max(at, p.at);
    costUsd += p.costUsd;
    tokens += p.tokens;
    seq = Math.max(seq, p.seq);
  }
  return { at, costUsd, tokens, budgetIds, seq };
}

/**
 * Merges records of the same Budgets within a slot. Each merged record takes the place of its last
 * part, so the output stays in seq order (the outbox and the ledger search it by seq); records that
 * are not budget records (usage history) keep their place untouched. Records with seq ≤
 * keepApartThrough (the operator may have them already) are never merged with later ones, so a
 * record sent but unanswered is not sent again inside a larger one.
 */
function mergeWithin(records: readonly UsageReportRecord[], slotMs: number, keepApartThrough: number): UsageReportRecord[] {
  const keys: (string | undefined)[] = new Array<string | undefined>(records.length);
  const last = new Map<string, number>();
  records.forEach((r, i) => {
    if (!isBudgetRecord(r)) return;
    const slot = Number.isFinite(slotMs) ? Math.floor(r.at / slotMs) : 0;
    const key = `${r.seq <= keepApartThrough ? 0 : 1}|${slot}|${[...r.budgetIds].sort().join('\u0000')}`;
    keys[i] = key;
    last.set(key, i);
  });
  const parts = new Map<string, UsageReportRecord[]>();
  const out: UsageReportRecord[] = [];
  records.forEach((r, i) => {
    const key = keys[i];
    if (key === undefined) {
      out.push(r);
      return;
    }
    let group = parts.get(key);
    if (group === undefined) {
      group = [];
      parts.set(key, group);
    }
    group.push(r);
    if (last.get(key) === i) {
      out.push(mergedRecord(group, r.budgetIds));
      parts.delete(key);
    }
  });
  return out;
}

/**
 * The last resort: the oldest budget records, consecutive in seq order, merged whatever Budgets
 * they name (each merged record names the union and carries the sum, so every one of those Budgets
 * is charged all of it: an over-count, never a loss), until at most `target` budget records remain.
 */
function mergeAcross(records: readonly UsageReportRecord[], target: number, keepApartThrough: number): UsageReportRecord[] {
  let excess = records.filter(isBudgetRecord).length - target;
  const out: UsageReportRecord[] = [];
  let group: UsageReportRecord[] = [];
  let ids = new Set<string>();
  const close = (): void => {
    if (group.length === 0) return;
    out.push(mergedRecord(group, [...ids]));
    excess -= group.length - 1;
    group = [];
    ids = new Set();
  };
  for (const r of records) {
    if (!isBudgetRecord(r)) {
      out.push(r);
      continue;
    }
    if (excess <= 0) {
      close();
      out.push(r);
      continue;
    }
    const straddles = group.length > 0 && (group[0]?.seq ?? 0) <= keepApartThrough && r.seq > keepApartThrough;
    const grown = new Set([...ids, ...r.budgetIds]);
    if (straddles || (group.length > 0 && grown.size > MAX_MERGED_BUDGET_IDS)) {
      close();
      group = [r];
      ids = new Set(r.budgetIds);
    } else {
      group.push(r);
      ids = grown;
    }
    // Closed as soon as it removes what is in excess, so no more is over-counted than needed.
    if (group.length - 1 >= excess) close();
  }
  close();
  return out;
}

/**
 * Bounds a pod's pending budget records while the operator does not acknowledge them (it is down,
 * unreachable, or refuses the token): merged by Budgets and time slot, coarser slots only when the
 * finer leave too many, down to half of COMPACT_ABOVE; past MAX_PENDING_BUDGET_RECORDS / 2 after
 * that, across Budgets. Over-counts at worst (see mergedRecord), never loses spend.
 */
export function compactBudgetRecords(records: readonly UsageReportRecord[], keepApartThrough = 0): CompactionResult {
  const before = records.filter(isBudgetRecord).length;
  let out: UsageReportRecord[] = [...records];
  let count = before;
  for (const slot of SLOTS_MS) {
    if (count <= COMPACT_ABOVE / 2) break;
    out = mergeWithin(out, slot, keepApartThrough);
    count = out.filter(isBudgetRecord).length;
  }
  const merged = before - count;
  if (count <= MAX_PENDING_BUDGET_RECORDS / 2) return { records: out, merged, mergedAcross: 0 };
  out = mergeAcross(out, MAX_PENDING_BUDGET_RECORDS / 2, keepApartThrough);
  return { records: out, merged, mergedAcross: count - out.filter(isBudgetRecord).length };
}
