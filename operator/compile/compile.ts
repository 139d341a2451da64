import { SNAPSHOT_SCHEMA_VERSION, type RouteConfig, type Snapshot, type SnapshotContent } from '../../dataplane/config/snapshot.js';
import { secret } from '../../dataplane/config/secret-value.js';
import { compileBudgets } from './compile-budgets.js';
import { compileDataPolicies } from './compile-data-policies.js';
import { compileGuardrails } from './compile-guardrails.js';
import { compileProviders } from './compile-providers.js';
import { compileApiKeys } from './compile-api-keys.js';
import { compileRoutes } from './compile-routes.js';
import { entryBytes, namespaceOfId, type SizedEntry, withinSnapshotBudget } from './snapshot-budget.js';
import { resolvedServices } from './service-ref.js';
import { contentHash } from '../../dataplane/config/content-hash.js';
import type { CompileInput, CompileResult, ObjectStatus } from './types.js';
import { CompiledEgressAllowlist } from '../../dataplane/config/egress-allowlist.js';

type Named = { metadata: { name: string; namespace?: string | undefined } };

function byId<T extends Named>(items: readonly T[]): T[] {
  const key = (o: T): string => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function statusOrder(a: ObjectStatus, b: ObjectStatus): number {
  const ka = `${a.kind}/${a.namespace}/${a.name}`;
  const kb = `${b.kind}/${b.namespace}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * Objects in, Snapshot and a status per object out. Pure: no I/O, no clock; the same objects in any
 * order give a byte-identical snapshot whose version is its content hash.
 */
export function compile(input: CompileInput): CompileResult {
  const sorted: CompileInput = {
    ...input,
    providers: byId(input.providers),
    routes: byId(input.routes),
    budgets: byId(input.budgets),
    guardrails: byId(input.guardrails ?? []),
  };
  const egress = input.egressAllowlist === undefined ? undefined : new CompiledEgressAllowlist(input.egressAllowlist);
  const { providers, statuses: providerStatuses } = compileProviders(sorted, egress);
  const { routes, statuses: routeStatuses } = compileRoutes(sorted, providers);
  const platform = input.platformNamespaces === undefined ? undefined : new Set(input.platformNamespaces);
  // What depends on which routes exist (budgets' subjects and downgrades, policies' subjects).
  const dependents = (served: RouteConfig[]) => ({
    budgets: compileBudgets(sorted.budgets, served, platform),
    dataPolicies: compileDataPolicies(input.dataPolicies ?? [], { routes: served, secrets: sorted.secrets, platform, localDestinations: input.localCaptureDestinations ?? false, egress }),
    guardrails: compileGuardrails(sorted.guardrails ?? [], {
      providers,
      routeIds: new Set(served.map((r) => r.id)),
      namespaceLabels: new Map((sorted.namespaces ?? []).map((n) => [n.name, n.labels])),
      platform,
      services: resolvedServices(input.endpoints),
      egress,
    }),
  });
  const apiKeys = compileApiKeys(sorted.secrets, input.apiKeyHashKey);
  let compiled = dependents(routes);
  // Everything but the routes, by namespace (every provider counted: an upper bound), then the routes
  // that fit beside it; when some do not, what named them is compiled again without them.
  const others: SizedEntry[] = [
    ...[...providers.values()].map((p) => ({ namespace: namespaceOfId(p.id), bytes: entryBytes(p.config) })),
    ...apiKeys.map((k) => ({ namespace: k.namespace, bytes: entryBytes(k) })),
    ...compiled.budgets.configs.map((b) => ({ namespace: namespaceOfId(b.id), bytes: entryBytes(b) })),
    ...compiled.dataPolicies.configs.map((d) => ({ namespace: namespaceOfId(d.id), bytes: entryBytes(d) })),
    ...compiled.guardrails.configs.map((g) => ({ namespace: namespaceOfId(g.id), bytes: entryBytes(g) })),
  ];
  const kept = withinSnapshotBudget(routes, others, entryBytes(sorted.namespaces ?? []), routeStatuses, input.snapshotBudgetBytes);
  if (kept.length !== routes.length) compiled = dependents(kept);
  const { configs: budgets, statuses: budgetStatuses } = compiled.budgets;
  const { configs: dataPolicies, statuses: dataPolicyStatuses } = compiled.dataPolicies;
  const guardrails = compiled.guardrails;
  const referenced = new Set([...kept.flatMap((r) => r.targets.map((t) => t.providerId)), ...guardrails.moderationProviders]);
  const content: SnapshotContent = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    // Only providers some route can reach: the snapshot carries credentials, so it carries no spare ones.
    providers: [...providers.values()].flatMap((p) => (p.config && referenced.has(p.id) ? [p.config] : [])),
    routes: kept,
    apiKeys,
    budgets,
    namespaces: Object.fromEntries(
      [...(sorted.namespaces ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1)).map((n) => [n.name, n.labels]),
    ),
  };
  // Only when there is one: snapshots (and their versions) without DataPolicies stay as they were.
  if (dataPolicies.length > 0) content.dataPolicies = dataPolicies;
  // Absent rather than empty: snapshots without guardrails keep their content hash.
  if (guardrails.configs.length > 0) content.guardrails = guardrails.configs;
  if (apiKeys.length > 0 && input.apiKeyHashKey !== undefined) content.apiKeyHashKey = secret(input.apiKeyHashKey);
  const snapshot: Snapshot = { ...content, version: contentHash(content) };
  return { snapshot, statuses: [...providerStatuses, ...routeStatuses, ...budgetStatuses, ...dataPolicyStatuses, ...guardrails.statuses].sort(statusOrder) };
}
