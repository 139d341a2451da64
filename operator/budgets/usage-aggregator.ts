import type { Logger } from 'pino';
import { bucketStart, type PeriodBounds, periodBounds } from '../../dataplane/config/budget-period.js';
import type { BudgetConfig } from '../../dataplane/config/snapshot.js';
import { amountOf, type BudgetState, type UsageReport, type UsageReportResponse } from '../../dataplane/config/usage-report.js';
import type { DesiredCondition } from '../controller/status-conditions.js';
import { KubeError, type KubeClient, type KubeObject } from '../kube/kube-client.js';
import { leastWorth } from './reporting-pods.js';

interface PersistedStatus {
  spent?: number;
  periodStart?: string;
  resetsAt?: string;
  /** The unit spent is in (absent from statuses written before it was kept). */
  unit?: BudgetConfig['unit'];
  appliedThrough?: Record<string, number>;
  buckets?: { start: string; spent: number }[];
}

/** What a state was counted under: a change of any of these is a new period of the Budget. */
type CountedUnder = Pick<BudgetConfig, 'period' | 'timeZone' | 'windowMs' | 'unit'>;

/** The spend a state held before a rollover or a change of its Budget's spec, and the period it counted. */
interface Counted {
  periodStart: number;
  /** undefined for a rolling window (which ends now) */
  resetsAt: number | undefined;
  spent: number;
  buckets: Map<number, number>;
  /** undefined when not known (a status written before the unit was kept): taken as unchanged. */
  unit: BudgetConfig['unit'] | undefined;
}

const bucketSize = (windowMs: number | undefined): number => Math.max(1000, Math.floor((windowMs ?? 0) / 24));

/**
 * The spend a Budget's current period takes over from what was counted before. A rollover takes
 * nothing (the periods do not overlap). An edit of spec.period, spec.timeZone or spec.window moves
 * the period: where the new one overlaps the counted one, its spend is carried over whole, since
 * which part of it falls inside is not known (an over-count at worst; before, an edit of the time
 * zone erased the month's spend). A new unit cannot take over spend counted in another (USD read as
 * tokens): it starts at 0, and says so (unitChanged).
 */
export function carryOver(budget: BudgetConfig, before: Counted, bounds: PeriodBounds, now: number): { spent: number; buckets: Map<number, number>; unitChanged: boolean } {
  if (before.unit !== undefined && before.unit !== budget.unit) return { spent: 0, buckets: new Map(), unitChanged: true };
  const beforeEnd = before.resetsAt ?? now;
  if (budget.period === 'Rolling') {
    // Rolling before: its buckets are in time, whatever the window; roll() keeps those inside.
    if (before.resetsAt === undefined) return { spent: 0, buckets: new Map(before.buckets), unitChanged: false };
    // A calendar period that ended inside the window: its spend may be as recent as its end, so it counts as of now.
    const overlaps = before.spent > 0 && beforeEnd > bounds.start;
    return { spent: 0, buckets: overlaps ? new Map([[bucketStart(budget.windowMs ?? 0, now), before.spent]]) : new Map(), unitChanged: false };
  }
  const overlaps = before.periodStart < (bounds.end ?? Number.POSITIVE_INFINITY) && bounds.start < beforeEnd;
  return { spent: overlaps ? before.spent : 0, buckets: new Map(), unitChanged: false };
}

interface AggregateState {
  id: string;
  /** The spec the state is counted under (roll() carries it over when the spec changes). */
  under: CountedUnder;
  periodStart: number;
  resetsAt: number | undefined;
  spent: number;
  appliedThrough: Record<string, number>;
  /** When each pod of appliedThrough last reported (since this state was loaded), the least recent first. */
  seenAt: Map<string, number>;
  /** Pods dropped from appliedThrough, to be removed from status by the next write (a merge patch keeps a key it does not set to null). */
  forgotten: Set<string>;
  /** Pods this state forgot, while the informer may still show them (not another writer's count). */
  dropped: Set<string>;
  /** The informer's object last looked at by countedElsewhere, and what it found: each version is scanned once. */
  lookedAt: { object: KubeObject; counted: boolean } | undefined;
  /** When gone pods were last looked for. */
  sweptAt: number;
  /** Rolling windows only: spend per bucket start. */
  buckets: Map<number, number>;
  /** Spent as last written to status (for threshold crossings). */
  persistedSpent: number;
  /** The Budget's resourceVersion this state was read at or last written as: every write is conditional on it. */
  resourceVersion: string | undefined;
  /** The counted fields of status as persisted (see countedFields), to tell a foreign write that left them alone. */
  persistedFields: string;
  /** The status as persisted (its counted fields), to say what another writer changed. */
  persistedStatus: PersistedStatus;
  /**
   * The counted fields of writes that failed without a 409 since the last one that succeeded (a
   * timeout or reset connection after the API server applied it). Found on the next conflict, such a
   * write is this state's own, not another writer's.
   */
  inDoubt: string[];
  /** Bumped by every change; a report is acknowledged once persistedRev reaches what its records made it. */
  rev: number;
  persistedRev: number;
  /** Dropped (leadership lost, or another writer counted into the Budget): never written again. */
  discarded: boolean;
  /**
   * A count started over in a new unit, announced once the write that moves status.unit from
   * `from` lands (see announceReset).
   */
  reset: SpendReset | undefined;
}

/** What a unit change set to 0: the unit and spend the status held. */
interface SpendReset {
  from: BudgetConfig['unit'];
  spent: number;
}

/** A report whose records went into a state that was dropped before it was written: not acknowledged. */
/** The BudgetSpendReset Event's message, in both modes: what was spent in the old unit, and that the count starts again. */
export function spendResetMessage(from: string, to: string, spent: number): string {
  return `spec.limit.unit changed from ${from} to ${to}: the ${round(spent)} ${from} spent this period cannot be counted in ${to}, so the count starts again at 0 ${to}`;
}

export class StaleBudgetStateError extends Error {
  constructor(id: string) {
    super(`Budget ${id}: the status changed under this operator (leadership lost, or another writer changed its spend or appliedThrough); the pod resends`);
    this.name = 'StaleBudgetStateError';
  }
}

/**
 * A pod that has not reported for this long is gone: its entry leaves appliedThrough. Pod names are
 * never reused (each start adds a random suffix) and a pod's unsent records live only in its
 * memory, so a gone pod never resends. Without this every data-plane pod start ever (rollouts,
 * restarts, autoscaling) kept a key in every Budget it counted into: the status, and every answer to
 * every pod, grew until the Budget passed etcd's object size and every usage report failed.
 */
export const FORGET_PODS_AFTER_MS = 24 * 60 * 60 * 1000;
/**
 * At most this many pods per Budget, the least recently reporting forgotten first: a bound on the
 * status whatever the churn, ~50 KB of it. A pod forgotten while it is alive only makes a record it
 * sent whose answer was lost count twice (never less than once).
 */
export const MAX_APPLIED_PODS = 1000;
const SWEEP_EVERY_MS = 60_000;
/**
 * A record stamped at most this long before the current calendar period counts in it. It belongs to
 * the period before, whose total is closed, and it was acknowledged either way: dropped, it was
 * counted nowhere, and a pod clock behind the operator's (or a report that crossed midnight, or a
 * resend after a leader change) made spend at every rollover vanish. Counted, it over-counts the new
 * period by what the old one missed. Older records (an operator down for longer) are still dropped,
 * logged and counted (onLateRecord).
 */
export const LATE_RECORD_TOLERANCE_MS = 5 * 60_000;

/** spent, periodStart, appliedThrough and buckets as one comparable string (key order aside). */
function countedFields(status: PersistedStatus | undefined): string {
  // A key set to null by a merge patch is removed by the API server: not counted.
  const applied = Object.entries(status?.appliedThrough ?? {})
    .filter(([, seq]) => seq !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Pairs, not the objects: the API server answers their keys in its own order, not the one written.
  const buckets = (status?.buckets ?? []).map((b) => [b.start, b.spent]);
  return JSON.stringify([status?.spent ?? 0, status?.periodStart ?? '', applied, buckets]);
}

/** Which counted fields differ between two statuses, and the numbers that show it, for the log. */
function countedChange(before: PersistedStatus | undefined, after: PersistedStatus | undefined): { changed: string[]; persisted: { spent: number; pods: number }; found: { spent: number; pods: number } } {
  const summary = (s: PersistedStatus | undefined) => ({ spent: s?.spent ?? 0, pods: Object.values(s?.appliedThrough ?? {}).filter((seq) => seq !== null).length });
  const changed = (['spent', 'periodStart', 'appliedThrough', 'buckets'] as const).filter((field) => {
    const only = (s: PersistedStatus | undefined): PersistedStatus => (s?.[field] === undefined ? {} : { [field]: s[field] });
    return countedFields(only(before)) !== countedFields(only(after));
  });
  return { changed, persisted: summary(before), found: summary(after) };
}

/**
 * Re-reads after a 409 while the counted fields are as this state wrote them (only conditions, by
 * the reconciler's status writer, changed). A bound, not a budget of tries: each is one list and one
 * PATCH, and the status writer writes one object once at a time, only when its conditions change.
 */
const CONFLICT_REREADS = 8;
/** In-doubt writes remembered per state (a write that failed without an answer may still have landed). */
const IN_DOUBT_KEPT = 4;

const statusOf = (object: KubeObject | undefined): PersistedStatus | undefined => (object as (KubeObject & { status?: PersistedStatus }) | undefined)?.status;

export interface UsageAggregatorOptions {
  client: Pick<KubeClient, 'request'>;
  /** The Budget objects as the informer sees them (for the persisted status). */
  budgetObjects: () => Map<string, KubeObject>;
  /** The compiled budgets of the current snapshot. */
  budgetConfigs: () => readonly BudgetConfig[];
  replicas: () => number;
  logger: Logger;
  /** A record stamped before the current calendar period: counted in it (within the tolerance) or dropped. */
  onLateRecord?: (result: 'counted' | 'dropped') => void;
  /**
   * How much a pod's appliedThrough entry is worth keeping (ReportingPods.rank): past
   * MAX_APPLIED_PODS the lowest ranked go first, the least recently heard among them. Absent: all alike.
   */
  rank?: (pod: string) => number;
  /** Events on the Budget (a unit change that starts the count over). */
  events?: { record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> };
  now?: () => number;
}

const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Aggregates usage reports into Budget.status. A record counts once per budget: the status keeps,
 * per pod, the last sequence number applied, and a report is acknowledged only after the status
 * write that contains it succeeded. A crash on either side therefore loses nothing (the pod resends
 * what is unacknowledged) and counts nothing twice (the sequence is already applied).
 *
 * Two leaders can overlap for a moment (the old one finishing a report while the new one starts),
 * so every status write is conditional on the resourceVersion the state was read at: a write based
 * on a status someone else has since counted into fails with 409, the state is dropped, the report
 * is not acknowledged, and the resend is counted on a fresh read. An unconditional write would put
 * back the older spend and appliedThrough (under-counting what the other leader acknowledged) or
 * count resent records again. A 409 from the reconciler's conditions (written apart, by merge patch,
 * never touching the counted fields) is not that: the write is made again at once on the new version.
 */
export class UsageAggregator {
  private readonly states = new Map<string, AggregateState>();
  private flushing: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: UsageAggregatorOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Forget in-memory state (on losing leadership): the next leader reads it back from status. A
   * report still in flight whose records are not written yet is not acknowledged (see persist).
   */
  reset(): void {
    for (const state of this.states.values()) state.discarded = true;
    this.states.clear();
  }

  private discard(state: AggregateState): void {
    state.discarded = true;
    if (this.states.get(state.id) === state) this.states.delete(state.id);
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
    const status = statusOf(object) ?? {};
    const bounds = periodBounds(budget.period, budget.timeZone, budget.windowMs, now);
    const persistedStart = status.periodStart === undefined ? Number.NaN : Date.parse(status.periodStart);
    // A calendar status without resetsAt (written before it was kept) ended where its period under this spec ends; a rolling one has buckets.
    const calendarWithoutEnd = status.resetsAt === undefined && status.buckets === undefined && budget.period !== 'Rolling' && Number.isFinite(persistedStart);
    const before: Counted = {
      periodStart: persistedStart,
      resetsAt:
        status.resetsAt !== undefined && status.resetsAt !== null
          ? Date.parse(status.resetsAt)
          : calendarWithoutEnd
            ? periodBounds(budget.period, budget.timeZone, budget.windowMs, persistedStart).end
            : undefined,
      spent: status.spent ?? 0,
      buckets: new Map((status.buckets ?? []).map((b) => [Date.parse(b.start), b.spent])),
      unit: status.unit,
    };
    const samePeriod = budget.period !== 'Rolling' && before.periodStart === bounds.start && (before.unit === undefined || before.unit === budget.unit);
    // Not the persisted period (a rollover while no operator led, or a spec edited meanwhile): what carries over, written at once.
    const carried = samePeriod ? undefined : carryOver(budget, before, bounds, now);
    state = {
      id: budget.id,
      under: { period: budget.period, timeZone: budget.timeZone, windowMs: budget.windowMs, unit: budget.unit },
      periodStart: bounds.start,
      resetsAt: bounds.end,
      spent: carried === undefined ? before.spent : carried.spent,
      // Keyed by pod names from reports: without a prototype, `__proto__` or `constructor` is a pod like any other.
      appliedThrough: Object.assign(Object.create(null) as Record<string, number>, status.appliedThrough),
      // Every pod of the status counts as seen at load: one that is gone is forgotten a day later.
      seenAt: new Map(Object.keys(status.appliedThrough ?? {}).map((pod) => [pod, now])),
      forgotten: new Set(),
      dropped: new Set(),
      lookedAt: undefined,
      sweptAt: now,
      buckets: carried === undefined ? new Map() : carried.buckets,
      persistedSpent: status.spent ?? 0,
      resourceVersion: object.metadata.resourceVersion,
      persistedFields: countedFields(status),
      persistedStatus: status,
      inDoubt: [],
      // A rolling state is written when roll() changes its total; a calendar one not in its persisted period, now.
      rev: carried !== undefined && (budget.period !== 'Rolling' || carried.unitChanged) ? 1 : 0,
      persistedRev: 0,
      discarded: false,
      reset: carried?.unitChanged === true && before.unit !== undefined ? { from: before.unit, spent: before.spent } : undefined,
    };
    this.states.set(budget.id, state);
    return state;
  }

  /** Moves a state into the current period (calendar) or window (rolling). */
  private roll(budget: BudgetConfig, state: AggregateState, now: number): void {
    const bounds = periodBounds(budget.period, budget.timeZone, budget.windowMs, now);
    const u = state.under;
    if (u.period !== budget.period || u.timeZone !== budget.timeZone || u.windowMs !== budget.windowMs || u.unit !== budget.unit) {
      // The spec changed under a loaded state: its period moves (or its unit changes), not only on a rollover.
      const carried = carryOver(budget, { periodStart: state.periodStart, resetsAt: state.resetsAt, spent: state.spent, buckets: state.buckets, unit: u.unit }, bounds, now);
      // The first reset not yet written is the one the status shows the end of (its unit, its spend).
      if (carried.unitChanged && u.unit !== undefined) state.reset ??= { from: u.unit, spent: state.spent };
      state.under = { period: budget.period, timeZone: budget.timeZone, windowMs: budget.windowMs, unit: budget.unit };
      state.periodStart = bounds.start;
      state.resetsAt = bounds.end;
      state.spent = carried.spent;
      state.buckets = carried.buckets;
      state.persistedSpent = carried.spent;
      state.rev++;
    }
    if (budget.period === 'Rolling') {
      let spent = 0;
      for (const [start, value] of state.buckets) {
        if (start + bucketSize(budget.windowMs) <= bounds.start) state.buckets.delete(start);
        else spent += value;
      }
      if (Math.abs(spent - state.spent) > 1e-12) state.rev++;
      state.spent = spent;
      state.periodStart = bounds.start;
      return;
    }
    if (bounds.start !== state.periodStart) {
      state.periodStart = bounds.start;
      state.resetsAt = bounds.end;
      state.spent = 0;
      state.persistedSpent = 0;
      state.rev++;
    }
  }

  /**
   * The count started over in the new unit: said in an Event and the log, since the status alone
   * shows only a drop. Said by the write that moved status.unit (`over`, the status it was
   * conditional on, still in the old unit), and by no other: said as each state was read, one reset
   * was announced by every aggregator that read the Budget before that write (two installations
   * counting into it, a leader that read it again after a conflict or took over from one whose
   * write failed).
   */
  private announceReset(budget: BudgetConfig, state: AggregateState, over: PersistedStatus): void {
    const reset = state.reset;
    // A write still in the old unit (begun before the change reached this state): a later one moves it.
    if (reset === undefined || budget.unit === reset.from) return;
    state.reset = undefined;
    // Moved by another writer first: announced by that one.
    if (over.unit !== reset.from) return;
    const message = spendResetMessage(reset.from, budget.unit, reset.spent);
    this.opts.logger.warn({ budget: budget.id, from: reset.from, to: budget.unit, spent: reset.spent }, 'Budget unit changed: its spend this period starts again at 0');
    const object = this.opts.budgetObjects().get(budget.id);
    if (object !== undefined) void this.opts.events?.record(object, 'Warning', 'BudgetSpendReset', message).catch(() => undefined);
  }

  /**
   * Whether the Budget as the informer sees it holds records this state has not counted: a pod of
   * its appliedThrough past this state's. Only another writer puts them there (another installation
   * whose data planes count into the same Budget, or another leader for a moment); an informer
   * behind this state's writes never does. Without this, an installation whose own pods kept
   * reporting nothing never wrote, so never met the conflict that reads the Budget again: it
   * answered its pods, and set ThresholdReached from, a spend without the other installation's
   * (its data planes under-counted the Budget for as long as they spent nothing themselves). A state
   * with a write pending is left to that write's conflict.
   */
  private countedElsewhere(state: AggregateState): boolean {
    if (state.discarded || state.persistedRev < state.rev) return false;
    const object = this.opts.budgetObjects().get(state.id);
    if (object === undefined) return false;
    // The informer replaces the object at every change: a report does not scan up to MAX_APPLIED_PODS pods per Budget again.
    if (state.lookedAt?.object === object) return state.lookedAt.counted;
    const applied = statusOf(object)?.appliedThrough ?? {};
    let counted = false;
    for (const pod in applied) {
      const seq = applied[pod];
      if (typeof seq === 'number' && seq > (state.appliedThrough[pod] ?? 0) && !state.dropped.has(pod)) {
        counted = true;
        break;
      }
    }
    state.lookedAt = { object, counted };
    return counted;
  }

  /** Budgets whose state this leader holds (for tests). */
  get budgetsHeld(): number {
    return this.states.size;
  }

  async handle(report: UsageReport): Promise<UsageReportResponse> {
    const now = this.now();
    const configs = new Map(this.opts.budgetConfigs().map((b) => [b.id, b]));
    // A deleted Budget's state goes (one with a write still pending goes at a later report): kept,
    // every Budget ever counted into stayed in memory for as long as this replica led. Back, it is read again from status.
    for (const state of [...this.states.values()]) if (!configs.has(state.id) && state.persistedRev >= state.rev) this.discard(state);
    // The states this report counts into, as loaded: a reset meanwhile leaves them discarded.
    const loaded = new Map<string, AggregateState>();
    for (const config of configs.values()) {
      let state = await this.load(config, now);
      if (state !== undefined && this.countedElsewhere(state)) {
        // Another writer (another installation's operator, whose data planes count into the same
        // Budget) counted since: read it again, or this state answers its pods a spend without that.
        this.discard(state);
        state = await this.load(config, now);
      }
      if (state !== undefined) loaded.set(config.id, state);
    }
    for (const [id, state] of loaded) {
      const config = configs.get(id);
      if (config !== undefined) this.roll(config, state, now);
    }
    let acked = 0;
    let dropped: { budget: string; seq: number; at: number; periodStart: number } | undefined;
    let droppedCount = 0;
    for (const record of [...report.records].sort((a, b) => a.seq - b.seq)) {
      acked = Math.max(acked, record.seq);
      for (const id of record.budgetIds) {
        const config = configs.get(id);
        const state = loaded.get(id);
        if (config === undefined || state === undefined) continue;
        if (record.seq <= (state.appliedThrough[report.pod] ?? 0)) continue;
        state.appliedThrough[report.pod] = record.seq;
        state.forgotten.delete(report.pod);
        state.dropped.delete(report.pod);
        state.rev++;
        const amount = amountOf(config.unit, record);
        if (config.period === 'Rolling') {
          if (record.at < state.periodStart) continue;
          const start = bucketStart(config.windowMs ?? 0, record.at);
          state.buckets.set(start, (state.buckets.get(start) ?? 0) + amount);
          state.spent += amount;
        } else if (record.at >= state.periodStart) {
          state.spent += amount;
        } else if (record.at >= state.periodStart - LATE_RECORD_TOLERANCE_MS) {
          state.spent += amount;
          this.opts.onLateRecord?.('counted');
        } else {
          dropped ??= { budget: id, seq: record.seq, at: record.at, periodStart: state.periodStart };
          droppedCount++;
          this.opts.onLateRecord?.('dropped');
        }
      }
    }
    if (dropped !== undefined) {
      this.opts.logger.warn(
        { pod: report.pod, records: droppedCount, first: { ...dropped, at: new Date(dropped.at).toISOString(), periodStart: new Date(dropped.periodStart).toISOString() } },
        'usage records from before the current Budget period dropped: their period is closed (reported too late)',
      );
    }
    for (const state of loaded.values()) this.forgetGonePods(state, report.pod, now);
    // Every state as of now, not only those this report changed: a skipped duplicate was applied by
    // a concurrent report whose write may still be pending, and the ack must wait for it too.
    await this.persist(new Map([...loaded.values()].map((state) => [state, state.rev])), configs);
    const budgets: Record<string, BudgetState> = {};
    for (const [id, s] of this.states) {
      if (!configs.has(id)) continue;
      // The pod reads only its own entry: the others' were sent to every pod on every report.
      const applied = s.appliedThrough[report.pod];
      budgets[id] = { periodStart: s.periodStart, spent: s.spent, appliedThrough: applied === undefined ? {} : { [report.pod]: applied }, ...(s.resetsAt === undefined ? {} : { resetsAt: s.resetsAt }) };
    }
    return { ackedThrough: acked, replicas: Math.max(1, this.opts.replicas()), budgets };
  }

  /**
   * The reporting pod is alive; pods not heard from for FORGET_PODS_AFTER_MS (looked for once a
   * minute), and past MAX_APPLIED_PODS the lowest ranked (the least recently heard among them), leave appliedThrough.
   */
  private forgetGonePods(state: AggregateState, reporting: string, now: number): void {
    if (state.appliedThrough[reporting] !== undefined) {
      state.seenAt.delete(reporting);
      state.seenAt.set(reporting, now);
    }
    const forget = (pod: string): void => {
      delete state.appliedThrough[pod];
      state.seenAt.delete(pod);
      state.forgotten.add(pod);
      state.dropped.add(pod);
      state.rev++;
    };
    // Past MAX_APPLIED_PODS the lowest ranked go first. Before, simply the least recently heard:
    // anyone holding the report token could name 1,000 made-up pods in a row and push every real pod
    // out of every Budget it charged (a record whose answer was lost then counted twice).
    while (state.seenAt.size > MAX_APPLIED_PODS) forget(leastWorth(state.seenAt.keys(), this.opts.rank) ?? '');
    if (now - state.sweptAt < SWEEP_EVERY_MS) return;
    state.sweptAt = now;
    const shown = statusOf(this.opts.budgetObjects().get(state.id))?.appliedThrough ?? {};
    for (const pod of state.dropped) if (!Object.hasOwn(shown, pod) || shown[pod] === undefined || shown[pod] === null) state.dropped.delete(pod);
    for (const [pod, at] of state.seenAt) if (now - at > FORGET_PODS_AFTER_MS) forget(pod);
  }

  /**
   * Returns once each state is written through the given revision; throws when one cannot be (its
   * write failed, or it was dropped first). Concurrent reports share writes: one round writes every
   * changed state, and a report that arrives meanwhile waits for it and then checks again.
   */
  private async persist(targets: Map<AggregateState, number>, configs: Map<string, BudgetConfig>): Promise<void> {
    for (;;) {
      const behind = [...targets].filter(([state, rev]) => state.persistedRev < rev).map(([state]) => state);
      if (behind.length === 0) return;
      const dropped = behind.find((state) => state.discarded);
      if (dropped !== undefined) throw new StaleBudgetStateError(dropped.id);
      if (this.flushing !== undefined) {
        await this.flushing;
        continue;
      }
      const writing = this.writeChanged(configs);
      this.flushing = writing.then(() => undefined);
      let failures: Map<AggregateState, unknown>;
      try {
        failures = await writing;
      } finally {
        this.flushing = undefined;
      }
      const failed = behind.find((state) => failures.has(state));
      if (failed !== undefined) throw failures.get(failed);
    }
  }

  /** Writes every changed state; never rejects: the failures come back per state. */
  private async writeChanged(configs: Map<string, BudgetConfig>): Promise<Map<AggregateState, unknown>> {
    const failures = new Map<AggregateState, unknown>();
    for (const state of [...this.states.values()]) {
      const config = configs.get(state.id);
      if (config === undefined || state.discarded || state.persistedRev >= state.rev) continue;
      try {
        await this.write(state, config);
      } catch (err) {
        failures.set(state, err);
      }
    }
    return failures;
  }

  /**
   * One conditional status write. On a conflict the Budget is read again: if its counted fields are
   * as this state last persisted them (or as a write of its own left them whose answer was lost), the
   * write is made again at once on the new version; only a change of them by another writer drops
   * the state. The status writer's conditions (a merge patch of other fields, never of these) are
   * no reason to drop it.
   */
  private async write(state: AggregateState, config: BudgetConfig): Promise<void> {
    const [namespace = '', name = ''] = state.id.split('/');
    for (let attempt = 0; ; attempt++) {
      const rev = state.rev;
      const spent = state.spent;
      const forgetting = [...state.forgotten];
      const status: Record<string, unknown> = {
        spent: round(spent),
        remaining: round(Math.max(0, config.amount - spent)),
        periodStart: rfc3339(state.periodStart),
        resetsAt: state.resetsAt === undefined ? null : rfc3339(state.resetsAt),
        unit: config.unit,
        appliedThrough: { ...Object.fromEntries([...forgetting].map((pod) => [pod, null])), ...state.appliedThrough },
      };
      if (config.period === 'Rolling') {
        status.buckets = [...state.buckets].sort(([a], [b]) => a - b).map(([start, value]) => ({ start: new Date(start).toISOString(), spent: round(value) }));
      }
      let written: KubeObject;
      try {
        written = await this.opts.client.request<KubeObject>(
          'PATCH',
          `/apis/tollgate.dev/v1alpha1/namespaces/${namespace}/budgets/${name}/status`,
          { metadata: { resourceVersion: state.resourceVersion }, status },
          'application/merge-patch+json',
        );
      } catch (err) {
        if (!(err instanceof KubeError && err.status === 409)) {
          // Refused or unanswered: it may have landed all the same (state.appliedThrough holds every pod of the status but the forgotten).
          state.inDoubt = [...state.inDoubt, countedFields(status as PersistedStatus)].slice(-IN_DOUBT_KEPT);
          throw err;
        }
        const current = await this.fetch(state.id);
        if (current === undefined) {
          this.discard(state);
          this.opts.logger.info({ budget: state.id }, 'Budget deleted while its usage was written; its state is dropped');
          throw new StaleBudgetStateError(state.id);
        }
        const found = statusOf(current);
        const fields = countedFields(found);
        if (fields !== state.persistedFields && !state.inDoubt.includes(fields)) {
          // Another writer changed spend or appliedThrough (another leader, or an edit of the status):
          // this state must not overwrite it; the reports counted into it are resent and counted on a fresh read.
          this.discard(state);
          this.opts.logger.info(
            { budget: state.id, ...countedChange(state.persistedStatus, found) },
            'Budget status: spend or appliedThrough changed by another writer (another operator replica, or an edit of the status); this state is dropped and read again, the pods resend',
          );
          throw new StaleBudgetStateError(state.id);
        }
        // Only conditions changed (or a write of ours landed unanswered): written again on the new version.
        state.resourceVersion = current.metadata.resourceVersion;
        state.persistedFields = fields;
        state.persistedStatus = found ?? {};
        state.inDoubt = [];
        if (attempt + 1 < CONFLICT_REREADS) continue;
        // Still nothing counted by anyone else: the state stays, and the next report writes it.
        throw new Error(`Budget ${state.id}: its status changed under ${CONFLICT_REREADS} usage writes in a row (conditions only); written with the next report`);
      }
      const over = state.persistedStatus;
      state.resourceVersion = written.metadata?.resourceVersion;
      state.persistedStatus = statusOf(written) ?? {};
      state.persistedFields = countedFields(state.persistedStatus);
      state.inDoubt = [];
      state.persistedRev = Math.max(state.persistedRev, rev);
      state.persistedSpent = spent;
      for (const pod of forgetting) state.forgotten.delete(pod);
      this.announceReset(config, state, over);
      return;
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
    // The informer's when another writer counted past this state (see countedElsewhere).
    const spent = state === undefined || this.countedElsewhere(state) ? (object?.status?.spent ?? 0) : state.persistedSpent;
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
