import type { SecretObject } from '../controller/kube-types.js';

/**
 * Secret types no Tollgate object can reference, left out of the watch by the API server: Helm
 * keeps every revision of every release as a Secret of up to 1 MiB, and ServiceAccount tokens
 * rotate; caching them cost memory and a reconcile per change, for nothing.
 */
export const UNWATCHED_SECRET_TYPES = ['helm.sh/release.v1', 'kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token'] as const;

/** The list/watch query for Secrets: the types above excluded, and only those matching `labelSelector` when one is set. */
export function secretsQuery(labelSelector: string | undefined): string {
  const fields = UNWATCHED_SECRET_TYPES.map((t) => `type!=${t}`).join(',');
  const labels = labelSelector?.trim() ?? '';
  return `fieldSelector=${encodeURIComponent(fields)}${labels === '' ? '' : `&labelSelector=${encodeURIComponent(labels)}`}`;
}

/**
 * What the operator keeps of a Secret: its name, labels, version, creation time and data. Annotations go: kubectl
 * apply's `last-applied-configuration` repeats the whole Secret, data included, and nothing here
 * reads them.
 */
export function slimSecret(s: SecretObject): SecretObject {
  const { name, namespace, resourceVersion, creationTimestamp, labels } = s.metadata;
  return {
    metadata: {
      name,
      ...(namespace === undefined ? {} : { namespace }),
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
      // Of two Secrets holding the same API key the older keeps it (compile-api-keys.ts).
      ...(creationTimestamp === undefined ? {} : { creationTimestamp }),
      ...(labels === undefined ? {} : { labels }),
    },
    ...(s.data === undefined ? {} : { data: s.data }),
  };
}

// Kubernetes label syntax: an optional DNS-subdomain prefix and a name of at most 63 characters; values the same or empty.
const NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const KEY = `(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?${NAME}`;
const VALUE = `(?:${NAME})?`;
const REQUIREMENT = new RegExp(`^(?:!?${KEY}|${KEY}\\s*(?:==?|!=)\\s*${VALUE}|${KEY}\\s+(?:in|notin)\\s+\\(\\s*${VALUE}(?:\\s*,\\s*${VALUE})*\\s*\\))$`);

/**
 * Why `selector` is not a label selector the API server would take (equality and set-based
 * requirements, comma-separated), or undefined: checked at start, because the API server's 400
 * would only show as a watch that never syncs.
 */
export function labelSelectorProblem(selector: string): string | undefined {
  if (selector.length > 1024) return 'is longer than 1024 characters';
  // Commas separate requirements, except inside a set's parentheses.
  const requirements: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      requirements.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  requirements.push(selector.slice(start));
  const bad = requirements.map((r) => r.trim()).find((r) => !REQUIREMENT.test(r));
  return bad === undefined ? undefined : `has a requirement that is not a label selector: ${JSON.stringify(bad)} (e.g. tollgate.dev/use=true, env in (prod,staging), !legacy)`;
}
