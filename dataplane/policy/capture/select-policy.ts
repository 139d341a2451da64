import type { DataPolicyConfig } from '../../config/data-policy-config.js';
import { type Caller, namespaceOnRoute } from '../../core/caller.js';

/**
 * The policies of one snapshot by subject: the first (oldest, snapshot order) per route, per caller
 * identity (`sa:<ns>/<name>`, `key:<ns>/<name>`, as Caller.id) and per namespace. Compile ordered
 * the policies and reported the conflicts; this only has to pick, without allocating per request.
 */
class PolicyIndex {
  private readonly routes = new Map<string, DataPolicyConfig>();
  private readonly callers = new Map<string, DataPolicyConfig>();
  private readonly namespaces = new Map<string, DataPolicyConfig>();

  constructor(policies: readonly DataPolicyConfig[]) {
    const first = (map: Map<string, DataPolicyConfig>, key: string, p: DataPolicyConfig): void => {
      if (!map.has(key)) map.set(key, p);
    };
    for (const p of policies) {
      for (const r of p.subjects.routes) first(this.routes, r, p);
      for (const sa of p.subjects.serviceAccounts) first(this.callers, `sa:${sa}`, p);
      for (const key of p.subjects.apiKeys) first(this.callers, `key:${key}`, p);
      for (const ns of p.subjects.namespaces) first(this.namespaces, ns, p);
    }
  }

  select(caller: Caller, routeId: string | undefined): DataPolicyConfig | undefined {
    return (
      (routeId === undefined ? undefined : this.routes.get(routeId)) ??
      (caller.kind === 'anonymous' ? undefined : this.callers.get(caller.id)) ??
      // As for Budgets and guardrails, an anonymous caller counts as the route's namespace: it has none
      // of its own, and a team's route opened to anyone would escape the platform's audit.
      this.byNamespace(namespaceOnRoute(caller, routeId))
    );
  }

  private byNamespace(namespace: string | undefined): DataPolicyConfig | undefined {
    return namespace === undefined ? undefined : this.namespaces.get(namespace);
  }
}

/** Platform policies' index, then tenants': a tenant's policy governs only what no platform policy selects. */
class TieredIndex {
  private readonly platform: PolicyIndex;
  private readonly tenants: PolicyIndex;

  constructor(policies: readonly DataPolicyConfig[]) {
    this.platform = new PolicyIndex(policies.filter((p) => p.platform === true));
    this.tenants = new PolicyIndex(policies.filter((p) => p.platform !== true));
  }

  select(caller: Caller, routeId: string | undefined): DataPolicyConfig | undefined {
    return this.platform.select(caller, routeId) ?? this.tenants.select(caller, routeId);
  }
}

const indexes = new WeakMap<readonly DataPolicyConfig[], TieredIndex>();

/**
 * The policy that governs a request: among platform namespaces' policies, then among tenants', the
 * first naming its route, else the first naming its ServiceAccount or API key, else the first naming
 * its namespace (for an anonymous caller, the route's). Indexed once per policy list
 * (a snapshot's), then a few map lookups per request.
 */
export function selectPolicy(policies: readonly DataPolicyConfig[], caller: Caller, routeId: string | undefined): DataPolicyConfig | undefined {
  if (policies.length === 0) return undefined;
  let index = indexes.get(policies);
  if (index === undefined) {
    index = new TieredIndex(policies);
    indexes.set(policies, index);
  }
  return index.select(caller, routeId);
}
