import { type LabelSelector, matchesSelector, namespaceLabels } from '../../config/label-selector.js';
import { type Caller, namespaceOnRoute } from '../../core/caller.js';

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
  /**
   * A caller's requirement (its namespace's or API key's): only labels the platform set satisfy it
   * (ProviderConfig.labelsTrusted), or a tenant could label its own Provider to match. A route's
   * rule is its namespace's own choice and sees every label.
   */
  trustedLabelsOnly: boolean;
}

/** What residency reads of a Provider. */
export interface LabelledProvider {
  labels?: Record<string, string> | undefined;
  labelsTrusted?: true | undefined;
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

/**
 * Policies that apply to a caller: from the labels of `namespace` (its own; for an anonymous caller
 * the route's, see namespaceOnRoute) and from its API key Secret's labels.
 */
export function callerPolicies(caller: Caller, namespace: string | undefined, namespaceLabels: Record<string, string>): ResidencyPolicy[] {
  const out: ResidencyPolicy[] = [];
  const fromNamespace = requiredLabels(namespaceLabels);
  if (fromNamespace !== undefined) {
    out.push({ name: `namespace ${namespace ?? '?'} requires providers labelled ${describeLabels(fromNamespace)}`, selector: { matchLabels: fromNamespace }, trustedLabelsOnly: true });
  }
  if (caller.kind === 'apikey' && caller.labels !== undefined) {
    const fromKey = requiredLabels(caller.labels);
    if (fromKey !== undefined) {
      out.push({ name: `API key ${caller.namespace ?? '?'}/${caller.name ?? '?'} requires providers labelled ${describeLabels(fromKey)}`, selector: { matchLabels: fromKey }, trustedLabelsOnly: true });
    }
  }
  return out;
}

/**
 * A caller's residency policies on a route: its namespace's and its API key's. An anonymous caller
 * is held to the route's namespace's, which opened the route to it: else a restricted team escaped
 * its own residency by calling its route without a key. Every path that sends a request's content
 * upstream (chat, pass-through, Realtime, token counts) keeps to these.
 */
export function callerResidency(caller: Caller, routeId: string, namespaces: Readonly<Record<string, Record<string, string>>>): ResidencyPolicy[] {
  const namespace = namespaceOnRoute(caller, routeId);
  return callerPolicies(caller, namespace, namespaceLabels(namespaces, namespace));
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
  return { name: `rule ${rule} of route ${routeId} requires providers matching ${describeSelector(selector)}`, selector, trustedLabelsOnly: false };
}

const NO_LABELS: Record<string, string> = {};

/** The first policy a provider's labels break, or undefined when all allow it. */
export function violatedPolicy(policies: readonly ResidencyPolicy[], provider: LabelledProvider | undefined): ResidencyPolicy | undefined {
  const labels = provider?.labels ?? NO_LABELS;
  const trusted = provider?.labelsTrusted === true ? labels : NO_LABELS;
  for (const p of policies) if (!matchesSelector(p.selector, p.trustedLabelsOnly ? trusted : labels)) return p;
  return undefined;
}
