import { ClientGone, type RouteOutcome, type Router } from '../../routing/router.js';
import { upstreamAttempts } from '../../routing/route-errors.js';
import type { Stage } from '../stage.js';

/**
 * Sends the request upstream (route decision's targets, retries, failover). Throws a GatewayError
 * when nothing served it; ends the request quietly when the client left first.
 */
export function serve(router: Router): Stage {
  return {
    name: 'serve',
    async run(ctx, next) {
      const route = ctx.routeConfig;
      let outcome: RouteOutcome;
      try {
        outcome = await router.serve(ctx.runtime, route, ctx.request, ctx.client, ctx.decision, ctx.attempts);
      } catch (err) {
        if (!(err instanceof ClientGone)) throw err;
        // The client left while an upstream was already working on the request: meter charges the prompt estimate.
        if (err.reached !== undefined) {
          ctx.served = { target: err.reached, outcome: undefined };
          return next();
        }
        return;
      }
      if (outcome.kind === 'stream') {
        // The write-back releases the stream when it ends; this is the backstop if it never starts.
        const release = outcome.release;
        let released = false;
        outcome = { ...outcome, release: () => (released ? undefined : ((released = true), release())) };
      }
      const attempts = upstreamAttempts(outcome.attempts);
      ctx.served = { target: outcome.target, outcome };
      ctx.events.emit('served', { target: outcome.target, attempts });
      // Set one by one: no object literal per request to copy them from.
      const headers = ctx.headers;
      headers['x-request-id'] = ctx.requestId;
      headers['x-tollgate-route'] = route.id;
      headers['x-tollgate-rule'] = ctx.decision?.rule ?? '';
      headers['x-tollgate-provider'] = outcome.target.providerId;
      headers['x-tollgate-model'] = outcome.target.model;
      headers['x-tollgate-attempts'] = String(attempts);
      try {
        await next();
      } finally {
        if (outcome.kind === 'stream') {
          outcome.release();
          await outcome.rest.return(undefined).catch(() => undefined);
        }
      }
    },
  };
}
