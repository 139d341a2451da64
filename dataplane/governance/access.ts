import { keyNamespaceTrusted } from '../config/api-key-trust.js';
import { matchesSelector, namespaceLabels } from '../config/label-selector.js';
import type { RouteConfig, Snapshot } from '../config/snapshot.js';
import { GatewayError } from '../core/gateway-error.js';
import type { Caller } from '../core/caller.js';
import { unauthenticated } from './identity/authenticator.js';

/** Whether `caller` may use `route`, by the route's access rules. */
export function mayCall(caller: Caller, route: RouteConfig, namespaces: Snapshot['namespaces']): boolean {
  const access = route.access;
  // A route open to anonymous callers is open to identified ones too.
  if (access.anonymous || caller.kind === 'anonymous') return access.anonymous;
  const ns = caller.namespace ?? '';
  if (caller.kind === 'serviceaccount' && access.serviceAccounts.includes(`${ns}/${caller.name ?? ''}`)) return true;
  if (caller.kind === 'apikey' && access.apiKeySelector !== undefined && keyNamespaceTrusted(ns, route) && matchesSelector(access.apiKeySelector, caller.labels ?? {})) return true;
  switch (access.namespaces.from) {
    case 'All':
      return true;
    case 'Same':
      return ns === route.namespace;
    case 'Selector':
      return matchesSelector(access.namespaces.selector ?? {}, namespaceLabels(namespaces, ns));
  }
}

/**
 * 401 when the caller brought no credential, 403 when it did but may not use the route. The route
 * (namespace/name) is named only to a caller of its own namespace, which owns it; any other caller
 * is told the public model it asked for. Before, a refusal named another namespace's route to
 * whoever asked for its model: its namespace and name, which the model list and the objects'
 * statuses keep from other tenants.
 */
export function accessDenied(caller: Caller, route: RouteConfig): GatewayError {
  const what = caller.namespace !== undefined && caller.namespace === route.namespace ? `route ${route.id} (model ${route.model})` : `model ${route.model}`;
  if (caller.invalidCredential !== undefined) return unauthenticated(`${caller.invalidCredential} (${what})`);
  if (caller.kind === 'anonymous') return unauthenticated(`${what} requires a ServiceAccount token or an API key`);
  return new GatewayError(403, 'permission_denied', 'permission_error', `${caller.id} may not use ${what}`);
}
