import type { ComputedCondition } from './types.js';

export function condition(
  type: ComputedCondition['type'],
  ok: boolean,
  reason: string,
  message: string,
  generation: number | undefined,
): ComputedCondition {
  const c: ComputedCondition = { type, status: ok ? 'True' : 'False', reason, message };
  if (generation !== undefined) c.observedGeneration = generation;
  return c;
}

export interface Problem {
  reason: string;
  message: string;
  /** The object the problem is about, as a caller may see it (a Provider id). */
  ref?: string;
  /** The route rule the problem is in. */
  rule?: string;
}

/** ResolvedRefs from a list of problems: True when there are none, else the first reason and every message. */
export function resolvedRefs(problems: Problem[], generation: number | undefined, okMessage = 'All references resolved'): ComputedCondition {
  const first = problems[0];
  if (first === undefined) return condition('ResolvedRefs', true, 'ResolvedRefs', okMessage, generation);
  return condition('ResolvedRefs', false, first.reason, problems.map((p) => p.message).join('; '), generation);
}
