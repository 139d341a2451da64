import { SNAPSHOT_BODY_LIMIT } from '../../dataplane/config/channel-answers.js';
import type { RouteConfig } from '../../dataplane/config/snapshot.js';
import { condition } from './conditions.js';
import type { ObjectStatus } from './types.js';

/**
 * The bytes compile keeps a snapshot within: what a data plane accepts in one push, less a margin for
 * what is measured loosely here (credentials are revealed on the wire, redacted in this measure).
 */
export const SNAPSHOT_BUDGET_BYTES = SNAPSHOT_BODY_LIMIT - 2 * 2 ** 20;

const MiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** A snapshot entry's size and the namespace it belongs to (its id's, or its own). */
export interface SizedEntry {
  namespace: string;
  bytes: number;
}

export const entryBytes = (entry: unknown): number => (entry === undefined ? 0 : Buffer.byteLength(JSON.stringify(entry)));

/** The namespace of a "namespace/name" id. */
export const namespaceOfId = (id: string): string => id.slice(0, Math.max(0, id.indexOf('/')));

/**
 * The routes that keep the snapshot within the budget. A snapshot over what data planes accept is
 * refused by every one of them, and then no tenant's change reaches traffic; so when it does not
 * fit, the namespace that takes the most bytes of it (routes and every other kind together) gives
 * up its largest routes, largest first, until the snapshot fits or that namespace has no route
 * left: the namespace that grew the snapshot pays, never another. `others` is the rest of the
 * snapshot, each entry with its namespace (those without one count as `unowned`). Each route left
 * out is Accepted=False, reason SnapshotTooLarge, in `statuses`.
 */
export function withinSnapshotBudget(
  routes: readonly RouteConfig[],
  others: readonly SizedEntry[],
  unowned: number,
  statuses: readonly ObjectStatus[],
  budget = SNAPSHOT_BUDGET_BYTES,
): RouteConfig[] {
  const sizes = routes.map(entryBytes);
  let total = unowned + others.reduce((sum, e) => sum + e.bytes, 0) + sizes.reduce((sum, n) => sum + n, 0);
  if (total <= budget) return [...routes];
  const byNamespace = new Map<string, number>();
  const add = (ns: string, bytes: number): void => void byNamespace.set(ns, (byNamespace.get(ns) ?? 0) + bytes);
  for (const e of others) add(e.namespace, e.bytes);
  routes.forEach((r, i) => add(r.namespace, sizes[i] ?? 0));
  let largest: string | undefined;
  for (const [ns, bytes] of byNamespace) if (largest === undefined || bytes > (byNamespace.get(largest) ?? 0) || (bytes === byNamespace.get(largest) && ns < largest)) largest = ns;
  const before = total;
  const theirs = routes.map((_, i) => i).filter((i) => routes[i]?.namespace === largest);
  theirs.sort((a, b) => (sizes[b] ?? 0) - (sizes[a] ?? 0) || a - b);
  const refused = new Set<number>();
  for (const i of theirs) {
    if (total <= budget) break;
    refused.add(i);
    total -= sizes[i] ?? 0;
  }
  const statusById = new Map(statuses.filter((s) => s.kind === 'ModelRoute').map((s) => [`${s.namespace}/${s.name}`, s]));
  for (const i of refused) {
    const route = routes[i] as RouteConfig;
    const status = statusById.get(route.id);
    if (status === undefined) continue;
    const message = `the configuration snapshot would be ${MiB(before)}, over the ${MiB(budget)} every data-plane pod accepts in one push; namespace ${route.namespace} takes the most of it (${MiB(byNamespace.get(route.namespace) ?? 0)}), so its largest routes are left out until it fits: this one is ${MiB(sizes[i] ?? 0)}; make them smaller or fewer`;
    const generation = status.conditions.find((c) => c.type === 'Accepted')?.observedGeneration;
    status.conditions = [condition('Accepted', false, 'SnapshotTooLarge', message, generation), ...status.conditions.filter((c) => c.type !== 'Accepted')];
  }
  return routes.filter((_, i) => !refused.has(i));
}
