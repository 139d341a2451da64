import type { Usage } from '../../core/canonical.js';
import type { RouteConfig } from '../../config/snapshot.js';
import type { Caller } from '../../core/caller.js';
import type { Admission, Admitter } from '../../governance/types.js';
import type { BilledUnits } from '../../metering/cost.js';
import type { RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import { admitPassThrough } from './passthrough-route.js';

/** Why a creation is charged its worst case: a batch, a fine-tuning job, an eval run whose data source runs a model. */
export type CreationReason = 'batch_worst_case' | 'fine_tuning_worst_case' | 'eval_worst_case';

/**
 * What a request that makes the upstream run work later, unseen (a batch, a fine-tuning job, an
 * eval run), is held at admission and charged at creation: the worst case of what that work can
 * bill, computed from its files and body before it goes upstream.
 */
export interface CreationWorstCase {
  /** Tokens (what token Budgets hold and the usage record shows). */
  usage: Usage;
  /** USD at the prices of the targets that may run it (the unit prices of the call itself are added when charged). */
  costUsd: number;
  reason: CreationReason;
}

const ONE_REQUEST: BilledUnits = { requests: 1, images: 0, audioSeconds: 0, characters: 0 };

/**
 * Admits a creation charged its worst case: the route's rate limits count it as one request (its
 * tokens run later, upstream, not through the route: they are not counted per minute), and its
 * Budgets hold its worst case (tokens, and USD plus the per-request price) until it is settled
 * with what is charged. The Budgets see it as one request on a route whose only price is that
 * worst case: their admitter prices a request by its route's targets.
 */
export async function admitWorstCase(
  deps: { rateLimiter?: Admitter; admitters?: readonly Admitter[] },
  runtime: RuntimeSnapshot,
  caller: Caller,
  route: RouteConfig,
  worst: CreationWorstCase,
): Promise<Admission> {
  const rate = await admitPassThrough({ ...(deps.rateLimiter === undefined ? {} : { rateLimiter: deps.rateLimiter }) }, runtime, caller, route, false, ONE_REQUEST);
  const perRequest = Math.max(0, ...route.targets.map((t) => t.pricing.perRequestUsd ?? 0));
  const [first] = route.targets;
  const priced: RouteConfig = first === undefined ? route : { ...route, targets: [{ ...first, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perRequestUsd: worst.costUsd + perRequest } }] };
  let held: Admission;
  try {
    held = await admitPassThrough({ ...(deps.admitters === undefined ? {} : { admitters: deps.admitters }) }, runtime, caller, priced, false, ONE_REQUEST, {
      promptTokens: worst.usage.inputTokens,
      maxOutputTokens: worst.usage.outputTokens,
    });
  } catch (err) {
    rate.settle({ usage: undefined, costUsd: 0 });
    throw err;
  }
  return {
    headers: { ...rate.headers, ...held.headers },
    settle: (result) => {
      // The request was counted at admission; the work's tokens are not the route's per minute.
      rate.settle({ usage: undefined, costUsd: 0 });
      held.settle(result);
    },
    charge: (part) => held.charge(part),
  };
}
