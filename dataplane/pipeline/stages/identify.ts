import type { RouteConfig } from '../../config/snapshot.js';
import { type Authenticator, unauthenticated } from '../../governance/identity/authenticator.js';
import type { Caller } from '../../core/caller.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * An anonymous caller (no credential, or one that did not verify) may only use routes open to
 * anonymous callers; when the snapshot has none, the request is refused before its body is read.
 */
export function refusedWithoutRoute(caller: Caller, routes: readonly RouteConfig[]): Error | undefined {
  if (caller.kind !== 'anonymous' || routes.some((r) => r.access.anonymous)) return undefined;
  return unauthenticated(caller.invalidCredential ?? 'this gateway requires a ServiceAccount token or an API key');
}

/**
 * Who is calling, from the headers alone (runs before the body is read): a ServiceAccount token, an
 * API key, or anonymous (always anonymous without `auth`). A credential that cannot be verified now,
 * and a caller no route could admit, are answered without reading a byte of the body.
 */
export function identify(auth: Authenticator | undefined): Stage {
  if (auth === undefined) {
    // Without identity every caller is anonymous: nothing to wait for.
    return {
      name: 'identify',
      run(ctx, next) {
        ctx.events.emit('caller', ctx.caller);
        return next();
      },
    };
  }
  const identified = (ctx: RequestContext, caller: Caller, next: () => Promise<void>): Promise<void> => {
    ctx.caller = caller;
    const refused = refusedWithoutRoute(caller, ctx.runtime.snapshot.routes);
    if (refused !== undefined) throw refused;
    ctx.events.emit('caller', caller);
    return next();
  };
  return {
    name: 'identify',
    // Not async: an API key (or no credential) is known at once, so only a ServiceAccount token,
    // which waits for its review, costs a promise here. Errors still reach the caller as a rejection.
    run(ctx, next) {
      try {
        const found = auth.authenticateNow(ctx.header, ctx.runtime.apiKeys);
        return found instanceof Promise ? found.then((caller) => identified(ctx, caller, next)) : identified(ctx, found, next);
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}
