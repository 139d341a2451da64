import { admitAll, admitAllNow } from '../../governance/admission.js';
import { Downgrade } from '../../governance/budget/budget-admitter.js';
import type { Admission, Admitter } from '../../governance/types.js';
import type { Router } from '../../routing/router.js';
import { GatewayError } from '../../core/gateway-error.js';
import type { RequestContext } from '../request-context.js';
import { runStagesThen, type Stage } from '../stage.js';
import { enterRoute } from './access.js';
import { skipCacheStore } from './cache.js';
import { matchRoute } from './match-route.js';
import { runAdmitted } from './settle.js';

/**
 * The cheaper route's own budget downgrades too (on to a third route, or back to the first): a
 * request is downgraded once, so that a chain cannot hop on or loop. Refused as that budget would
 * refuse, naming both; either reset lets a retry be served, so retry-after is the sooner one.
 */
function downgradedTwice(first: Downgrade, second: Downgrade): GatewayError {
  const headers = { ...second.headers };
  const sooner = first.headers['retry-after'];
  if (sooner !== undefined && (headers['retry-after'] === undefined || Number(sooner) < Number(headers['retry-after']))) headers['retry-after'] = sooner;
  return new GatewayError(
    429,
    'budget_exceeded',
    'insufficient_quota',
    `budget ${first.budget} is exhausted and so is budget ${second.budget} of its downgrade route ${first.model} (a request is downgraded once, not on to ${second.model})`,
    { headers },
  );
}

/**
 * The stages scoped to a route that ran before the budget stage (guardrails, DataPolicy capture,
 * rate limits): a downgraded request is served by another route, and passes that route's too.
 * Capture runs again only when no DataPolicy governed the first route: a request is recorded once.
 */
export interface RouteScopedStages {
  stages: readonly Stage[];
  capturedOn: (ctx: RequestContext, routeId: string) => boolean;
}

/**
 * The exhausted budget names a cheaper public model: the request is served there, once, as if it
 * had asked for it (match, access, the route's guardrails, DataPolicy and rate limits, decision);
 * a route the caller may not use is a 429. Before, the cheaper route's own guardrails and rate
 * limits were skipped, and a client could force a downgrade with a large max_tokens.
 */
function downgrade(ctx: RequestContext, next: () => Promise<void>, router: Router, admitters: readonly Admitter[], down: Downgrade, checkAccess: boolean, routeScoped: RouteScopedStages): Promise<void> {
  ctx.events.emit('admission', { result: 'budget_exceeded', budget: down.budget, action: 'downgrade' });
  const cheaper = matchRoute(ctx, down.model, checkAccess);
  if (cheaper === undefined || cheaper.denied) {
    throw new GatewayError(429, 'budget_exceeded', 'insufficient_quota', `budget ${down.budget} is exhausted and its downgrade route ${down.model} is not available to this caller`, {
      headers: { ...down.headers },
    });
  }
  const captured = routeScoped.capturedOn(ctx, ctx.routeConfig.id);
  enterRoute(ctx, router, cheaper.route);
  const admitThere = async (): Promise<void> => {
    const request = ctx.admissionRequest();
    let admission: Admission;
    try {
      admission = admitAllNow(admitters, request) ?? (await admitAll(admitters, request));
    } catch (err) {
      const refused = err instanceof Downgrade ? downgradedTwice(down, err) : err;
      reportRefusal(ctx, refused);
      throw refused;
    }
    ctx.headers['x-tollgate-downgraded-by'] = down.budget;
    skipCacheStore(ctx);
    return admitted(ctx, next, admission);
  };
  const stages = routeScoped.stages.filter((s) => (s.appliesTo === undefined || s.appliesTo(ctx.runtime)) && !(captured && s.name === 'capture'));
  return runStagesThen(stages, ctx, admitThere);
}

function reportRefusal(ctx: RequestContext, err: unknown): void {
  if (err instanceof GatewayError && err.code === 'budget_exceeded') {
    ctx.events.emit('admission', { result: 'budget_exceeded', budget: err.headers['x-tollgate-budget'] ?? '', action: 'reject' });
  }
}

function admitted(ctx: RequestContext, next: () => Promise<void>, admission: Admission): Promise<void> {
  const guard = admission.overBudget;
  if (guard !== undefined) ctx.guards.push((soFar) => guard.call(admission, soFar));
  return runAdmitted(ctx, next, admission);
}

/** Budgets (of the request's pinned snapshot): admit only what they can cover, reserve it, and settle with what was really used. */
export function budget(router: Router, admitters: readonly Admitter[], checkAccess: boolean, routeScoped: RouteScopedStages = { stages: [], capturedOn: () => false }): Stage {
  /** An exact budget in Redis, or a downgrade: the decision is a promise. */
  const admitLater = async (ctx: RequestContext, next: () => Promise<void>, refused: unknown): Promise<void> => {
    let admission: Admission;
    try {
      if (refused !== undefined) throw refused;
      admission = await admitAll(admitters, ctx.admissionRequest());
    } catch (err) {
      if (!(err instanceof Downgrade)) {
        reportRefusal(ctx, err);
        throw err;
      }
      return downgrade(ctx, next, router, admitters, err, checkAccess, routeScoped);
    }
    return admitted(ctx, next, admission);
  };
  return {
    name: 'budget',
    run(ctx, next) {
      let admission: Admission | undefined;
      try {
        // In memory (no exact budgets in Redis) the decision needs no promise, and the stage no async frame.
        admission = admitAllNow(admitters, ctx.admissionRequest());
      } catch (err) {
        if (err instanceof Downgrade) return admitLater(ctx, next, err);
        reportRefusal(ctx, err);
        return Promise.reject(err);
      }
      return admission === undefined ? admitLater(ctx, next, undefined) : admitted(ctx, next, admission);
    },
    // The admitters here are the budget admitters, and they read the pinned snapshot's Budgets
    // (AdmissionRequest.budgets): a snapshot without any has nothing to admit or settle.
    appliesTo: (runtime) => runtime.snapshot.budgets.length > 0,
  };
}
