import { ClientGone, NOTHING_HELD, type RouteOutcome, type Router } from '../../routing/router.js';
import { upstreamAttempts } from '../../routing/route-errors.js';
import type { UsageSink } from '../../metering/usage-record.js';
import type { Stage } from '../stage.js';
import { chargeLostAttempts } from './meter.js';
import { UPSTREAM_REQUEST_ID_HEADER } from '../../upstream/upstream-request-id.js';

/**
 * Sends the request upstream (route decision's targets, retries, failover). Throws a GatewayError
 * when nothing served it; ends the request quietly when the client left first.
 */
export function serve(router: Router, sink: UsageSink): Stage {
  return {
    name: 'serve',
    async run(ctx, next) {
      const route = ctx.routeConfig;
      let outcome: RouteOutcome;
      try {
        outcome = await router.serve(ctx.runtime, route, ctx.request, ctx.client, ctx.decision, ctx.attempts, ctx);
      } catch (err) {
        if (!(err instanceof ClientGone)) {
          // Nothing served, but an upstream may have billed an attempt: charged before the refusal.
          chargeLostAttempts(ctx, sink);
          throw err;
        }
        // The client left while an upstream was already working on the request: meter charges the prompt estimate.
        if (err.reached !== undefined) {
          ctx.served = { target: err.reached, outcome: undefined, sentAt: err.sentAt };
          return next();
        }
        // It left before a retry or the refusal: the attempts an upstream may have billed (timed out
        // after sending, an answer too large to read) are charged all the same. Before, they were not.
        chargeLostAttempts(ctx, sink);
        return;
      }
      const attempts = upstreamAttempts(outcome.attempts);
      ctx.served = { target: outcome.target, outcome };
      const upstreamId = outcome.upstreamRequestId;
      ctx.events.emit('served', { target: outcome.target, attempts, upstreamRequestId: upstreamId });
      // Set one by one: no object literal per request to copy them from.
      const headers = ctx.headers;
      headers['x-request-id'] = ctx.requestId;
      headers['x-tollgate-route'] = route.id;
      headers['x-tollgate-rule'] = ctx.decision?.rule ?? '';
      headers['x-tollgate-provider'] = outcome.target.providerId;
      headers['x-tollgate-model'] = outcome.target.model;
      headers['x-tollgate-attempts'] = String(attempts);
      if (upstreamId !== undefined) headers[UPSTREAM_REQUEST_ID_HEADER] = upstreamId;
      if (outcome.kind !== 'stream') {
        // A large answer holds its bytes of the process's budget until its reply has been written
        // (parsed value, upstream text and reply live until then); any other holds nothing, and
        // goes on without a cleanup to run (no closure, no promise: the ordinary request's path).
        if (outcome.release === NOTHING_HELD) return next();
        const held = outcome.release;
        return afterwards(next, async () => held());
      }
      // Returned, not awaited: this frame would otherwise stay suspended for as long as the stream is held.
      // The write-back releases the stream when it ends; this is the backstop if it never starts (a
      // stream's release acts once).
      const stream = outcome;
      return afterwards(next, async () => {
        stream.release();
        await stream.rest.return(undefined).catch(() => undefined);
      });
    },
  };
}

/** `try { await next() } finally { await cleanup() }`, without a frame that waits for next(). */
function afterwards(next: () => Promise<void>, cleanup: () => Promise<void>): Promise<void> {
  let running: Promise<void>;
  try {
    running = next();
  } catch (err) {
    return cleanup().then(() => Promise.reject(err));
  }
  return running.then(cleanup, (err: unknown) => cleanup().then(() => Promise.reject(err)));
}
