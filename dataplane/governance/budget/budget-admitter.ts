import type { BudgetConfig, Pricing, RouteConfig, TargetConfig } from '../../config/snapshot.js';
import { GatewayError } from '../../core/gateway-error.js';
import type { Admission, AdmissionRequest, Admitter, Settlement } from '../types.js';
import type { Caller } from '../../core/caller.js';
import type { Availability, BudgetLedger } from './budget-ledger.js';
import type { UsageReporter } from './usage-reporter.js';
import { askedPriceMultiplier, type BilledUnits, dearestInputPrice, dearestOutputPrice, unitCostUsd } from '../../metering/cost.js';
import { type PromptMedia, promptTokensOn } from '../../metering/token-estimate.js';

/**
 * Budgets whose subjects include this caller or route. An anonymous caller counts against the
 * namespace of the route it used: that namespace opened the route to callers nobody can name, and
 * otherwise a team could spend past a Budget on its namespace through a route of its own open to them.
 */
export function applicableBudgets(budgets: readonly BudgetConfig[], caller: Caller, route: RouteConfig): BudgetConfig[] {
  const who = `${caller.namespace ?? ''}/${caller.name ?? ''}`;
  return budgets.filter((b) => {
    const s = b.subjects;
    if (s.routes.includes(route.id)) return true;
    if (caller.kind === 'anonymous') return s.namespaces.includes(route.id.slice(0, route.id.indexOf('/')));
    if (caller.namespace !== undefined && s.namespaces.includes(caller.namespace)) return true;
    if (caller.kind === 'serviceaccount' && s.serviceAccounts.includes(who)) return true;
    return caller.kind === 'apikey' && s.apiKeys.includes(who);
  });
}

/** Callers whose applicable budgets one route remembers; beyond this it starts over. */
const MAX_CALLERS_PER_ROUTE = 4096;

/**
 * The most a request can cost on this route: its prompt estimate plus the output cap, at the
 * priciest target, its token prices times `priceMultiplier` (metering/cost.ts askedPriceMultiplier:
 * 2 for a request that asks for OpenAI's priority tier, which its answer is charged at).
 */
export function worstCase(route: RouteConfig, promptTokens: number, maxOutputTokens: number, units?: BilledUnits, priceMultiplier = 1, media?: PromptMedia): { usd: number; tokens: number } {
  return { usd: worstCaseUsd(route, promptTokens, maxOutputTokens, units, priceMultiplier, media), tokens: heldPromptTokens(route, promptTokens, media) + maxOutputTokens };
}

/**
 * The prompt held for a request on the route (metering/token-estimate promptTokensOn: its images at
 * what the target's model bills, the files it names by id, each target's window): the largest over
 * the route's targets. Without media, the estimate.
 */
export function heldPromptTokens(route: RouteConfig, promptTokens: number, media: PromptMedia | undefined): number {
  if (media === undefined) return promptTokens;
  return route.targets.reduce((most, t) => Math.max(most, promptTokensOn(t, promptTokens, media)), 0);
}

function worstCaseUsd(route: RouteConfig, promptTokens: number, maxOutputTokens: number, units: BilledUnits | undefined, priceMultiplier: number, media?: PromptMedia): number {
  let usd = 0;
  for (const t of route.targets) {
    const p: Pricing = t.pricing;
    const prompt = promptTokensOn(t, promptTokens, media);
    // At the dearest token prices (audio, images, cache writes, long context past its threshold): the
    // prompt's and the answer's kinds are not known before.
    usd = Math.max(usd, ((prompt * dearestInputPrice(p, prompt) + maxOutputTokens * dearestOutputPrice(p, prompt)) * priceMultiplier) / 1e6 + (units === undefined ? 0 : unitCostUsd(units, p)));
  }
  return usd;
}

/** An admission with nothing held: its headers object is shared (nothing adds to an admission's headers). */
const NOTHING_HELD: Admission = { headers: {}, settle: () => undefined, charge: () => undefined };

function exhausted(budget: BudgetConfig, a: Availability): boolean {
  return a.spent >= budget.amount || a.left <= 0;
}

/**
 * What every budget refusal carries: no retry by the OpenAI SDKs (retrying at once is refused
 * again), the budget, and when it is exhausted and its period resets, how long until then.
 */
export function refusalHeaders(budget: BudgetConfig, a: Availability, now: number): Record<string, string> {
  const headers: Record<string, string> = { 'x-should-retry': 'false', 'x-tollgate-budget': budget.id };
  if (exhausted(budget, a) && a.resetsAt !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil((a.resetsAt - now) / 1000)));
  return headers;
}

/**
 * The refusal: exhausted when the spend reached the limit, else the real cause with its numbers
 * (this request's worst-case hold against this pod's share of what is left) and how to lower it.
 */
export function refusal(budget: BudgetConfig, a: Availability, hold: number, now: number): GatewayError {
  const usd = budget.unit === 'USD';
  const unit = usd ? 'USD' : 'tokens';
  const fmt = (n: number): string => (usd ? n.toFixed(4) : String(Math.ceil(n)));
  const headers = refusalHeaders(budget, a, now);
  if (exhausted(budget, a)) {
    const when = a.resetsAt === undefined ? 'as older spend leaves the rolling window' : `at ${new Date(a.resetsAt).toISOString()}`;
    return new GatewayError(429, 'budget_exceeded', 'insufficient_quota', `budget ${budget.id} is exhausted: ${fmt(a.spent)} of ${budget.amount} ${unit} spent this period; it resets ${when}`, { headers });
  }
  const share = a.pods > 1 ? `, of which this gateway pod may use ${fmt(a.available + a.reserved)} (its 1/${a.pods} share until the next usage sync)` : '';
  const held = a.reserved > 0 ? `, less ${fmt(a.reserved)} held for requests in flight` : '';
  return new GatewayError(
    429,
    'budget_exceeded',
    'insufficient_quota',
    `budget ${budget.id} cannot cover this request's worst case: it would hold ${fmt(hold)} ${unit} (prompt estimate plus the output cap at the route's priciest target) but only ${fmt(Math.max(0, a.available))} ${unit} are available: ${fmt(a.spent)} of ${budget.amount} ${unit} spent this period, ${fmt(budget.amount - a.spent)} left${share}${held}; set max_tokens (or max_completion_tokens) to lower the hold`,
    { headers },
  );
}

/**
 * The refusal of a pod that does not know a budget's persisted spend yet (BudgetLedger.awaitingOperator).
 * 503 and retry-after, not 429: the budget is not the cause, and the first usage answer comes within
 * one report interval while the operator is reachable.
 */
export function budgetUnavailable(budget: BudgetConfig): GatewayError {
  return new GatewayError(
    503,
    'budget_unavailable',
    'service_unavailable_error',
    `budget ${budget.id} cannot be checked yet: this gateway pod has not received the spend persisted in Budget.status (its first usage report to the operator is not answered); retry shortly`,
    { headers: { 'retry-after': '1', 'x-tollgate-budget': budget.id } },
  );
}

/** Thrown when an exhausted budget says to send the request to a cheaper route instead. */
export class Downgrade extends Error {
  constructor(
    readonly budget: string,
    readonly model: string,
    /** The budget's refusal headers (refusalHeaders): a downgrade that cannot be served is refused with them. */
    readonly headers: Record<string, string>,
  ) {
    super(`budget ${budget} downgrades to ${model}`);
    this.name = 'Downgrade';
  }
}

/**
 * An admission that holds the applicable budgets until it settles (once). A class rather than an
 * object with a settle closure: a held stream keeps its admission until the stream ends, and the
 * closure with its context was ~0.1 KB more per stream, and two more objects per request.
 * `overBudget` is set on the instance only when a budget cuts streams, as before.
 */
class HeldBudgets implements Admission {
  readonly headers = NOTHING_HELD.headers;
  private settled = false;
  declare overBudget?: (soFar: Settlement) => string | undefined;

  constructor(
    private readonly admitter: BudgetAdmitter,
    private readonly budgets: readonly BudgetConfig[],
    private readonly usd: number,
    private readonly tokens: number,
  ) {}

  settle(result: Settlement): void {
    if (this.settled) return;
    this.settled = true;
    this.admitter.settleHeld(this, this.budgets, this.usd, this.tokens, result);
  }

  charge(part: Settlement): void {
    if (!this.settled) this.admitter.record(this.budgets, part);
  }

  /** Charged what it holds: its request's usage can no longer be known (the pod is going away). */
  settleAtWorstCase(): void {
    this.settle({ usage: { inputTokens: this.tokens, outputTokens: 0, cachedInputTokens: 0 }, costUsd: this.usd });
  }
}

/**
 * Admits a request only if every applicable budget can cover its worst case, reserves that amount,
 * and settles with the real usage when the response ends (a record for the usage report).
 */
export class BudgetAdmitter implements Admitter {
  /**
   * applicableBudgets per route object and caller id, for the budgets list it was computed from:
   * the answer depends on nothing else, and a new snapshot brings new lists and route objects.
   */
  private readonly applicable = new WeakMap<RouteConfig, { budgets: readonly BudgetConfig[]; byCaller: Map<string, readonly BudgetConfig[]> }>();
  /** Admissions not settled yet: what shutdown charges at their worst case if their requests cannot finish. */
  private readonly open = new Set<HeldBudgets>();

  constructor(
    private readonly ledger: BudgetLedger,
    private readonly reporter: UsageReporter,
    private readonly now: () => number = Date.now,
    /** The budgets this admitter keeps (with exact budgets in Redis: the rolling ones only). */
    private readonly keeps: (budget: BudgetConfig) => boolean = () => true,
  ) {}

  private budgetsFor(all: readonly BudgetConfig[], caller: Caller, route: RouteConfig): readonly BudgetConfig[] {
    if (all.length === 0) return [];
    let entry = this.applicable.get(route);
    if (entry === undefined || entry.budgets !== all) {
      entry = { budgets: all, byCaller: new Map() };
      this.applicable.set(route, entry);
    }
    let found = entry.byCaller.get(caller.id);
    if (found === undefined) {
      if (entry.byCaller.size >= MAX_CALLERS_PER_ROUTE) entry.byCaller.clear();
      found = applicableBudgets(all, caller, route).filter(this.keeps);
      entry.byCaller.set(caller.id, found);
    }
    return found;
  }

  async admit(request: AdmissionRequest): Promise<Admission> {
    return this.admitNow(request);
  }

  /** The ledger is in memory: the decision needs no promise (Admitter.admitNow). */
  readonly admitNow = (request: AdmissionRequest): Admission => {
    const budgets = this.budgetsFor(request.budgets, request.caller, request.route);
    if (budgets.length === 0) return NOTHING_HELD;
    // Readiness alone would not do: a pod turning unready keeps the requests of connections already open.
    if (this.ledger.awaitingOperator) throw budgetUnavailable(budgets[0] as BudgetConfig);
    const now = this.now();
    // Every budget of a unit holds the same worst case: what a budget holds follows from its unit,
    // so the holds need no list of their own (the applicable budgets, all held once admitted).
    const usd = worstCaseUsd(request.route, request.promptTokens, request.maxOutputTokens, request.units, askedPriceMultiplier(request.req), request.media);
    const tokens = heldPromptTokens(request.route, request.promptTokens, request.media) + request.maxOutputTokens;
    let cutsStreams = false;
    for (let i = 0; i < budgets.length; i++) {
      const budget = budgets[i] as BudgetConfig;
      const amount = budget.unit === 'USD' ? usd : tokens;
      const availability = this.ledger.available(budget, now);
      const { available } = availability;
      if (amount > available || (available <= 0 && amount === 0)) {
        for (let j = 0; j < i; j++) {
          const held = budgets[j] as BudgetConfig;
          this.ledger.release(held.id, held.unit === 'USD' ? usd : tokens);
        }
        if (budget.action.type === 'Downgrade' && budget.action.downgradeTo !== undefined && budget.action.downgradeTo !== request.route.model) {
          throw new Downgrade(budget.id, budget.action.downgradeTo, refusalHeaders(budget, availability, now));
        }
        throw refusal(budget, availability, amount, now);
      }
      this.ledger.reserve(budget.id, amount);
      if (budget.action.cutStreams) cutsStreams = true;
    }
    const held = new HeldBudgets(this, budgets, usd, tokens);
    this.open.add(held);
    const admission: Admission = held;
    // Only a budget that cuts streams has a reason to cut one: without one the stream needs no guard.
    if (cutsStreams) admission.overBudget = (soFar: Settlement) => this.overBudget(budgets, soFar);
    return admission;
  };

  /** What settling an admission does (HeldBudgets.settle, once per admission): the holds released, and what was used recorded. */
  settleHeld(admission: HeldBudgets, budgets: readonly BudgetConfig[], usd: number, tokens: number, result: Settlement): void {
    this.open.delete(admission);
    for (const budget of budgets) this.ledger.release(budget.id, budget.unit === 'USD' ? usd : tokens);
    this.record(budgets, result);
  }

  /** What was used, recorded against the budgets (for the ledger and the usage report); nothing when nothing was. */
  record(budgets: readonly BudgetConfig[], result: Settlement): void {
    const usage = result.usage;
    if (usage === undefined) return;
    this.reporter.record({
      at: this.now(),
      costUsd: result.costUsd,
      tokens: usage.inputTokens + usage.outputTokens,
      budgetIds: budgets.map((b) => b.id),
    }, budgets);
  }

  /** Requests admitted and not settled. */
  get unsettled(): number {
    return this.open.size;
  }

  /**
   * At exit, every admission still open is charged its worst case (prompt estimate plus output
   * cap): its request may have run upstream, and spend is never under-counted. Returns how many.
   */
  settleOpenAtWorstCase(): number {
    const open = [...this.open];
    for (const held of open) held.settleAtWorstCase();
    return open.length;
  }

  /** A reason to cut a stream that, with what it used so far, crosses a budget that cuts streams. */
  private overBudget(budgets: readonly BudgetConfig[], soFar: Settlement): string | undefined {
    for (const budget of budgets) {
      if (!budget.action.cutStreams || soFar.usage === undefined) continue;
      const amount = budget.unit === 'USD' ? soFar.costUsd : soFar.usage.inputTokens + soFar.usage.outputTokens;
      const { spent } = this.ledger.spent(budget, this.now());
      if (spent + amount > budget.amount) return `budget ${budget.id} was exhausted during this stream (limit ${budget.amount} ${budget.unit === 'USD' ? 'USD' : 'tokens'})`;
    }
    return undefined;
  }
}
