import type { BudgetConfig } from '../../dataplane/config/snapshot.js';
import type { Subjects } from '../api/subjects.js';
import type { Problem } from './conditions.js';

/**
 * The subjects a Budget (or DataPolicy) may govern. A Budget in a tenant's namespace caps only that namespace's
 * callers and routes: listing another team's namespace, ServiceAccounts or routes would let one
 * tenant cut off another. Only a Budget in a platform namespace may name subjects anywhere;
 * `platform` undefined trusts every namespace (manifests on disk have one author).
 */
export function scopedSubjects(
  policy: { kind?: string; metadata: { namespace?: string | undefined }; spec: { subjects: Subjects } },
  platform: ReadonlySet<string> | undefined,
): { subjects: BudgetConfig['subjects']; problem?: Problem } {
  const ns = policy.metadata.namespace ?? 'default';
  const kind = policy.kind ?? 'Budget';
  const s = policy.spec.subjects;
  const all: BudgetConfig['subjects'] = {
    namespaces: [...(s.namespaces ?? [])].sort(),
    serviceAccounts: (s.serviceAccounts ?? []).map((sa) => `${sa.namespace}/${sa.name}`).sort(),
    apiKeys: (s.apiKeys ?? []).map((k) => `${ns}/${k}`).sort(),
    routes: (s.routes ?? []).map((r) => `${r.namespace ?? ns}/${r.name}`).sort(),
  };
  if (platform === undefined || platform.has(ns)) return { subjects: all };
  const own = (id: string): boolean => id.startsWith(`${ns}/`);
  const foreign = [
    ...all.namespaces.filter((n) => n !== ns).map((n) => `namespace ${n}`),
    ...all.serviceAccounts.filter((id) => !own(id)).map((id) => `ServiceAccount ${id}`),
    ...all.routes.filter((id) => !own(id)).map((id) => `ModelRoute ${id}`),
  ];
  if (foreign.length === 0) return { subjects: all };
  return {
    subjects: {
      namespaces: all.namespaces.filter((n) => n === ns),
      serviceAccounts: all.serviceAccounts.filter(own),
      apiKeys: all.apiKeys,
      routes: all.routes.filter(own),
    },
    problem: {
      reason: 'RefNotPermitted',
      message: `a ${kind} in namespace ${ns} applies only to subjects in ${ns} (platform-wide ${kind.endsWith('Policy') ? `${kind.slice(0, -1)}ies` : `${kind}s`} live in ${[...platform].sort().join(', ')}); not applied to ${foreign.join(', ')}`,
    },
  };
}
