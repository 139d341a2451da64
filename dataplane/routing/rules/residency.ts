import { type LabelSelector, matchesSelector } from '../../config/label-selector.js';
import type { Caller } from '../../core/caller.js';

/**
 * A namespace (or API key Secret) label `require.tollgate.dev/<key>: <value>` means: callers from it
 * may only reach Providers labelled `<key>: <value>`.
 */
export const REQUIRE_LABEL_PREFIX = 'require.tollgate.dev/';

/** A residency policy in force for one request: only providers whose labels match may serve it. */
export interface ResidencyPolicy {
  /** Names the policy in errors, /debug/route and the docs' vocabulary. */
  name: string;
  selector: LabelSelector;
}

function describeLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The provider labels a label set requires, or undefined when it requires none. Cached per labels object. */
const required = new WeakMap<Record<string, string>, Record<string, string> | null>();
function requiredLabels(labels: Record<string, string>): Record<string, string> | undefined {
  let cached = required.get(labels);
  if (cached === undefined) {
    cached = null;
    for (const [key, value] of Object.entries(labels)) {
      if (!key.startsWith(REQUIRE_LABEL_PREFIX) || key.length === REQUIRE_LABEL_PREFIX.length) continue;
      cached ??= {};
      cached[key.slice(REQUIRE_LABEL_PREFIX.length)] = value;
    }
    required.set(labels, cached);
  }
  return cached ?? undefined;
}

/** Policies that apply to a caller: from its namespace labels and from its API key Secret's labels. */
export function callerPolicies(caller: Caller, namespaceLabels: Record<string, string>): ResidencyPolicy[] {
  const out: ResidencyPolicy[] = [];
  const fromNamespace = requiredLabels(namespaceLabels);
  if (fromNamespace !== undefined) {
    out.push({ name: `namespace ${caller.namespace ?? '?'} requires providers labelled ${describeLabels(fromNamespace)}`, selector: { matchLabels: fromNamespace } });
  }
  if (caller.kind === 'apikey' && caller.labels !== undefined) {
    const fromKey = requiredLabels(caller.labels);
    if (fromKey !== undefined) {
      out.push({ name: `API key ${caller.namespace ?? '?'}/${caller.name ?? '?'} requires providers labelled ${describeLabels(fromKey)}`, selector: { matchLabels: fromKey } });
    }
  }
  return out;
}

function describeSelector(s: LabelSelector): string {
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    parts.push(e.operator === 'Exists' ? e.key : e.operator === 'DoesNotExist' ? `!${e.key}` : `${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${values})`);
  }
  return parts.join(',');
}

export function rulePolicy(routeId: string, rule: string, selector: LabelSelector): ResidencyPolicy {
  return { name: `rule ${rule} of route ${routeId} requires providers matching ${describeSelector(selector)}`, selector };
}

/** The first policy a provider's labels break, or undefined when all allow it. */
export function violatedPolicy(policies: readonly ResidencyPolicy[], providerLabels: Record<string, string>): ResidencyPolicy | undefined {
  for (const p of policies) if (!matchesSelector(p.selector, providerLabels)) return p;
  return undefined;
}
