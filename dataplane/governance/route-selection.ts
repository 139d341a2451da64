import type { RuntimeRoute } from '../runtime/runtime-snapshot.js';
import type { HeaderLookup } from '../runtime/rule-matcher.js';
import type { Snapshot } from '../config/snapshot.js';
import { mayCall } from './access.js';
import type { Caller } from '../core/caller.js';

/** The route that serves, or the one to name in a refusal when none admits the caller. */
export type Selection = { route: RuntimeRoute } | { denied: RuntimeRoute } | undefined;

/**
 * Picks, among the routes of one public model name (in compiled precedence: platform namespaces'
 * first, then oldest first), the one that serves this caller: its header matches must match and its
 * access must admit the caller; of several, the route in the caller's own namespace first, then the
 * first in that order. Without identity
 * (`checkAccess` false) every caller is anonymous and the oldest matching route serves.
 */
export function selectRoute(
  candidates: readonly RuntimeRoute[] | undefined,
  caller: Caller,
  header: HeaderLookup,
  namespaces: Snapshot['namespaces'],
  checkAccess: boolean,
): Selection {
  if (candidates === undefined) return undefined;
  // One pass without intermediate lists (this runs for every request): the first admitting route of
  // the caller's own namespace wins at once; otherwise the first admitting one, else a refusal.
  let first: RuntimeRoute | undefined;
  let admitting: RuntimeRoute | undefined;
  let ownRefusing: RuntimeRoute | undefined;
  for (const r of candidates) {
    if (!r.matches(header)) continue;
    if (!checkAccess) return { route: r };
    first ??= r;
    const own = r.config.namespace === caller.namespace;
    if (mayCall(caller, r.config, namespaces)) {
      if (own) return { route: r };
      admitting ??= r;
    } else if (own) ownRefusing ??= r;
  }
  if (first === undefined) return undefined;
  if (admitting !== undefined) return { route: admitting };
  // Refuse naming the caller's own namespace's route when there is one: that is the one it expected.
  return { denied: ownRefusing ?? first };
}
