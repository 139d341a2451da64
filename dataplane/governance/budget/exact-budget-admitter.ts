import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CHARGE_SCRIPT, exactBudgetCandidates, exactBudgetKeys, type ExactPeriodKeys, isExact, REFRESH_BATCH, REFRESH_SCRIPT, RESERVE_SCRIPT, RESERVE_SWEEP_LIMIT, SETTLE_SCRIPT } from '../../config/exact-budget-ledger.js';
import type { BudgetConfig } from '../../config/snapshot.js';
import { GatewayError } from '../../core/gateway-error.js';
import { RedisScript } from '../rate-limit/redis-script.js';
import type { Admission, AdmissionRequest, Admitter, Settlement } from '../types.js';
import { applicableBudgets, Downgrade, refusal, refusalHeaders, worstCase } from './budget-admitter.js';
import { askedPriceMultiplier } from '../../metering/cost.js';

export interface ExactBudgetOptions {
  client: Redis;
  keyPrefix: string;
  /** Names this pod's reservations (unique per start). */
  pod: string;
  /**
   * A hold not refreshed for this long by Redis's clock is charged at its worst case (its pod is
   * presumed dead).
   */
  holdTimeoutMs: number;
  logger: Logger;
  /** This pod's clock: its first guess of the period (the script checks it) and refusal headers. */
  now?: () => number;
  /**
   * Tests: the clock that picks each budget's period and sets hold deadlines (ms), instead of
   * Redis's (TIME). Production leaves it unset: every pod then charges the period Redis is in, and
   * its holds expire by Redis's clock, whatever its own clock says.
   */
  periodClock?: () => number;
}

const reserveScript = new RedisScript(RESERVE_SCRIPT);
const settleScript = new RedisScript(SETTLE_SCRIPT);
const refreshScript = new RedisScript(REFRESH_SCRIPT);
const chargeScript = new RedisScript(CHARGE_SCRIPT);

interface Live {
  deadlineKeys: string[];
}

/**
 * Budgets held exactly in Redis: each admission records its worst case as a hold before the
 * upstream call (atomically with the check against the limit, across every pod), and settling
 * replaces it with the real amount. Holds of this pod are refreshed while their requests run; a
 * pod killed mid-request leaves holds that any pod or the operator charges at their worst case
 * once they expire. Fails closed: without Redis, requests under an exact budget are refused.
 */
export class ExactBudgetAdmitter implements Admitter {
  private seq = 0;
  private readonly live = new Map<string, Live>();
  private readonly settling = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ExactBudgetOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Refreshes this pod's holds every third of the timeout. */
  start(): void {
    const every = Math.max(100, Math.floor(this.opts.holdTimeoutMs / 3));
    this.timer = setInterval(() => void this.refresh(), every);
    this.timer.unref();
  }

  /** Stops refreshing once the settles in flight have reached Redis. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.settling]);
  }

  /**
   * Each hold is refreshed in its own deadline sets only, REFRESH_BATCH to a script. Before, one
   * script moved every id in every set any hold of the pod was in: holds × sets ZADDs (a pod with
   * 5,000 requests in flight under 50 Budgets: 250,000 in one script, blocking Redis).
   */
  private async refresh(): Promise<void> {
    if (this.live.size === 0) return;
    const keys: string[] = [];
    const ids: string[] = [];
    for (const [id, live] of this.live) {
      for (const key of live.deadlineKeys) {
        keys.push(key);
        ids.push(id);
      }
    }
    for (let i = 0; i < keys.length; i += REFRESH_BATCH) {
      try {
        // The deadline is Redis's clock plus the timeout (REFRESH_SCRIPT). Before, this pod's clock: a
        // pod behind Redis's set deadlines already past (its live holds were charged at their worst
        // case), one ahead set them late (a dead pod's holds stayed uncharged for as long as it was ahead).
        await refreshScript.run(this.opts.client, keys.slice(i, i + REFRESH_BATCH), [this.opts.holdTimeoutMs, this.opts.periodClock?.() ?? '', ...ids.slice(i, i + REFRESH_BATCH)]);
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message, holds: this.live.size }, 'exact budgets: could not refresh holds');
        return;
      }
    }
  }

  async admit(request: AdmissionRequest): Promise<Admission> {
    const budgets = applicableBudgets(request.budgets, request.caller, request.route).filter(isExact);
    if (budgets.length === 0) return { headers: {}, settle: () => undefined, charge: () => undefined };
    const now = this.now();
    const worst = worstCase(request.route, request.promptTokens, request.maxOutputTokens, request.units, askedPriceMultiplier(request.req), request.media);
    const amounts = budgets.map((b) => (b.unit === 'USD' ? worst.usd : worst.tokens));
    const id = `${this.opts.pod}:${++this.seq}`;
    const at = this.opts.periodClock?.();
    const reserve = async (around: number): Promise<{ answer: (number | string)[]; candidates: ReturnType<typeof exactBudgetCandidates>[] }> => {
      const candidates = budgets.map((b) => exactBudgetCandidates(this.opts.keyPrefix, b, around));
      const args: (string | number)[] = [this.opts.holdTimeoutMs, id, RESERVE_SWEEP_LIMIT, budgets.length, at ?? ''];
      budgets.forEach((b, i) => {
        const c = candidates[i];
        args.push(b.amount, amounts[i] ?? 0, c?.periods[0].ttlSeconds ?? 60, c?.periods[1].ttlSeconds ?? 60, c?.lo ?? 0, c?.mid ?? 0, c?.hi ?? 0);
      });
      const answer = (await reserveScript.run(this.opts.client, candidates.flatMap((c) => [...c.periods[0].keys, ...c.periods[1].keys, ...c.before]), args)) as (number | string)[];
      return { answer, candidates };
    };
    let answer: (number | string)[];
    let candidates: ReturnType<typeof exactBudgetCandidates>[];
    try {
      ({ answer, candidates } = await reserve(at ?? now));
      // Redis's clock more than half a period away from this pod's: asked again around Redis's.
      if (answer[0] === -1) ({ answer, candidates } = await reserve(Number(answer[1])));
      if (answer[0] === -1) throw new Error(`Redis's clock (${String(answer[1])}) is in no period asked for`);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'exact budgets: Redis unavailable, refusing');
      throw new GatewayError(503, 'budget_unavailable', 'service_unavailable_error', 'budget accounting is unavailable right now; retry shortly', {
        headers: { 'retry-after': '1' },
      });
    }
    const index = Number(answer[0]);
    // The period each budget's hold went to (the one Redis's clock is in): its settle goes there too.
    const periods: ExactPeriodKeys[] = candidates.map((c, i) => c.periods[(index === 0 ? Number(answer[i + 1]) : i === index - 1 ? Number(answer[3]) : 0) === 1 ? 1 : 0]);
    if (index !== 0) {
      const spentText = answer[1];
      const heldText = answer[2];
      const budget = budgets[index - 1] as BudgetConfig;
      const spent = Number(spentText ?? 0);
      const held = Number(heldText ?? 0);
      const left = Math.max(0, budget.amount - spent);
      const availability = { available: left - held, spent, resetsAt: periods[index - 1]?.resetsAt, left, pods: 1, ownUnreported: 0, reserved: held };
      if (budget.action.type === 'Downgrade' && budget.action.downgradeTo !== undefined && budget.action.downgradeTo !== request.route.model) {
        throw new Downgrade(budget.id, budget.action.downgradeTo, refusalHeaders(budget, availability, now));
      }
      throw refusal(budget, availability, amounts[index - 1] ?? 0, now);
    }
    // deadlines2: where this version's holds expire (RESERVE_SCRIPT).
    this.live.set(id, { deadlineKeys: periods.map((p) => p.keys[5] ?? '') });
    let settled = false;
    /** Charges that did not reach Redis (per budget): added to the settle, so that they are counted with it. */
    let unreached: number[] | undefined;
    return {
      headers: {},
      charge: (part: Settlement) => {
        if (settled) return;
        this.charge(budgets, part, (amounts) => {
          if (settled) {
            // Too late for the settle: lost to the exact budget, and said so.
            this.opts.logger.error({ costUsd: part.costUsd }, 'exact budgets: a charge did not reach Redis after its settle; that spend is not counted');
            return;
          }
          const sums = (unreached ??= amounts.map(() => 0));
          amounts.forEach((a, i) => (sums[i] = (sums[i] ?? 0) + a));
        });
      },
      settle: (result: Settlement) => {
        if (settled) return;
        settled = true;
        const usage = result.usage;
        const lost = unreached;
        const actual = budgets.map((b, i) => (usage === undefined ? 0 : b.unit === 'USD' ? result.costUsd : usage.inputTokens + usage.outputTokens) + (lost?.[i] ?? 0));
        const keys: string[] = [];
        const args: (string | number)[] = [id, budgets.length, this.opts.periodClock?.() ?? ''];
        periods.forEach((p, i) => {
          // The period after the hold's: where the real amount goes when Redis's clock has passed into it.
          const next = p.resetsAt === undefined ? p : exactBudgetKeys(this.opts.keyPrefix, budgets[i] as BudgetConfig, p.resetsAt);
          keys.push(...p.keys, next.keys[0] ?? '', next.keys[3] ?? '');
          args.push(actual[i] ?? 0, p.resetsAt ?? Number.MAX_SAFE_INTEGER, next.ttlSeconds);
        });
        const done = settleScript
          .run(this.opts.client, keys, args)
          .catch((err: unknown) => {
            // The hold stays and expires: charged at its worst case, never under-counted.
            this.opts.logger.warn({ err: (err as Error).message, id }, 'exact budgets: settle failed; the hold will be charged at its worst case');
          })
          .finally(() => {
            this.live.delete(id);
            this.settling.delete(done);
          });
        this.settling.add(done);
      },
    };
  }

  /**
   * Spend added to the current period of each budget now, on top of the admission's hold
   * (Admission.charge). A charge that cannot reach Redis is handed to `unreached` (its amount per
   * budget): the admission adds it to its settle, which replaces the hold. Before, it was logged and
   * never counted: a Realtime connection's responses charged during a Redis hiccup were free.
   */
  private charge(budgets: readonly BudgetConfig[], part: Settlement, unreached: (amounts: number[]) => void): void {
    const usage = part.usage;
    if (usage === undefined) return;
    const at = this.opts.periodClock?.();
    const candidates = budgets.map((b) => exactBudgetCandidates(this.opts.keyPrefix, b, at ?? this.now()));
    const amounts = budgets.map((b) => (b.unit === 'USD' ? part.costUsd : usage.inputTokens + usage.outputTokens));
    const args: (string | number)[] = [budgets.length, at ?? ''];
    candidates.forEach((c, i) => args.push(amounts[i] ?? 0, c.periods[0].ttlSeconds, c.periods[1].ttlSeconds, c.lo, c.mid, c.hi));
    const done = chargeScript
      .run(this.opts.client, candidates.flatMap((c) => [c.periods[0].keys[0] ?? '', c.periods[1].keys[0] ?? '']), args)
      .then((answer) => {
        // Redis's clock more than half a period from this pod's: counted with the settle instead.
        if ((answer as number[])[0] === -1) throw new Error(`Redis's clock (${String((answer as number[])[1])}) is in no period asked for`);
      })
      .catch((err: unknown) => {
        this.opts.logger.warn({ err: (err as Error).message, costUsd: part.costUsd }, 'exact budgets: a charge did not reach Redis; it is added to its admission\'s settle');
        unreached(amounts);
      })
      .finally(() => this.settling.delete(done));
    this.settling.add(done);
  }
}
