import type { Snapshot, TargetConfig } from '../config/snapshot.js';

/** How per-target state (TargetStats, TargetHealth) is keyed: provider and upstream model. */
export const targetKey = (t: Pick<TargetConfig, 'providerId' | 'model'>): string => `${t.providerId}\u0000${t.model}`;

/**
 * The targets some route of the snapshot has (targetKey). Per-target state is kept across
 * snapshots (requests on an old one still count against the same upstream), and dropped for
 * targets no snapshot has any more: without that, every provider and upstream model ever
 * configured (a tenant renaming models, creating providers per job) stayed in every data plane.
 */
export function configuredTargets(snapshot: Pick<Snapshot, 'routes'>): Set<string> {
  const keys = new Set<string>();
  for (const route of snapshot.routes) for (const t of route.targets) keys.add(targetKey(t));
  return keys;
}
