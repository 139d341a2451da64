import { bucketStart, type PeriodBounds, periodBounds } from '../../config/budget-period.js';
import type { BudgetConfig } from '../../config/snapshot.js';
import { amountOf, type BudgetState, type UsageReportRecord } from '../../config/usage-report.js';
import { OwnSpendQueue } from './own-spend-queue.js';
import { compactBudgetRecords, COMPACT_ABOVE, nextCompactionAt } from './usage-compaction.js';

interface OwnSpend {
  periodStart: number;
  usd: number;
  tokens: number;
  /** Rolling windows: spend per bucket start. */
  buckets: Map<number, { usd: number; tokens: number }>;
}

/**
 * The operator's last persisted total, as it counts now. A calendar total from an earlier period
 * does not count any more. A rolling total always does: the operator stamps it with its own
 * `now − window` when it answers, which is before this pod's `now − window` a moment later, so a
 * comparison of the two threw away every answer (a $10/hour budget admitted $200 in 4 s). Spend only
 * leaves a rolling window, so the last total over-counts at worst until the next answer.
 */
export function persistedSpend(budget: BudgetConfig, state: BudgetState, bounds: PeriodBounds): number {
  if (budget.period === 'Rolling') return state.spent;
  return state.periodStart >= bounds.start - 1 ? state.spent : 0;
}

/** What this pod may admit against one budget, and the parts it is made of (for refusals that explain themselves). */
export interface Availability {
  available: number;
  spent: number;
  resetsAt: number | undefined;
  /** Limit minus the persisted spend. */
  left: number;
  /** Pods sharing what is left (1 without an operator). */
  pods: number;
  /** This pod's spend not in the persisted total yet. */
  ownUnreported: number;
  /** This pod's holds for requests in flight. */
  reserved: number;
}

/**
 * What one pod knows about spend: the operator's last persisted totals, plus this pod's own records
 * that those totals do not include yet, plus reservations for requests in flight. Admission uses
 * only this pod's share of what is left, so that N pods together overspend by a bounded fraction
 * between syncs, not N times over.
 *
 * Admission runs on every request, so it must not depend on how much was spent nor on how many own
 * records wait for the operator (they pile up exactly when it is unreachable): with an operator each
 * budget keeps its unapplied records as a queue with running sums; without one (`tollgate dev`) the
 * pod keeps running sums per period instead of records.
 */
export class BudgetLedger {
  private states = new Map<string, BudgetState>();
  /** Own records some budget's persisted total does not include yet (the queues are rebuilt from them if an appliedThrough goes back). */
  private local: UsageReportRecord[] = [];
  /** Per budget id: its records in `local` after its appliedThrough. */
  private readonly queues = new Map<string, OwnSpendQueue>();
  private readonly own = new Map<string, OwnSpend>();
  private readonly reserved = new Map<string, number>();
  /** Per budget id: its current calendar period, and the spec it was computed for. */
  private readonly bounds = new Map<string, { bounds: PeriodBounds; period: BudgetConfig['period']; timeZone: string }>();
  private replicas = 1;
  /** The served snapshot's Budget ids (retainBudgets); undefined before the first: every id counts. */
  private configured: ReadonlySet<string> | undefined;
  /** Without an operator (tollgate dev) this pod's records are the whole truth. */
  private readonly standalone: boolean;
  /** The operator has answered a usage report: the persisted totals and the replica count are known. */
  private answered = false;
  /** `local` is merged when it holds more records than this (the operator unreachable for long). */
  private compactAt = COMPACT_ABOVE;

  constructor(
    readonly pod: string,
    opts: { standalone: boolean },
  ) {
    this.standalone = opts.standalone;
  }

  /** The operator's answer to a report. */
  update(states: Record<string, BudgetState>, replicas: number): void {
    this.answered = true;
    this.states = new Map(Object.entries(states));
    this.replicas = Math.max(1, replicas);
    // Drop own records every budget's persisted total now includes.
    this.local = this.local.filter((record) => this.stillCounts(record));
    this.compactAt = nextCompactionAt(this.local.length);
    for (const [id, queue] of this.queues) {
      const applied = this.appliedOf(id);
      if (applied < queue.applied) this.queues.set(id, this.rebuilt(id, applied));
      else queue.advance(applied);
    }
  }

  /**
   * Nothing the operator persisted is known yet (a pod that just started, whose first usage report
   * is not answered): every Budget would look unspent and this pod the only one, so each start could
   * spend the whole limit again. Admission refuses until then (BudgetAdmitter).
   */
  get awaitingOperator(): boolean {
    return !this.standalone && !this.answered;
  }

  /**
   * The served snapshot's Budgets: what this pod kept for any other (its own records not yet in a
   * persisted total, their queue, its period bounds, its standalone spend) is dropped. The operator
   * reports no state for a deleted Budget, so its records looked unapplied for ever: every Budget
   * deleted while it had spend in flight stayed in every data plane, and each report filtered them
   * all again. A Budget created again under the same name is a new object and starts from its own
   * status.
   */
  retainBudgets(ids: ReadonlySet<string>): void {
    this.configured = ids;
    for (const map of [this.queues, this.bounds, this.own]) for (const id of map.keys()) if (!ids.has(id)) map.delete(id);
    this.local = this.local.filter((record) => this.stillCounts(record));
  }

  /** Some configured budget the record was admitted under has not persisted it yet. */
  private stillCounts(record: UsageReportRecord): boolean {
    return record.budgetIds.some((id) => this.isConfigured(id) && record.seq > this.appliedOf(id));
  }

  private isConfigured(id: string): boolean {
    return this.configured === undefined || this.configured.has(id);
  }

  /** A metered request, against the budgets it was admitted under. */
  addRecord(record: UsageReportRecord, budgets: readonly BudgetConfig[]): void {
    if (!this.standalone) {
      // A request admitted on an older snapshot may name a Budget deleted since: nothing counts it.
      if (!this.stillCounts(record)) return;
      this.local.push(record);
      for (const id of new Set(record.budgetIds)) {
        if (!this.isConfigured(id)) continue;
        let queue = this.queues.get(id);
        if (queue === undefined) {
          queue = new OwnSpendQueue(this.appliedOf(id));
          this.queues.set(id, queue);
        }
        // Counted until the operator applies it: a record it already applied never counts.
        if (record.seq > queue.applied) queue.push(record);
      }
      if (this.local.length > this.compactAt) this.compact();
      return;
    }
    for (const budget of budgets) {
      if (!this.isConfigured(budget.id)) continue;
      const spend = this.ownSpend(budget, record.at);
      if (budget.period === 'Rolling') {
        const start = bucketStart(budget.windowMs ?? 0, record.at);
        const bucket = spend.buckets.get(start) ?? { usd: 0, tokens: 0 };
        bucket.usd += record.costUsd;
        bucket.tokens += record.tokens;
        spend.buckets.set(start, bucket);
      } else {
        spend.usd += record.costUsd;
        spend.tokens += record.tokens;
      }
    }
  }

  reserve(budgetId: string, amount: number): void {
    this.reserved.set(budgetId, (this.reserved.get(budgetId) ?? 0) + amount);
  }

  release(budgetId: string, amount: number): void {
    const left = (this.reserved.get(budgetId) ?? 0) - amount;
    if (left <= 1e-12) this.reserved.delete(budgetId);
    else this.reserved.set(budgetId, left);
  }

  /** Spent in the current period as this pod sees it (persisted + own unpersisted), and when it resets. */
  spent(budget: BudgetConfig, now: number): { spent: number; resetsAt: number | undefined } {
    const { persisted, own, resetsAt } = this.parts(budget, now);
    return { spent: persisted + own, resetsAt };
  }

  /**
   * What this pod may still admit against the budget right now: its share of what the operator
   * last saw left, minus what this pod spent since and what it has reserved. Pods report on their
   * own timers, so each share comes from a total without the others' latest spend: together they can
   * pass what was left by up to (N − 1)/2N of it (docs/governance.md, Admission).
   */
  available(budget: BudgetConfig, now: number): Availability {
    const { persisted, own, resetsAt } = this.parts(budget, now);
    const left = Math.max(0, budget.amount - persisted);
    const pods = this.standalone ? 1 : this.replicas;
    const reserved = this.reserved.get(budget.id) ?? 0;
    return { available: left / pods - own - reserved, spent: persisted + own, resetsAt, left, pods, ownUnreported: own, reserved };
  }

  /** For tests and the access log. */
  get unreported(): number {
    return this.local.length;
  }

  /** Calendar bounds are computed once per period (time-zone arithmetic is not free). */
  private boundsAt(budget: BudgetConfig, now: number): PeriodBounds {
    if (budget.period === 'Rolling') return periodBounds('Rolling', budget.timeZone, budget.windowMs, now);
    const cached = this.bounds.get(budget.id);
    // Keyed by the spec too: an edited period or time zone moves the period at once, not at the old one's end.
    if (cached !== undefined && cached.period === budget.period && cached.timeZone === budget.timeZone) {
      const { start, end } = cached.bounds;
      if (end !== undefined && now >= start && now < end) return cached.bounds;
    }
    const fresh = periodBounds(budget.period, budget.timeZone, budget.windowMs, now);
    this.bounds.set(budget.id, { bounds: fresh, period: budget.period, timeZone: budget.timeZone });
    return fresh;
  }

  private ownSpend(budget: BudgetConfig, at: number): OwnSpend {
    const start = this.boundsAt(budget, at).start;
    let spend = this.own.get(budget.id);
    if (spend === undefined || (budget.period !== 'Rolling' && spend.periodStart !== start)) {
      spend = { periodStart: start, usd: 0, tokens: 0, buckets: new Map() };
      this.own.set(budget.id, spend);
    }
    return spend;
  }

  private parts(budget: BudgetConfig, now: number): { persisted: number; own: number; resetsAt: number | undefined } {
    const bounds = this.boundsAt(budget, now);
    if (this.standalone) return { persisted: 0, own: this.standaloneOwn(budget, bounds), resetsAt: bounds.end };
    const state = this.states.get(budget.id);
    const persisted = state === undefined ? 0 : persistedSpend(budget, state, bounds);
    const queue = this.queues.get(budget.id);
    const own = queue === undefined ? 0 : amountOf(budget.unit, queue.since(bounds.start));
    return { persisted, own, resetsAt: bounds.end };
  }

  private appliedOf(budgetId: string): number {
    const applied = this.states.get(budgetId)?.appliedThrough;
    // Own entries only: a pod named `constructor` (a valid name) read Object.prototype's, and its records looked applied.
    return applied !== undefined && Object.hasOwn(applied, this.pod) ? (applied[this.pod] ?? 0) : 0;
  }

  /**
   * Bounds the own records kept while the operator does not apply them, as the usage outbox bounds
   * what it sends: merged records count at least what their parts did (their latest `at`, the
   * highest seq), so this pod's own spend is over-counted at worst and admission stays on the safe
   * side. The queues hold the records themselves: rebuilt from the merged ones.
   */
  private compact(): void {
    this.local = compactBudgetRecords(this.local).records;
    this.compactAt = nextCompactionAt(this.local.length);
    for (const id of this.queues.keys()) this.queues.set(id, this.rebuilt(id, this.appliedOf(id)));
  }

  /** An appliedThrough went back (a Budget recreated, a state missing): its records still kept count again. */
  private rebuilt(budgetId: string, applied: number): OwnSpendQueue {
    const queue = new OwnSpendQueue(applied);
    for (const record of this.local) {
      if (record.seq > applied && record.budgetIds.includes(budgetId)) queue.push(record);
    }
    return queue;
  }

  private standaloneOwn(budget: BudgetConfig, bounds: PeriodBounds): number {
    const spend = this.own.get(budget.id);
    if (spend === undefined) return 0;
    if (budget.period !== 'Rolling') return spend.periodStart === bounds.start ? amountOf(budget.unit, { costUsd: spend.usd, tokens: spend.tokens }) : 0;
    let total = 0;
    const size = Math.max(1000, Math.floor((budget.windowMs ?? 0) / 24));
    for (const [start, bucket] of spend.buckets) {
      if (start + size <= bounds.start) spend.buckets.delete(start);
      else total += amountOf(budget.unit, { costUsd: bucket.usd, tokens: bucket.tokens });
    }
    return total;
  }
}
