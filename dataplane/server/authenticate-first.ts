import type { RequestHandler } from 'express';
import type { RouteConfig } from '../config/snapshot.js';
import { unauthenticated } from '../governance/identity/authenticator.js';
import type { Caller } from '../core/caller.js';
import { setEarlyIdentity } from './early-identity.js';
import { checkServing, identify, type ProxyDeps } from './proxy-handler.js';

/**
 * An anonymous caller (no credential, or one that did not verify) may only use routes open to
 * anonymous callers; when the snapshot has none, the request is refused before its body is read.
 */
function refusedWithoutRoute(caller: Caller, routes: readonly RouteConfig[]): Error | undefined {
  if (caller.kind !== 'anonymous' || routes.some((r) => r.access.anonymous)) return undefined;
  return unauthenticated(caller.invalidCredential ?? 'this gateway requires a ServiceAccount token or an API key');
}

/**
 * Runs before the body is read: a draining or unready pod, a credential that cannot be verified
 * now, and a caller no route could admit are answered without reading (or holding) a byte of the
 * body. The request then finishes on the snapshot that authenticated it.
 */
export function authenticateFirst(deps: ProxyDeps): RequestHandler {
  return async (req, res, next) => {
    checkServing(deps);
    const runtime = deps.store.current;
    if (runtime === undefined) return next();
    const caller = await identify(deps, req, runtime.apiKeys);
    if (deps.auth !== undefined) {
      const refused = refusedWithoutRoute(caller, runtime.snapshot.routes);
      if (refused !== undefined) return next(refused);
    }
    setEarlyIdentity(res, { runtime, caller });
    next();
  };
}
