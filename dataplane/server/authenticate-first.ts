import type { RequestHandler } from 'express';
import { setEarlyIdentity } from './early-identity.js';
import { checkServing, identify, type ProxyDeps } from './proxy-handler.js';

/**
 * Runs before the body is read: a draining or unready pod, and a caller with a bad credential, are
 * answered without reading (or holding) a byte of the body. The request then finishes on the
 * snapshot that authenticated it.
 */
export function authenticateFirst(deps: ProxyDeps): RequestHandler {
  return async (req, res, next) => {
    checkServing(deps);
    const runtime = deps.store.current;
    if (runtime === undefined) return next();
    setEarlyIdentity(res, { runtime, caller: await identify(deps, req, runtime.snapshot.apiKeys) });
    next();
  };
}
