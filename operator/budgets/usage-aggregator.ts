import type { Logger } from 'pino';
import { bucketStart, periodBounds } from '../../dataplane/config/budget-period.js';
import type { BudgetConfig } from '../../dataplane/config/snapshot.js';
import { amountOf, type BudgetState, type UsageReport, type UsageReportResponse } from '../../dataplane/config/usage-report.js';
import type { DesiredCondition } from '../controller/status-conditions.js';
import type { KubeClient, KubeObject } from '../kube/kube-client.js';

interface PersistedStatus {
  spent?: number;
  periodStart?: string;
  appliedThrough?: Record<string, number>;
  buckets?: { start: string; spent: number }[];
}

interface AggregateState {
  periodStart: number;
  resetsAt: number | undefined;
  spent: number;
  appliedThrough: Record<string, number>;
  /** Rolling windows only: spend per bucket start. */
  buckets: Map<number, number>;
  /** Spent as last written to status (for threshold crossings). */
  persistedSpent: number;
  dirty: boolean;
}

export interface UsageAggregatorOptions {
  client: Pick<KubeClient, 'request'>;
  /** The Budget objects as the informer sees them (for the persisted status). */
  budgetObjects: () => Map<string, KubeObject>;
  /** The compiled budgets of the current snapshot. */
  budgetConfigs: () => readonly BudgetConfig[];
  replicas: () => number;
  logger: Logger;
  now?: () => number;
}

const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Aggregates usage reports into Budget.status. A record counts once per budget: the status keeps,
 * per pod, the last sequence number applied, and a report is acknowledged only after the status
 * write that contains it succeeded. A crash on either side therefore loses nothing (the pod resends
 * what is unacknowledged) and counts nothing twice (the sequence is already applied).
 */
export class UsageAggregator {
  private readonly states = new Map<string, AggregateState>();
  private flushing: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: UsageAggregatorOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Forget in-memory state (on losing leadership): the next leader reads it back from status. */
  reset(): void {
    this.states.clear();
  }

  /**
   * The Budget as the API server has it now. Not the informer's copy: a leader that just took over
   * may not have seen the last status its predecessor wrote, and starting from an older spend and
   * appliedThrough loses what was counted since (the pods dropped those acknowledged records).
   */
  private async fetch(id: string): Promise<KubeObject | undefined> {
    if (!this.opts.budgetObjects().has(id)) return undefined;
    const [namespace = '', name = ''] = id.split('/');
    // A list (the verb the operator already has) with a field selector: a quorum read of one object.
    const list = await this.opts.client.request<{ items: KubeObject[] }>(
      'GET',
      `/apis/tollgate.dev/v1alpha1/namespaces/${encodeURIComponent(namespace)}/budgets?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`,
    );
    return list.items[0];
  }

  private async load(budget: BudgetConfig, now: number): Promise<AggregateState | undefined> {
    let state = this.states.get(budget.id);
    if (state !== undefined) return state;
    const object = await this.fetch(budget.id);
    if (object === undefined) return undefined;
    state = this.states.get(budget.id); // loaded by a concurrent report meanwhile
    if (state !== undefined) return state;
    const status = ((object as KubeObject & { status?: PersistedStatus }).status ?? {}) as PersistedStatus;
    const bounds = periodBounds(budget.period, budget.timeZone, budget.windowMs, now);
    const persistedStart = status.periodStart === undefined ? Number.NaN : Date.parse(status.periodStart);
    const samePeriod = budget.period !== 'Rolling' && persistedStart === bounds.start;
    state = {
      periodStart: bounds.start,
      resetsAt: bounds.end,
      spent: samePeriod ? (status.spent ?? 0) : 0,
      appliedThrough: { ...(status.appliedThrough ?? {}) },
      buckets: new Map((status.buckets ?? []).map((b) => [Date.parse(b.start), b.spent])),
      persistedSpent: status.spent ?? 0,
      dirty: !samePeriod && budget.period !== 'Rolling',
    };
    this.states.set(budget.id, state);
    return state;
  }

  /** Moves a state into the current period (calendar) or window (rolling). */
  private roll(budget: BudgetConfig, state: AggregateState, now: number): void {
    const bounds = periodBounds(budget.period, budget.timeZone, budget.windowMs, now);
    if (budget.period === 'Rolling') {
      let spent = 0;
      for (const [start, value] of state.buckets) {
        if (start + Math.max(1000, Math.floor((budget.windowMs ?? 0) / 24)) <= bounds.start) state.buckets.delete(start);
        else spent += value;
      }
      if (Math.abs(spent - state.spent) > 1e-12) state.dirty = true;
      state.spent = spent;
      state.periodStart = bounds.start;
      return;
    }
    if (bounds.start !== state.periodStart) {
      state.periodStart = bounds.start;
      state.resetsAt = bounds.end;
      state.spent = 0;
      state.persistedSpent = 0;
      state.dirty = true;
    }
  }

  async handle(report: UsageReport): Promise<UsageReportResponse> {
    const now = this.now();
    const configs = new Map(this.opts.budgetConfigs().map((b) => [b.id, b]));
    for (const config of configs.values()) {
      const state = await this.load(config, now);
      if (state !== undefined) this.roll(config, state, now);
    }
    let acked = 0;
    for (const record of [...report.records].sort((a, b) => a.seq - b.seq)) {
      acked = Math.max(acked, record.seq);
      for (const id of record.budgetIds) {
        const config = configs.get(id);
        const state = config === undefined ? undefined : this.states.get(id);
        if (config === undefined || state === undefined) continue;
        if (record.seq <= (state.appliedThrough[report.pod] ?? 0)) continue;
        state.appliedThrough[report.pod] = record.seq;
        state.dirty = true;
        const amount = amountOf(config.unit, record);
        if (config.period === 'Rolling') {
          if (record.at < state.periodStart) continue;
          const start = bucketStart(config.windowMs ?? 0, record.at);
          state.buckets.set(start, (state.buckets.get(start) ?? 0) + amount);
          state.spent += amount;
        } else if (record.at >= state.periodStart) {
          state.spent += amount;
        }
      }
    }
    await this.flush(configs);
    const budgets: Record<string, BudgetState> = {};
    for (const [id, s] of this.states) {
      if (!configs.has(id)) continue;
      budgets[id] = { periodStart: s.periodStart, spent: s.spent, appliedThrough: s.appliedThrough, ...(s.resetsAt === undefined ? {} : { resetsAt: s.resetsAt }) };
    }
    return { ackedThrough: acked, replicas: Math.max(1, this.opts.replicas()), budgets };
  }

  /** Writes every dirty state; concurrent callers share one write and wait for it. */
  private async flush(configs: Map<string, BudgetConfig>): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    const dirty = [...this.states].filter(([id, s]) => s.dirty && configs.has(id));
    if (dirty.length === 0) return;
    this.flushing = (async () => {
      for (const [id, state] of dirty) {
        const config = configs.get(id);
        if (config === undefined) continue;
        const [namespace, name] = id.split('/');
        const status: Record<string, unknown> = {
          spent: round(state.spent),
          remaining: round(Math.max(0, config.amount - state.spent)),
          periodStart: rfc3339(state.periodStart),
          resetsAt: state.resetsAt === undefined ? null : rfc3339(state.resetsAt),
          appliedThrough: state.appliedThrough,
        };
        if (config.period === 'Rolling') {
          status.buckets = [...state.buckets].sort(([a], [b]) => a - b).map(([start, spent]) => ({ start: new Date(start).toISOString(), spent: round(spent) }));
        }
        state.dirty = false;
        try {
          await this.opts.client.request('PATCH', `/apis/tollgate.dev/v1alpha1/namespaces/${namespace}/budgets/${name}/status`, { status }, 'application/merge-patch+json');
        } catch (err) {
          state.dirty = true;
          throw err;
        }
        state.persistedSpent = state.spent;
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  /**
   * The ThresholdReached condition for a Budget, for the reconciler's status write. Its Events come
   * from the same place (on a change of reason), so a crossing by spend and one by a lowered limit
   * look alike, and the condition, the Events and the refusals agree.
   */
  thresholdCondition(config: BudgetConfig | undefined, generation: number | undefined): DesiredCondition | undefined {
    if (config === undefined) return undefined;
    const state = this.states.get(config.id);
    const object = this.opts.budgetObjects().get(config.id) as (KubeObject & { status?: PersistedStatus }) | undefined;
    const spent = state?.persistedSpent ?? object?.status?.spent ?? 0;
    const pct = (spent / config.amount) * 100;
    const reached = config.thresholds.filter((t) => pct >= t);
    const base = generation === undefined ? {} : { observedGeneration: generation };
    const unit = config.unit === 'USD' ? 'USD' : 'tokens';
    const numbers = `${round(spent)} of ${config.amount} ${unit} spent (${Math.floor(pct)}%)`;
    // The message names the threshold, not the exact percentage, so that spend alone does not rewrite conditions.
    const first = config.thresholds[0] ?? 100;
    if (reached.length === 0) {
      const message = `less than ${first}% of the limit of ${config.amount} ${unit} spent`;
      return { type: 'ThresholdReached', status: 'False', reason: 'BelowThresholds', message, event: { type: 'Normal', reason: 'BelowThresholds', message: `${message}: ${numbers}` }, ...base };
    }
    const top = Math.max(...reached);
    const exhausted = top >= 100;
    const then = config.action.type === 'Downgrade' ? `requests go to model ${config.action.downgradeTo ?? ''}` : 'requests are refused';
    const message = exhausted ? `the limit of ${config.amount} ${unit} is spent; ${then} until the period resets` : `at least ${top}% of the limit of ${config.amount} ${unit} spent`;
    return {
      type: 'ThresholdReached',
      status: 'True',
      reason: exhausted ? 'Exhausted' : `Reached${top}Percent`,
      message,
      event: { type: exhausted ? 'Warning' : 'Normal', reason: exhausted ? 'BudgetExhausted' : 'BudgetThresholdReached', message: `${message}: ${numbers}` },
      ...base,
    };
  }
}

function round(n: number): number {
  return Math.round(n * 1e8) / 1e8;
}
