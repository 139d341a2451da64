import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { exactBudgetKeys, MIRROR_READ_SCRIPT, MIRROR_SWEEP_LIMIT } from '../../dataplane/config/exact-budget-ledger.js';
import type { BudgetConfig } from '../../dataplane/config/snapshot.js';
import type { Condition } from '../api/common.js';
import { KubeError, type KubeClient, type KubeObject } from '../kube/kube-client.js';
import { SHARED_CONDITION, sharedCondition, sharerOf } from './shared-condition.js';
import { spendResetMessage } from './usage-aggregator.js';

export interface ExactBudgetMirrorOptions {
  redis: Redis;
  keyPrefix: string;
  client: Pick<KubeClient, 'request'>;
  budgetObjects: () => Map<string, KubeObject>;
  /** The exact budgets of the current snapshot (calendar periods). */
  budgetConfigs: () => readonly BudgetConfig[];
  isLeader: () => boolean;
  /** Whether budgetConfigs is this installation's view yet (a snapshot compiled); absent: it is. */
  budgetsKnown?: () => boolean;
  logger: Logger;
  /** This installation (`<release namespace>/<Lease name>`): a Budget whose status names another is that one's to mirror. */
  installation?: string;
  /** Events on the Budget (SharedWithAnotherInstallation, when this installation's write turns it True; BudgetSpendReset, when its write moves status.unit). */
  events?: { record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> };
  intervalMs?: number;
  /**
   * Tests: the clock that picks each budget's period. Unset, it is Redis's (TIME), the clock the
   * data planes' holds and settles pick their period by: the status follows the period they charge.
   */
  now?: () => number;
}

interface PersistedStatus {
  installation?: string;
  conditions?: Condition[];
  spent?: number;
  periodStart?: string;
  resetsAt?: string;
  unit?: BudgetConfig['unit'];
}

/**
 * What Budget.status counts that the current period must not count less than: its spent when it is
 * this period, or one the current period overlaps (spec.timeZone or spec.period edited: the period
 * moved, and its spend with it, as in the reported mode); nothing for the period before (a
 * rollover) or another unit (USD are not tokens).
 */
export function statusFloor(status: PersistedStatus | undefined, budget: BudgetConfig, period: { periodStart: number; resetsAt: number | undefined }): number {
  if (status?.periodStart === undefined || status.spent === undefined) return 0;
  if (status.unit !== undefined && status.unit !== budget.unit) return 0;
  const start = Date.parse(status.periodStart);
  if (start === period.periodStart) return Math.max(0, status.spent);
  if (status.resetsAt === undefined || status.resetsAt === null) return 0;
  const overlaps = start < (period.resetsAt ?? Number.POSITIVE_INFINITY) && period.periodStart < Date.parse(status.resetsAt);
  return overlaps ? Math.max(0, status.spent) : 0;
}

const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const round = (n: number): number => Math.round(n * 1e8) / 1e8;

/**
 * Exact budgets: Redis is the ledger, Budget.status its mirror. The leader reads each budget's
 * period (charging holds that expired, i.e. whose pod died) every interval and writes spent,
 * remaining and the period to the status when they changed. Conditions and Events follow from the
 * status as in the reported mode.
 *
 * The status is also the floor of the ledger within a period: Redis can lose spend (a switch from
 * the reported mode, a restart without persistence, eviction), and a mirror that wrote whatever
 * Redis held refilled the budget. The read carries the status into Redis (MIRROR_READ_SCRIPT), and a
 * lower number is never written for the same period.
 */
export class ExactBudgetMirror {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Budgets another installation mirrors, with that installation (said once per claimant). */
  private readonly shared = new Map<string, string>();

  constructor(private readonly opts: ExactBudgetMirrorOptions) {
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sync().finally(() => {
        this.running = undefined;
      });
    }, this.opts.intervalMs ?? 1_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    this.opts.redis.disconnect();
  }

  /** One pass over every exact budget; errors are logged and retried on the next pass. */
  async sync(): Promise<void> {
    if (!this.opts.isLeader()) return;
    let now: number;
    try {
      now = this.opts.now?.() ?? (await this.redisNow());
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'exact budgets: could not read Redis\'s clock; Budget.status not mirrored this pass');
      return;
    }
    const sharing = new Set<string>();
    for (const budget of this.opts.budgetConfigs()) {
      try {
        await this.syncOne(budget, now, sharing);
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message, budget: budget.id }, 'exact budgets: could not mirror spend into Budget.status');
      }
    }
    await this.withdrawShared(sharing, now);
  }

  /**
   * SharedWithAnotherInstallation=True on a Budget another installation mirrors: the status it
   * writes under-counts by this installation's spend, and `kubectl get`/conditions say so (before, an
   * Event alone did, gone after an hour). Only this installation knows it serves the Budget, so it
   * writes this one condition, conditional on the resourceVersion read (a write that meets another
   * is made again at the next pass, from the status as it is then); the owner keeps it in its own
   * status writes. lastTransitionTime moves only when the status turns True; where another
   * installation's condition says it already, that one stays (one condition per type). A Warning
   * Event of the same name is recorded when this installation's write turns it True, as the
   * reconciler records one when a condition turns bad (before: once per claimant and process, so
   * again at every restart of the operator); the log says it once per claimant.
   */
  private async markShared(budget: BudgetConfig, object: KubeObject & { status?: PersistedStatus }, claimant: string, now: number): Promise<void> {
    const own = this.opts.installation ?? '';
    const desired = sharedCondition(own, claimant, object.metadata.generation);
    if (this.shared.get(budget.id) !== claimant) {
      this.shared.set(budget.id, claimant);
      this.opts.logger.warn({ budget: budget.id, claimant, installation: own }, 'exact Budget mirrored by another installation: this installation\'s spend is not in its status');
    }
    const conditions = object.status?.conditions ?? [];
    const current = conditions.find((c) => c.type === SHARED_CONDITION);
    const sharer = sharerOf(current);
    if (current?.status === 'True' && sharer !== undefined && sharer !== own && sharer !== claimant) return;
    const same = current !== undefined && current.status === desired.status && current.reason === desired.reason && current.message === desired.message && current.observedGeneration === desired.observedGeneration;
    if (same) return;
    const turnsTrue = current?.status !== desired.status;
    const lastTransitionTime = turnsTrue ? rfc3339(now) : current.lastTransitionTime;
    const written = await this.writeConditions(budget.id, object, [...conditions.filter((c) => c !== current), { ...desired, lastTransitionTime }]);
    if (written && turnsTrue) {
      void this.opts.events?.record(object, 'Warning', SHARED_CONDITION, `exact Budget shared with the installation ${claimant}, which writes its status: ${desired.message}`).catch(() => undefined);
    }
  }

  /**
   * Removes this installation's SharedWithAnotherInstallation from Budgets it no longer shares: it
   * now writes their status itself (handed over), or no longer serves them as exact Budgets. An
   * installation that stops watching the namespace, or is uninstalled, cannot: docs/operator.md says
   * how to remove it by hand.
   */
  private async withdrawShared(sharing: ReadonlySet<string>, now: number): Promise<void> {
    const own = this.opts.installation;
    // Before the first snapshot no Budget is known to be served: not a reason to withdraw.
    if (own === undefined || this.opts.budgetsKnown?.() === false) return;
    for (const [id, object] of this.opts.budgetObjects()) {
      if (sharing.has(id)) continue;
      const conditions = (object as KubeObject & { status?: PersistedStatus }).status?.conditions ?? [];
      const mine = conditions.find((c) => c.type === SHARED_CONDITION && sharerOf(c) === own);
      if (mine === undefined) continue;
      this.shared.delete(id);
      try {
        await this.writeConditions(id, object, conditions.filter((c) => c !== mine));
        this.opts.logger.info({ budget: id, installation: own, at: rfc3339(now) }, 'exact Budget no longer shared by this installation: SharedWithAnotherInstallation removed');
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message, budget: id }, 'exact budgets: could not remove SharedWithAnotherInstallation');
      }
    }
  }

  /** The Budget's conditions, written only over the version read: one another writer changed meanwhile is looked at again next pass. */
  private async writeConditions(id: string, object: KubeObject, conditions: Condition[]): Promise<boolean> {
    const [namespace, name] = id.split('/');
    try {
      await this.opts.client.request(
        'PATCH',
        `/apis/tollgate.dev/v1alpha1/namespaces/${namespace}/budgets/${name}/status`,
        { metadata: { resourceVersion: object.metadata.resourceVersion }, status: { conditions } },
        'application/merge-patch+json',
      );
      return true;
    } catch (err) {
      if (err instanceof KubeError && (err.status === 409 || err.status === 404)) return false;
      throw err;
    }
  }

  /**
   * Redis's clock in ms. Before, the operator's own: ahead of Redis at a rollover, it moved the status
   * to the new period while the pods (by Redis's clock) still charged the old one, and that spend
   * was in no status.
   */
  private async redisNow(): Promise<number> {
    const [seconds, micros] = await this.opts.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /**
   * Whether another installation's mirror writes this Budget's spend (its status names it, as every
   * status the owner's reconciler writes does). Each installation keeps its exact ledger in its own
   * Redis, and the status holds one number: two mirrors overwrote each other's spend every second,
   * and each raised its own ledger to the other's spend as a floor (a max of the two, not a sum).
   * Now the owner's ledger alone is mirrored, and this installation's data planes charge and enforce
   * against their own ledger without the status as a floor. The status under-counts by this
   * installation's spend: the condition SharedWithAnotherInstallation says so (markShared).
   */
  private claimedElsewhere(budget: BudgetConfig, object: KubeObject & { status?: PersistedStatus }): string | undefined {
    const own = this.opts.installation;
    const claimant = object.status?.installation;
    if (own === undefined || claimant === undefined || claimant === '' || claimant === own) {
      this.shared.delete(budget.id);
      return undefined;
    }
    return claimant;
  }

  /** A Budget another installation mirrors goes into `sharing` (before its condition is written: a failed write withdraws nothing). */
  private async syncOne(budget: BudgetConfig, now: number, sharing: Set<string>): Promise<void> {
    const object = this.opts.budgetObjects().get(budget.id) as (KubeObject & { status?: PersistedStatus }) | undefined;
    if (object === undefined) return;
    const claimant = this.claimedElsewhere(budget, object);
    if (claimant !== undefined) {
      sharing.add(budget.id);
      await this.markShared(budget, object, claimant, now);
      return;
    }
    const period = exactBudgetKeys(this.opts.keyPrefix, budget, now);
    const periodStart = rfc3339(period.periodStart);
    // What the status already counts for this period: Redis is raised to it, and it is never written lower.
    const floor = statusFloor(object.status, budget, period);
    // The previous period's holds that expire after the rollover are charged to this one.
    const previous = exactBudgetKeys(this.opts.keyPrefix, budget, period.periodStart - 1);
    const keys = [...period.keys, period.seededKey, ...previous.keys];
    const [spentText] = (await this.opts.redis.eval(MIRROR_READ_SCRIPT, keys.length, ...keys, now, floor, period.ttlSeconds, MIRROR_SWEEP_LIMIT)) as [string, string];
    const spent = round(Math.max(floor, Number(spentText)));
    if (object.status?.spent === spent && object.status.periodStart === periodStart && object.status.unit === budget.unit) return;
    const [namespace, name] = budget.id.split('/');
    const status = {
      spent,
      remaining: round(Math.max(0, budget.amount - spent)),
      periodStart,
      resetsAt: period.resetsAt === undefined ? null : rfc3339(period.resetsAt),
      unit: budget.unit,
    };
    const from = object.status?.unit;
    if (from === undefined || from === budget.unit) {
      await this.opts.client.request('PATCH', `/apis/tollgate.dev/v1alpha1/namespaces/${namespace}/budgets/${name}/status`, { status }, 'application/merge-patch+json');
      return;
    }
    // This write moves status.unit: the count starts again at 0 in the new unit (the ledger's keys
    // name the unit), which the status alone shows only as a drop. Written over the version read, so
    // that of the writers that read the old unit (a leader that took over, a pass begun before its
    // predecessor's write) exactly one moves it and says so; one that meets a conflict reads the
    // Budget again next pass and finds the unit moved. Before, the exact mode recorded no Event.
    const resourceVersion = object.metadata.resourceVersion;
    // What the old unit counted of this period (none when the status was of a period before), as read.
    const oldSpent = statusFloor({ ...object.status, unit: budget.unit }, budget, period);
    try {
      await this.opts.client.request(
        'PATCH',
        `/apis/tollgate.dev/v1alpha1/namespaces/${namespace}/budgets/${name}/status`,
        { ...(resourceVersion === undefined ? {} : { metadata: { resourceVersion } }), status },
        'application/merge-patch+json',
      );
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return;
      throw err;
    }
    this.opts.logger.warn({ budget: budget.id, from, to: budget.unit, spent: oldSpent }, 'Budget unit changed: its spend this period starts again at 0');
    void this.opts.events?.record(object, 'Warning', 'BudgetSpendReset', spendResetMessage(from, budget.unit, oldSpent)).catch(() => undefined);
  }
}
