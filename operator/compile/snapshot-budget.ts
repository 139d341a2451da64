import { SNAPSHOT_BODY_LIMIT } from '../../dataplane/config/channel-answers.js';
import type { RouteConfig } from '../../dataplane/config/snapshot.js';
import { condition } from './conditions.js';
import type { ObjectStatus } from './types.js';

/**
 * The bytes compile keeps a snapshot within: what a data plane accepts in one push, less room for
 * what is measured loosely here (credentials are revealed on the wire, redacted in this measure).
 */
export const SNAPSHOT_BUDGET_BYTES = Math.floor(SNAPSHOT_BODY_LIMIT * 0.75);

const MiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * The routes that fit the snapshot budget besides `otherBytes`. A snapshot over what data planes
 * accept is refused by every one of them, and every tenant's changes stop reaching traffic; so when
 * the routes do not fit, the namespace whose routes take the most bytes gives up its largest route,
 * again until they fit: the namespace that grew the snapshot pays, never the others. Each route left
 * out is Accepted=False, reason SnapshotTooLarge, in `statuses`.
 */
export function withinSnapshotBudget(routes: readonly RouteConfig[], otherBytes: number, statuses: readonly ObjectStatus[], budget = SNAPSHOT_BUDGET_BYTES): RouteConfig[] {
  const sizes = routes.map((r) => Buffer.byteLength(JSON.stringify(r)));
  let total = sizes.reduce((sum, n) => sum + n, otherBytes);
  if (total <= budget) return [...routes];
  const byNamespace = new Map<string, { bytes: number; largestFirst: number[] }>();
  routes.forEach((r, i) => {
    const entry = byNamespace.get(r.namespace) ?? { bytes: 0, largestFirst: [] };
    entry.bytes += sizes[i] ?? 0;
    entry.largestFirst.push(i);
    byNamespace.set(r.namespace, entry);
  });
  for (const entry of byNamespace.values()) entry.largestFirst.sort((a, b) => (sizes[b] ?? 0) - (sizes[a] ?? 0) || a - b);
  const before = total;
  const refused = new Map<number, string>();
  while (total > budget) {
    let largest: [string, { bytes: number; largestFirst: number[] }] | undefined;
    for (const e of byNamespace) if (e[1].largestFirst.length > 0 && (largest === undefined || e[1].bytes > largest[1].bytes || (e[1].bytes === largest[1].bytes && e[0] < largest[0]))) largest = e;
    if (largest === undefined) break;
    const [ns, entry] = largest;
    const i = entry.largestFirst.shift() as number;
    refused.set(i, `the configuration snapshot would be ${MiB(before)}, over the ${MiB(budget)} every data-plane pod accepts in one push; namespace ${ns}'s routes are its largest part (${MiB(entry.bytes)}), so this route (${MiB(sizes[i] ?? 0)}) is left out, largest first, until they fit: make them smaller or fewer`);
    entry.bytes -= sizes[i] ?? 0;
    total -= sizes[i] ?? 0;
  }
  for (const [i, message] of refused) {
    const route = routes[i];
    const status = statuses.find((s) => s.kind === 'ModelRoute' && `${s.namespace}/${s.name}` === route?.id);
    if (status === undefined) continue;
    const generation = status.conditions.find((c) => c.type === 'Accepted')?.observedGeneration;
    status.conditions = [condition('Accepted', false, 'SnapshotTooLarge', message, generation), ...status.conditions.filter((c) => c.type !== 'Accepted')];
  }
  return routes.filter((_, i) => !refused.has(i));
}
