import type { BudgetConfig, RouteConfig } from '../../dataplane/config/snapshot.js';
import { durationToMs } from '../api/duration.js';
import type { Budget } from '../api/budget.js';
import { condition, type Problem, resolvedRefs } from './conditions.js';
import { scopedSubjects } from './budget-scope.js';
import { budgetRefusal } from './publishable.js';
import type { ObjectStatus } from './types.js';

/** `platform`: namespaces whose Budgets may name subjects in any namespace (undefined: every namespace). */
export function compileBudgets(
  budgets: Budget[],
  routes: RouteConfig[],
  platform?: ReadonlySet<string>,
): { configs: BudgetConfig[]; statuses: ObjectStatus[] } {
  const routeIds = new Set(routes.map((r) => r.id));
  const publicModels = new Set(routes.map((r) => r.model));
  const configs: BudgetConfig[] = [];
  const statuses = budgets.map((b) => {
    const ns = b.metadata.namespace ?? 'default';
    const gen = b.metadata.generation;
    const problems: Problem[] = [];
    for (const r of b.spec.subjects.routes ?? []) {
      const id = `${r.namespace ?? ns}/${r.name}`;
      if (!routeIds.has(id)) problems.push({ reason: 'RouteNotFound', message: `ModelRoute ${id} not found or not accepted` });
    }
    const downgradeTo = b.spec.action?.type === 'Downgrade' ? b.spec.action.downgradeTo : undefined;
    if (downgradeTo !== undefined && !publicModels.has(downgradeTo)) {
      problems.push({ reason: 'RouteNotFound', message: `no accepted ModelRoute serves model ${downgradeTo} (action.downgradeTo)` });
    }
    const scoped = scopedSubjects(b, platform);
    if (scoped.problem !== undefined) problems.push(scoped.problem);
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
        type: downgradeTo !== undefined && publicModels.has(downgradeTo) ? 'Downgrade' : 'Reject',
        cutStreams: spec.action?.cutStreams ?? false,
        ...(downgradeTo !== undefined && publicModels.has(downgradeTo) ? { downgradeTo } : {}),
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
  });
  return { configs, statuses };
}
