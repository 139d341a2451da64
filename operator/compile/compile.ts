import { type ApiKeyConfig, SNAPSHOT_SCHEMA_VERSION, type RouteConfig, type Snapshot, type SnapshotContent } from '../../dataplane/config/snapshot.js';
import { secret } from '../../dataplane/config/secret-value.js';
import { compileBudgetsSteps } from './compile-budgets.js';
import { compileDataPolicies } from './compile-data-policies.js';
import { compileGuardrails } from './compile-guardrails.js';
import { compileProviders } from './compile-providers.js';
import { compileApiKeysSteps } from './compile-api-keys.js';
import { compileRoutesSteps } from './compile-routes.js';
import { runToEnd, type Steps } from '../../dataplane/config/sliced.js';
import { markGuardrailRefused } from './pass-through-served.js';
import { entryBytes, fitSnapshot, markLeftOut, type SizedObject, type SnapshotObjectKind, sizedKey, splitId } from './snapshot-budget.js';
import type { GuardrailConfig } from '../../dataplane/config/guardrail-config.js';
import type { BudgetConfig } from '../../dataplane/config/snapshot.js';
import type { DataPolicyConfig } from '../../dataplane/config/data-policy-config.js';
import type { CompiledProvider } from './compile-providers.js';
import { resolvedServices } from './service-ref.js';
import { contentHashSteps } from '../../dataplane/config/content-hash.js';
import type { CompileInput, CompileResult, ObjectStatus } from './types.js';
import { CompiledEgressAllowlist } from '../../dataplane/config/egress-allowlist.js';

type Named = { metadata: { name: string; namespace?: string | undefined } };

function byId<T extends Named>(items: readonly T[]): T[] {
  // Keys made once, not twice per comparison (5,000 routes: ~60,000 strings in one piece of the compile).
  const keyed = items.map((o) => ({ o, key: `${o.metadata.namespace ?? 'default'}/${o.metadata.name}` }));
  return keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((k) => k.o);
}

/**
 * Platform namespaces' objects first, each part in the order given. Guardrail policies run in
 * snapshot order: the platform's (a Mask, say) must act before any tenant's rule (a webhook) sees
 * the text, or one team's webhook on its route would read another team's prompt unmasked.
 */
function platformFirst<T extends Named>(items: readonly T[], platform: ReadonlySet<string> | undefined): T[] {
  if (platform === undefined) return [...items];
  const isPlatform = (o: T): boolean => platform.has(o.metadata.namespace ?? 'default');
  return [...items.filter(isPlatform), ...items.filter((o) => !isPlatform(o))];
}

/** By kind/namespace/name, keys made once rather than twice per comparison (6,000 statuses at 5,000 routes). */
function inStatusOrder(statuses: readonly ObjectStatus[]): ObjectStatus[] {
  const keyed = statuses.map((s) => ({ s, key: `${s.kind}/${s.namespace}/${s.name}` }));
  return keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((k) => k.s);
}

/** What a snapshot carries besides its objects and namespace labels (its version, schema version, the lists' names), at most. */
const ENVELOPE_BYTES = 512;

/** The Providers a snapshot with these routes and guardrails carries: those a target or a usable moderation rule names. */
function referencedProviders(routes: readonly RouteConfig[], guardrails: readonly GuardrailConfig[]): Set<string> {
  const referenced = new Set<string>();
  for (const r of routes) for (const t of r.targets) referenced.add(t.providerId);
  for (const g of guardrails) for (const r of g.rules) if (r.detector.kind === 'moderation' && r.detector.unusable !== true) referenced.add(r.detector.providerId);
  return referenced;
}

/** Each object's entry in the snapshot, sized, with its kind and namespace (snapshot-budget.ts). */
function* sizedObjects(
  routes: readonly RouteConfig[],
  compiled: { budgets: { configs: BudgetConfig[] }; dataPolicies: { configs: DataPolicyConfig[] }; guardrails: { configs: GuardrailConfig[] } },
  apiKeys: readonly ApiKeyConfig[],
  providers: readonly CompiledProvider[],
): Steps<SizedObject[]> {
  const out: SizedObject[] = [];
  // One more byte each: the comma between entries of a list.
  const add = (kind: SnapshotObjectKind, namespace: string, name: string, entry: unknown): void => {
    out.push({ kind, namespace, name, bytes: entryBytes(entry) + 1 });
  };
  for (const p of providers) {
    const { namespace, name } = splitId(p.id);
    add('Provider', namespace, name, p.config);
    yield;
  }
  for (const [kind, entries] of [
    ['ModelRoute', routes],
    ['Budget', compiled.budgets.configs],
    ['DataPolicy', compiled.dataPolicies.configs],
    ['GuardrailPolicy', compiled.guardrails.configs],
  ] as const) {
    for (const entry of entries) {
      const { namespace, name } = splitId(entry.id);
      add(kind, namespace, name, entry);
      yield;
    }
  }
  for (const k of apiKeys) {
    add('Secret', k.namespace, k.name, k);
    yield;
  }
  return out;
}

/**
 * Objects in, Snapshot and a status per object out. Pure: no I/O, no clock; the same objects in any
 * order give a byte-identical snapshot whose version is its content hash.
 */
export function compile(input: CompileInput): CompileResult {
  return runToEnd(compileSteps(input));
}

/**
 * compile, yielding between routes and between the items it sizes and hashes: the operator runs it
 * in slices (runSliced), so that a large compile (0.4–1.0 s at 5,000 routes) does not hold the loop
 * that renews the Lease and answers pulls and probes. The same code as compile: the same output.
 */
export function* compileSteps(input: CompileInput): Steps<CompileResult> {
  const platform = input.platformNamespaces === undefined ? undefined : new Set(input.platformNamespaces);
  const sorted: CompileInput = {
    ...input,
    providers: byId(input.providers),
    routes: byId(input.routes),
    budgets: byId(input.budgets),
    guardrails: platformFirst(byId(input.guardrails ?? []), platform),
  };
  const egress = input.egressAllowlist === undefined ? undefined : new CompiledEgressAllowlist(input.egressAllowlist);
  const { providers: compiledProviders, statuses: providerStatuses } = compileProviders(sorted, egress);
  let providers = compiledProviders;
  let { routes, statuses: routeStatuses } = yield* compileRoutesSteps(sorted, providers);
  // What depends on which Providers and routes exist (budgets' subjects and downgrades, policies' subjects, moderation).
  // A step between the three (each reads every route): in slices, none holds the loop for all of them.
  function* dependents(served: RouteConfig[]): Steps<{ budgets: { configs: BudgetConfig[]; statuses: ObjectStatus[] }; dataPolicies: ReturnType<typeof compileDataPolicies>; guardrails: ReturnType<typeof compileGuardrails> }> {
    const budgets = yield* compileBudgetsSteps(sorted.budgets, served, platform, new Map((sorted.namespaces ?? []).map((n) => [n.name, n.labels])));
    const dataPolicies = compileDataPolicies(input.dataPolicies ?? [], { routes: served, secrets: sorted.secrets, platform, localDestinations: input.localCaptureDestinations ?? false, egress });
    yield;
    const guardrails = compileGuardrails(sorted.guardrails ?? [], {
      providers,
      routeIds: new Set(served.map((r) => r.id)),
      namespaceLabels: new Map((sorted.namespaces ?? []).map((n) => [n.name, n.labels])),
      platform,
      services: resolvedServices(input.endpoints),
      egress,
    });
    yield;
    return { budgets, dataPolicies, guardrails };
  }
  const compiledKeys = yield* compileApiKeysSteps(sorted.secrets, input.apiKeyHashKey);
  let apiKeys = compiledKeys.keys;
  let compiled = yield* dependents(routes);
  // Every object the snapshot would carry, sized and by namespace; when they do not fit, some are left
  // out and what depended on them is compiled again without them.
  const carried = referencedProviders(routes, compiled.guardrails.configs);
  const sized = yield* sizedObjects(routes, compiled, apiKeys, [...providers.values()].filter((p) => carried.has(p.id)));
  const fit = fitSnapshot(
    sized,
    entryBytes(sorted.namespaces ?? []) + ENVELOPE_BYTES,
    platform,
    input.snapshotBudgetBytes,
  );
  const leftOut = (kind: SnapshotObjectKind, id: string): boolean => {
    const { namespace, name } = splitId(id);
    return fit.refused.has(sizedKey(kind, namespace, name));
  };
  // Copies of a key another Secret keeps are refused before sizing: they were never going to be carried.
  let leftOutApiKeys: NonNullable<CompileResult['leftOutApiKeys']> = [...compiledKeys.refused];
  if (fit.refused.size > 0) {
    if ([...providers.keys()].some((id) => leftOut('Provider', id))) {
      // Routes that name a Provider left out lose it as a target (ProviderNotReady says why).
      providers = new Map([...providers].map(([id, p]) => [id, leftOut('Provider', id) ? { id, source: p.source, notReady: 'left out of the configuration snapshot (SnapshotTooLarge): see its status' } : p]));
      ({ routes, statuses: routeStatuses } = yield* compileRoutesSteps(sorted, providers));
    }
    routes = routes.filter((r) => !leftOut('ModelRoute', r.id));
    compiled = yield* dependents(routes);
    compiled.budgets.configs = compiled.budgets.configs.filter((b) => !leftOut('Budget', b.id));
    compiled.dataPolicies.configs = compiled.dataPolicies.configs.filter((d) => !leftOut('DataPolicy', d.id));
    compiled.guardrails.configs = compiled.guardrails.configs.filter((g) => !leftOut('GuardrailPolicy', g.id));
    leftOutApiKeys = [
      ...leftOutApiKeys,
      ...apiKeys.flatMap((k) => {
        const message = fit.refused.get(sizedKey('Secret', k.namespace, k.name));
        return message === undefined ? [] : [{ namespace: k.namespace, name: k.name, reason: 'SnapshotTooLarge', message }];
      }),
    ].sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
    apiKeys = apiKeys.filter((k) => !fit.refused.has(sizedKey('Secret', k.namespace, k.name)));
    markLeftOut([...providerStatuses, ...routeStatuses, ...compiled.budgets.statuses, ...compiled.dataPolicies.statuses, ...compiled.guardrails.statuses], fit);
  }
  yield;
  const kept = routes;
  const { configs: budgets, statuses: budgetStatuses } = compiled.budgets;
  const { configs: dataPolicies, statuses: dataPolicyStatuses } = compiled.dataPolicies;
  const guardrails = compiled.guardrails;
  const routeById = new Map(kept.map((r) => [r.id, r]));
  for (const status of routeStatuses) {
    const route = routeById.get(`${status.namespace}/${status.name}`);
    if (route !== undefined) markGuardrailRefused(status, route, guardrails.configs);
  }
  yield;
  const referenced = referencedProviders(kept, guardrails.configs);
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
  const snapshot: Snapshot = { ...content, version: yield* contentHashSteps(content) };
  const result: CompileResult = { snapshot, statuses: inStatusOrder([...providerStatuses, ...routeStatuses, ...budgetStatuses, ...dataPolicyStatuses, ...guardrails.statuses]) };
  if (leftOutApiKeys.length > 0) result.leftOutApiKeys = leftOutApiKeys;
  // A keeper left out of an oversized snapshot is told that (SnapshotTooLarge) and that it was copied.
  if (compiledKeys.copied.length > 0) result.copiedApiKeys = compiledKeys.copied;
  if (fit.oversize !== undefined) result.oversize = fit.oversize;
  return result;
}
