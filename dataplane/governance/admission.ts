import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import { askedOutputCap, outputMultiplier } from '../metering/output-bound.js';
import type { CanonicalRequest } from '../core/canonical.js';
import type { Admission, AdmissionRequest, Admitter, Settlement } from './types.js';

/** Output cap per completion when neither the client, the target's provider nor its context window says one. */
export const DEFAULT_OUTPUT_CAP = 4096;

/**
 * The most output tokens a request can be billed for on this route: the cap per completion times
 * outputMultiplier. Without a client cap, each target's own default counts (a provider that sends
 * a default max_tokens, e.g. Anthropic's defaultMaxTokens), else its context window minus the
 * prompt, else DEFAULT_OUTPUT_CAP; the largest over the route's targets is the worst case.
 */
export function outputCap(
  req: Pick<CanonicalRequest, 'op' | 'body'>,
  route: RouteConfig,
  promptTokens: number,
  targetDefault: (t: TargetConfig) => number | undefined = () => undefined,
): number {
  const multiplier = outputMultiplier(req);
  if (multiplier === 0) return 0;
  const asked = askedOutputCap(req.body);
  if (asked !== undefined) return asked * multiplier;
  const perTarget = route.targets.map((t) => targetDefault(t) ?? (t.contextWindow === undefined ? DEFAULT_OUTPUT_CAP : Math.max(1, t.contextWindow - promptTokens)));
  return (perTarget.length === 0 ? DEFAULT_OUTPUT_CAP : Math.max(...perTarget)) * multiplier;
}

/** The admissions every admitter granted, as one: headers merged, each settled exactly once. */
function combined(granted: readonly Admission[]): Admission {
  if (granted.length === 1) return granted[0] as Admission;
  let settled = false;
  const headers: Record<string, string> = {};
  for (const a of granted) Object.assign(headers, a.headers);
  return {
    headers,
    overBudget(soFar: Settlement) {
      for (const a of granted) {
        const reason = a.overBudget?.(soFar);
        if (reason !== undefined) return reason;
      }
      return undefined;
    },
    charge(part: Settlement) {
      if (settled) return;
      for (const a of granted) a.charge(part);
    },
    settle(result: Settlement) {
      if (settled) return;
      settled = true;
      for (const a of granted) a.settle(result);
    },
  };
}

function releaseAll(granted: readonly Admission[]): void {
  for (const a of granted) a.settle({ usage: undefined, costUsd: 0 });
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
    releaseAll(granted);
    throw err;
  }
  return combined(granted);
}

/** admitAll without a promise when every admitter decides in memory (Admitter.admitNow); undefined, with nothing admitted, when one does not. */
export function admitAllNow(admitters: readonly Admitter[], request: AdmissionRequest): Admission | undefined {
  for (const admitter of admitters) if (admitter.admitNow === undefined) return undefined;
  const granted: Admission[] = [];
  try {
    for (const admitter of admitters) granted.push((admitter.admitNow as (r: AdmissionRequest) => Admission)(request));
  } catch (err) {
    releaseAll(granted);
    throw err;
  }
  return combined(granted);
}
