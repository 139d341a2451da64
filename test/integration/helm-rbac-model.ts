// RBAC as the API server evaluates it, reduced to what the chart grants: which request attributes a
// recorded call has, and which granted rule (if any) allows it.
import type { ApiCall, K8sObject } from './helm-support.js';

/** The attributes RBAC authorizes a resource request on. */
export interface RequestAttributes {
  verb: string;
  group: string;
  /** resource or resource/subresource */
  resource: string;
  /** '' for a cluster-scoped request (including a list or watch across all namespaces) */
  namespace: string;
  /** The object's name: '' for a list, a watch or a create (RBAC sees none then). */
  name: string;
}

/** One verb on one resource granted by one rule of one Role or ClusterRole. */
export interface Grant {
  /** e.g. `ClusterRole tollgate-operator-x` or `Role team-a/tollgate-operator-x` */
  source: string;
  group: string;
  resource: string;
  verb: string;
  /** '*' when granted through a ClusterRoleBinding, else the Role's namespace */
  namespace: string;
  /** One of the rule's resourceNames, or '*' when it has none (every name). */
  name: string;
}

/** Maps a request path and method to RBAC attributes (k8s.io/apiserver RequestInfoFactory, simplified). */
export function attributesOf(call: ApiCall): RequestAttributes {
  const parts = call.path.split('/').filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === 'api') {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    rest = parts.slice(3);
  } else {
    throw new Error(`not a resource request: ${call.method} ${call.path}`);
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1] ?? '';
    rest = rest.slice(2);
  }
  const [resource = '', name, subresource] = rest;
  const watch = /[?&]watch=(1|true)/.test(call.query);
  const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name === undefined ? 'deletecollection' : 'delete' };
  const verb = call.method === 'GET' ? (watch ? 'watch' : name === undefined ? 'list' : 'get') : (verbs[call.method] ?? call.method.toLowerCase());
  // GET /api/v1/namespaces/x is a get of the namespace x itself.
  if (parts[0] === 'api' && parts[2] === 'namespaces' && parts.length === 4) return { verb, group, resource: 'namespaces', namespace: '', name: parts[3] ?? '' };
  return { verb, group, resource: subresource === undefined ? resource : `${resource}/${subresource}`, namespace, name: name ?? '' };
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}

/** Every verb × resource the rendered Roles and ClusterRoles grant to `subject`, through their bindings. */
export function grantsFor(objects: K8sObject[], subject: { name: string; namespace: string }): Grant[] {
  const grants: Grant[] = [];
  const bound = (o: K8sObject): boolean =>
    ((o.subjects as { kind: string; name: string; namespace?: string }[] | undefined) ?? []).some(
      (s) => s.kind === 'ServiceAccount' && s.name === subject.name && s.namespace === subject.namespace,
    );
  for (const binding of objects.filter((o) => (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') && bound(o))) {
    const ref = binding.roleRef as { kind: string; name: string };
    const role = objects.find(
      (o) => o.kind === ref.kind && o.metadata.name === ref.name && (ref.kind === 'ClusterRole' || o.metadata.namespace === binding.metadata.namespace),
    );
    if (role === undefined) throw new Error(`${binding.kind} ${binding.metadata.name} refers to a missing ${ref.kind} ${ref.name}`);
    const namespace = binding.kind === 'ClusterRoleBinding' ? '*' : (binding.metadata.namespace ?? '');
    const source = role.kind === 'ClusterRole' ? `ClusterRole ${role.metadata.name}` : `Role ${role.metadata.namespace ?? ''}/${role.metadata.name}`;
    for (const rule of (role.rules as PolicyRule[] | undefined) ?? []) {
      // One grant per name, so that a name no call used shows as unused.
      const names = rule.resourceNames === undefined || rule.resourceNames.length === 0 ? ['*'] : rule.resourceNames;
      for (const group of rule.apiGroups ?? []) for (const resource of rule.resources ?? []) for (const verb of rule.verbs ?? []) for (const name of names) grants.push({ source, group, resource, verb, namespace, name });
    }
  }
  return grants;
}

export function allows(grant: Grant, a: RequestAttributes): boolean {
  const scoped = grant.namespace === '*' || (a.namespace !== '' && grant.namespace === a.namespace);
  // A rule with resourceNames allows only requests that name one of them (never a list or a create).
  const named = grant.name === '*' || (a.name !== '' && grant.name === a.name);
  return scoped && named && grant.verb === a.verb && grant.group === a.group && grant.resource === a.resource;
}

export const describeGrant = (g: Grant): string =>
  `${g.source}: ${g.verb} ${g.group === '' ? '' : `${g.group}/`}${g.resource}${g.name === '*' ? '' : ` ${g.name}`}${g.namespace === '*' ? '' : ` in ${g.namespace}`}`;
export const describeRequest = (a: RequestAttributes): string =>
  `${a.verb} ${a.group === '' ? '' : `${a.group}/`}${a.resource}${a.name === '' ? '' : ` ${a.name}`}${a.namespace === '' ? ' (cluster-wide)' : ` in ${a.namespace}`}`;

/** Requests no grant allows (the API server answered them 403) and grants no request used. */
export function compare(calls: ApiCall[], grants: Grant[]): { missing: string[]; unused: string[] } {
  const requests = calls.map(attributesOf);
  const missing = [...new Set(requests.filter((a) => !grants.some((g) => allows(g, a))).map(describeRequest))].sort();
  const unused = [...new Set(grants.filter((g) => !requests.some((a) => allows(g, a))).map(describeGrant))].sort();
  return { missing, unused };
}
