import type { RouteConfig } from './snapshot.js';

/**
 * Whether an API key of namespace `ns` may be admitted by the labels of its Secret on `route`: those
 * labels are whatever that namespace wrote, so only the route's own namespace and the ones its access
 * names (apiKeys.namespaces) are taken at their word; any other could label a key to match.
 */
export function keyNamespaceTrusted(ns: string, route: RouteConfig): boolean {
  return ns === route.namespace || (route.access.apiKeyNamespaces?.includes(ns) ?? false);
}
