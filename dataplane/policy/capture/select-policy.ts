import type { DataPolicyConfig } from '../../config/data-policy-config.js';
import type { Caller } from '../../core/caller.js';

/**
 * The policy that governs a request: the first (oldest, snapshot order) naming its route, else the
 * first naming its ServiceAccount or API key, else the first naming its namespace. Compile ordered
 * the policies and reported the conflicts; this only has to pick.
 */
export function selectPolicy(policies: readonly DataPolicyConfig[], caller: Caller, routeId: string | undefined): DataPolicyConfig | undefined {
  if (policies.length === 0) return undefined;
  const identity = caller.namespace !== undefined && caller.name !== undefined ? `${caller.namespace}/${caller.name}` : undefined;
  // As for Budgets: a namespace subject means callers in that namespace (an anonymous caller has none).
  const namespace = caller.namespace;
  return (
    (routeId === undefined ? undefined : policies.find((p) => p.subjects.routes.includes(routeId))) ??
    (identity === undefined
      ? undefined
      : policies.find((p) => (caller.kind === 'serviceaccount' ? p.subjects.serviceAccounts : p.subjects.apiKeys).includes(identity))) ??
    (namespace === undefined ? undefined : policies.find((p) => p.subjects.namespaces.includes(namespace)))
  );
}
