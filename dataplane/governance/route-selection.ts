import type { RuntimeRoute } from '../runtime/runtime-snapshot.js';
import type { HeaderLookup } from '../runtime/rule-matcher.js';
import type { Snapshot } from '../config/snapshot.js';
import { mayCall } from './access.js';
import type { Caller } from '../core/caller.js';

/** The route that serves, or the one to name in a refusal when none admits the caller. */
export type Selection = { route: RuntimeRoute } | { denied: RuntimeRoute } | undefined;

/**
 * Picks, among the routes of one public model name (oldest first, as compiled), the one that
 * serves this caller: its header matches must match and its access must admit the caller; of
 * several, the route in the caller's own namespace first, then the oldest. Without identity
 * (`checkAccess` false) every caller is anonymous and the oldest matching route serves.
 */
export function selectRoute(
  candidates: readonly RuntimeRoute[] | undefined,
  caller: Caller,
  header: HeaderLookup,
  namespaces: Snapshot['namespaces'],
  checkAccess: boolean,
): Selection {
  const matching = (candidates ?? []).filter((r) => r.matches(header));
  const first = matching[0];
  if (first === undefined) return undefined;
  if (!checkAccess) return { route: first };
  const admitting = matching.filter((r) => mayCall(caller, r.config, namespaces));
  const own = admitting.find((r) => r.config.namespace === caller.namespace);
  const chosen = own ?? admitting[0];
  if (chosen !== undefined) return { route: chosen };
  // Refuse naming the caller's own namespace's route when there is one: that is the one it expected.
  return { denied: matching.find((r) => r.config.namespace === caller.namespace) ?? first };
}
