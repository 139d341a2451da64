import { periodBounds } from '../../config/budget-period.js';
import type { BudgetConfig } from '../../config/snapshot.js';
import { amountOf, type BudgetState, type UsageReportRecord } from './budget-state.js';

/**
 * What one pod knows about spend: the operator's last persisted totals, plus this pod's own records
 * that those totals do not include yet, plus reservations for requests in flight. Admission uses
 * only this pod's share of what is left, so that N pods together cannot overspend between syncs.
 */
export class BudgetLedger {
  private states = new Map<string, BudgetState>();
  private local: UsageReportRecord[] = [];
  private readonly reserved = new Map<string, number>();
  private replicas = 1;
  /** Without an operator (tollgate dev) this pod's records are the whole truth. */
  private readonly standalone: boolean;

  constructor(
    readonly pod: string,
    opts: { standalone: boolean },
  ) {
    this.standalone = opts.standalone;
  }

  /** The operator's answer to a report. */
  update(states: Record<string, BudgetState>, replicas: number): void {
    this.states = new Map(Object.entries(states));
    this.replicas = Math.max(1, replicas);
    // Drop own records every budget's persisted total now includes.
    this.local = this.local.filter((record) => record.budgetIds.some((id) => record.seq > (this.states.get(id)?.appliedThrough[this.pod] ?? 0)));
  }

  addRecord(record: UsageReportRecord): void {
    this.local.push(record);
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

  private parts(budget: BudgetConfig, now: number): { persisted: number; own: number; resetsAt: number | undefined } {
    const bounds = periodBounds(budget.period, budget.timeZone, budget.windowMs, now);
    const state = this.states.get(budget.id);
    // A persisted total from an earlier period does not count any more.
    const persisted = state !== undefined && state.periodStart >= bounds.start - 1 ? state.spent : 0;
    const applied = this.standalone ? 0 : (state?.appliedThrough[this.pod] ?? 0);
    let own = 0;
    for (const record of this.local) {
      if (record.seq > applied && record.at >= bounds.start && record.budgetIds.includes(budget.id)) own += amountOf(budget.unit, record);
    }
    return { persisted, own, resetsAt: bounds.end };
  }

  /**
   * What this pod may still admit against the budget right now: its share of what the operator
   * last saw left, minus what this pod spent since and what it has reserved. Between two reports
   * the pods together can therefore spend at most what was left.
   */
  available(budget: BudgetConfig, now: number): { available: number; spent: number; resetsAt: number | undefined } {
    const { persisted, own, resetsAt } = this.parts(budget, now);
    const left = Math.max(0, budget.amount - persisted);
    const share = this.standalone ? left : left / this.replicas;
    return { available: share - own - (this.reserved.get(budget.id) ?? 0), spent: persisted + own, resetsAt };
  }

  /** For tests and the access log. */
  get unreported(): number {
    return this.local.length;
  }

  /** Trims records that can no longer matter (standalone mode keeps a period's worth). */
  prune(before: number): void {
    if (this.standalone) this.local = this.local.filter((record) => record.at >= before);
  }
}
