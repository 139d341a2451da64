import type { BudgetConfig, RouteConfig } from '../../dataplane/config/snapshot.js';
import { durationToMs } from '../api/duration.js';
import type { Budget } from '../api/budget.js';
import { condition, type Problem, resolvedRefs } from './conditions.js';
import { scopedSubjects } from './budget-scope.js';
import { budgetRefusal } from './publishable.js';
import { seesOthers } from './compile-routes.js';
import { runToEnd, type Steps } from '../../dataplane/config/sliced.js';
import { matchesSelector } from '../../dataplane/config/label-selector.js';
import { keyNamespaceTrusted } from '../../dataplane/config/api-key-trust.js';
import type { ObjectStatus } from './types.js';

/**
 * Whether some caller of namespace `ns` (a ServiceAccount of it, an API key in it) may use `route`:
 * what the data plane's access check (governance/access.ts) admits for some caller of that namespace.
 */
function reachableFrom(ns: string, route: RouteConfig, namespaceLabels: ReadonlyMap<string, Record<string, string>>): boolean {
  const access = route.access;
  if (route.namespace === ns || access.anonymous || access.namespaces.from === 'All') return true;
  if (access.namespaces.from === 'Selector' && matchesSelector(access.namespaces.selector ?? {}, namespaceLabels.get(ns) ?? {})) return true;
  if (access.serviceAccounts.some((sa) => sa.startsWith(`${ns}/`))) return true;
  return access.apiKeySelector !== undefined && keyNamespaceTrusted(ns, route);
}

/**
 * `platform`: namespaces whose Budgets may name subjects in any namespace (undefined: every namespace).
 * A tenant's Budget learns only of routes its own callers could use: whether another namespace has a
 * route, or serves a public model to others, is not its to learn from a status.
 */
export function compileBudgets(
  budgets: Budget[],
  routes: RouteConfig[],
  platform?: ReadonlySet<string>,
  namespaceLabels: ReadonlyMap<string, Record<string, string>> = new Map(),
): { configs: BudgetConfig[]; statuses: ObjectStatus[] } {
  return runToEnd(compileBudgetsSteps(budgets, routes, platform, namespaceLabels));
}

/** compileBudgets, a Budget (a step) at a time: each may read every route (compile.ts runs in slices). */
export function* compileBudgetsSteps(
  budgets: Budget[],
  routes: RouteConfig[],
  platform?: ReadonlySet<string>,
  namespaceLabels: ReadonlyMap<string, Record<string, string>> = new Map(),
): Steps<{ configs: BudgetConfig[]; statuses: ObjectStatus[] }> {
  const routeIds = new Set(routes.map((r) => r.id));
  const publicModels = new Set(routes.map((r) => r.model));
  const modelsByNamespace = new Map<string, Set<string>>();
  const modelsFor = (ns: string): ReadonlySet<string> => {
    if (seesOthers(platform, ns)) return publicModels;
    let models = modelsByNamespace.get(ns);
    if (models === undefined) modelsByNamespace.set(ns, (models = new Set(routes.filter((r) => reachableFrom(ns, r, namespaceLabels)).map((r) => r.model))));
    return models;
  };
  const configs: BudgetConfig[] = [];
  const one = (b: Budget): ObjectStatus => {
    const ns = b.metadata.namespace ?? 'default';
    const gen = b.metadata.generation;
    const problems: Problem[] = [];
    const scoped = scopedSubjects(b, platform);
    if (scoped.problem !== undefined) problems.push(scoped.problem);
    for (const id of scoped.subjects.routes) {
      if (!routeIds.has(id)) problems.push({ reason: 'RouteNotFound', message: `ModelRoute ${id} not found or not accepted` });
    }
    const downgradeTo = b.spec.action?.type === 'Downgrade' ? b.spec.action.downgradeTo : undefined;
    const servable = downgradeTo !== undefined && modelsFor(ns).has(downgradeTo);
    if (downgradeTo !== undefined && !servable) {
      const which = seesOthers(platform, ns) ? 'no accepted ModelRoute' : `no accepted ModelRoute that callers of namespace ${ns} may use`;
      problems.push({ reason: 'RouteNotFound', message: `${which} serves model ${downgradeTo} (action.downgradeTo)` });
    }
    const status: ObjectStatus = {
      kind: 'Budget',
      namespace: ns,
      name: b.metadata.name,
      conditions: [condition('Accepted', true, 'Accepted', 'Budget is valid', gen), resolvedRefs(problems, gen)],
    };
    if (gen !== undefined) status.generation = gen;
    const spec = b.spec;
    const config: BudgetConfig = {
      id: `${ns}/${b.metadata.name}`,
      unit: spec.limit.unit,
      amount: spec.limit.amount,
      period: spec.period,
      timeZone: spec.timeZone,
      subjects: scoped.subjects,
      // A downgrade target that does not exist degrades to Reject: never to an unbudgeted route.
      action: {
        type: servable ? 'Downgrade' : 'Reject',
        cutStreams: spec.action?.cutStreams ?? false,
        ...(servable ? { downgradeTo } : {}),
      },
      thresholds: [...spec.thresholds].sort((x, y) => x - y),
    };
    if (spec.window !== undefined) config.windowMs = durationToMs(spec.window);
    const refusal = budgetRefusal(config);
    if (refusal !== undefined) {
      // The data plane would refuse the whole snapshot for it: this Budget alone is refused.
      status.conditions = [condition('Accepted', false, 'Invalid', `${refusal.path}: ${refusal.message}`, gen), resolvedRefs(problems, gen)];
      return status;
    }
    configs.push(config);
    return status;
  };
  const statuses: ObjectStatus[] = [];
  for (const b of budgets) {
    statuses.push(one(b));
    yield;
  }
  return { configs, statuses };
}
