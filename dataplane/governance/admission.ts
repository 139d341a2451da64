import type { RouteConfig } from '../config/snapshot.js';
import type { JsonObject } from '../providers/types.js';
import type { Admission, AdmissionRequest, Admitter, Settlement } from './types.js';

/** Output cap used for the worst case when the client sets none: the smallest context window, else this. */
export const DEFAULT_OUTPUT_CAP = 4096;

export function outputCap(body: JsonObject, route: RouteConfig, promptTokens: number): number {
  const asked = body.max_completion_tokens ?? body.max_tokens;
  if (typeof asked === 'number' && asked > 0) return asked;
  const windows = route.targets.map((t) => t.contextWindow).filter((w): w is number => w !== undefined);
  if (windows.length === 0) return DEFAULT_OUTPUT_CAP;
  return Math.max(1, Math.min(...windows) - promptTokens);
}

/**
 * Runs every admitter in order; all must admit. When one refuses, what the earlier ones reserved
 * is released before the refusal propagates. The combined admission settles each exactly once.
 */
export async function admitAll(admitters: readonly Admitter[], request: AdmissionRequest): Promise<Admission> {
  const granted: Admission[] = [];
  try {
    for (const admitter of admitters) granted.push(await admitter.admit(request));
  } catch (err) {
    for (const a of granted) a.settle({ usage: undefined, costUsd: 0 });
    throw err;
  }
  let settled = false;
  return {
    headers: Object.assign({}, ...granted.map((a) => a.headers)) as Record<string, string>,
    overBudget(soFar: Settlement) {
      for (const a of granted) {
        const reason = a.overBudget?.(soFar);
        if (reason !== undefined) return reason;
      }
      return undefined;
    },
    settle(result: Settlement) {
      if (settled) return;
      settled = true;
      for (const a of granted) a.settle(result);
    },
  };
}
