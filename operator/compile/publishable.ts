import type { z } from 'zod';
import { guardrailLoadProblems, type LoadProblem, providerLoadProblem, routeLoadProblems } from '../../dataplane/config/load-checks.js';
import { type GuardrailConfig, GuardrailConfigSchema } from '../../dataplane/config/guardrail-config.js';
import { type BudgetConfig, BudgetConfigSchema, type ProviderConfig, ProviderConfigSchema, type RouteConfig, RouteConfigSchema } from '../../dataplane/config/snapshot.js';

/**
 * The data plane's own load checks (its zod schema, then load-checks.ts), run by compile on each
 * object before it is published: an object the data plane would refuse is refused here alone, with
 * the field named, instead of making the whole snapshot unloadable for every tenant.
 */

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

function schemaProblem(schema: z.ZodType, value: unknown): LoadProblem | undefined {
  const parsed = schema.safeParse(value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  return { path: fieldPath(issue?.path ?? []), message: issue?.message ?? 'invalid' };
}

export function providerRefusal(config: ProviderConfig): LoadProblem | undefined {
  return schemaProblem(ProviderConfigSchema, config) ?? providerLoadProblem(config);
}

/** `providerIds`: the providers the snapshot will carry. */
export function routeRefusal(config: RouteConfig, providerIds: ReadonlySet<string>): LoadProblem | undefined {
  return schemaProblem(RouteConfigSchema, config) ?? routeLoadProblems(config, providerIds)[0];
}

export function budgetRefusal(config: BudgetConfig): LoadProblem | undefined {
  return schemaProblem(BudgetConfigSchema, config);
}

export function guardrailRefusal(config: GuardrailConfig): LoadProblem | undefined {
  return schemaProblem(GuardrailConfigSchema, config) ?? guardrailLoadProblems(config)[0];
}
