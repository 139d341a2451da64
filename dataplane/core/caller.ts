/** Who is calling, as far as the gateway could verify. */
export interface Caller {
  kind: 'serviceaccount' | 'apikey' | 'anonymous';
  /** ServiceAccount namespace, or the namespace of the API key's Secret. */
  namespace?: string;
  /** ServiceAccount name, or the API key Secret's name. */
  name?: string;
  /** Labels of the API key Secret. */
  labels?: Record<string, string>;
  /**
   * Set when a credential was presented but is not valid. Such a caller is anonymous: routes open to
   * anonymous callers serve it (SDKs insist on sending some key), every other route answers 401 with this.
   */
  invalidCredential?: string;
  /** Stable identity for limit, budget and cache keys: "sa:<ns>/<name>", "key:<ns>/<name>" or "anonymous". */
  id: string;
}

export const ANONYMOUS: Caller = { kind: 'anonymous', id: 'anonymous' };

/**
 * The namespace a caller counts as on a route, for policies keyed by namespace: its own, or for an
 * anonymous caller (which has none) the route's, the namespace that opened the route to it.
 * Otherwise a team could escape the platform's namespace policies on its own routes by calling them
 * without a credential.
 */
export function namespaceOnRoute(caller: Pick<Caller, 'kind' | 'namespace'>, routeId: string | undefined): string | undefined {
  if (caller.kind !== 'anonymous') return caller.namespace;
  if (routeId === undefined) return undefined;
  const slash = routeId.indexOf('/');
  return slash < 0 ? undefined : routeId.slice(0, slash);
}
