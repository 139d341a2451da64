// Fixtures shared by the budget admitters' tests (reported ledger and exact Redis mode), and the
// ledger's reference walk (its differential test and bench/budget-ledger.ts).
import { periodBounds } from '../../config/budget-period.js';
import type { BudgetConfig, RouteConfig } from '../../config/snapshot.js';
import type { CanonicalRequest } from '../../core/canonical.js';
import type { Caller } from '../../core/caller.js';
import { amountOf, type BudgetState, type UsageReportRecord } from '../../config/usage-report.js';

export const testBudget = (over: Partial<BudgetConfig> = {}): BudgetConfig => ({
  id: 'team-a/b',
  unit: 'USD',
  amount: 1,
  period: 'Day',
  timeZone: 'UTC',
  subjects: { namespaces: ['team-a'], serviceAccounts: [], apiKeys: [], routes: [] },
  action: { type: 'Reject', cutStreams: false },
  thresholds: [100],
  ...over,
});

/** $1000 per million tokens both ways: 100 prompt + 300 output tokens cost at most $0.40. */
export const testRoute = {
  id: 'team-a/r',
  model: 'm',
  targets: [{ providerId: 'x/p', model: 'u', priority: 0, weight: 1, pricing: { inputPerMTok: 1000, outputPerMTok: 1000, cachedInputPerMTok: 0 } }],
} as unknown as RouteConfig;

export const testCaller: Caller = { kind: 'serviceaccount', namespace: 'team-a', name: 'app', id: 'sa:team-a/app' };
export const testRequest = { op: 'chat', body: {}, stream: false, clientWantsUsage: false } as CanonicalRequest;

/** The ledger with an operator as it was before the per-budget queues: every query walks every unapplied record. */
export class WalkingLedger {
  private states = new Map<string, BudgetState>();
  private local: UsageReportRecord[] = [];
  private readonly reserved = new Map<string, number>();
  private replicas = 1;
  constructor(readonly pod: string) {}
  update(states: Record<string, BudgetState>, replicas: number): void {
    this.states = new Map(Object.entries(states));
    this.replicas = Math.max(1, replicas);
    this.local = this.local.filter((record) => record.budgetIds.some((id) => record.seq > this.appliedOf(id)));
  }
  addRecord(record: UsageReportRecord): void {
    this.local.push(record);
  }
  reserve(id: string, amount: number): void {
    this.reserved.set(id, (this.reserved.get(id) ?? 0) + amount);
  }
  release(id: string, amount: number): void {
    const left = (this.reserved.get(id) ?? 0) - amount;
    if (left <= 1e-12) this.reserved.delete(id);
    else this.reserved.set(id, left);
  }
  available(budget: BudgetConfig, now: number) {
    const { persisted, own, resetsAt } = this.parts(budget, now);
    const left = Math.max(0, budget.amount - persisted);
    const reserved = this.reserved.get(budget.id) ?? 0;
    return { available: left / this.replicas - own - reserved, spent: persisted + own, resetsAt, left, pods: this.replicas, ownUnreported: own, reserved };
  }
  spent(budget: BudgetConfig, now: number) {
    const { persisted, own, resetsAt } = this.parts(budget, now);
    return { spent: persisted + own, resetsAt };
  }
  get unreported(): number {
    return this.local.length;
  }
  private appliedOf(id: string): number {
    const applied = this.states.get(id)?.appliedThrough;
    return applied !== undefined && Object.hasOwn(applied, this.pod) ? (applied[this.pod] ?? 0) : 0;
  }
  private parts(budget: BudgetConfig, now: number) {
    const bounds = periodBounds(budget.period, budget.timeZone, budget.windowMs, now);
    const state = this.states.get(budget.id);
    // Written out again rather than imported: this is the reference the ledger is compared with.
    const current = state !== undefined && (budget.period === 'Rolling' || state.periodStart >= bounds.start - 1);
    const persisted = current ? state.spent : 0;
    const applied = this.appliedOf(budget.id);
    let own = 0;
    for (const record of this.local) {
      if (record.seq > applied && record.at >= bounds.start && record.budgetIds.includes(budget.id)) own += amountOf(budget.unit, record);
    }
    return { persisted, own, resetsAt: bounds.end };
  }
}
