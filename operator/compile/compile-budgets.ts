import type { RouteConfig } from '../../dataplane/config/snapshot.js';
import type { Budget } from '../api/budget.js';
import { condition, type Problem, resolvedRefs } from './conditions.js';
import type { ObjectStatus } from './types.js';

export function compileBudgets(budgets: Budget[], routes: RouteConfig[]): ObjectStatus[] {
  const routeIds = new Set(routes.map((r) => r.id));
  const publicModels = new Set(routes.map((r) => r.model));
  return budgets.map((b) => {
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
    const status: ObjectStatus = {
      kind: 'Budget',
      namespace: ns,
      name: b.metadata.name,
      conditions: [condition('Accepted', true, 'Accepted', 'Budget is valid', gen), resolvedRefs(problems, gen)],
    };
    if (gen !== undefined) status.generation = gen;
    return status;
  });
}
