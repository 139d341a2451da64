import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import type { InboundDialect, InboundRequest } from '../inbound/inbound-dialect.js';
import { RequestContext } from '../pipeline/request-context.js';
import { reportTo } from '../pipeline/report-to.js';
import type { StageChain } from '../pipeline/stage.js';
import { ClientLink } from '../routing/client-link.js';
import { ClientGone } from '../routing/router.js';
import type { RequestTelemetry } from '../telemetry/gateway-observer.js';
import type { ByteBudget } from '../core/byte-budget.js';
import { readJsonBody, type RequestBodyLimits } from './body/json-body.js';
import { errors } from '../core/gateway-error.js';
import { headerOf } from './request-headers.js';
import { sendError } from './send-error.js';
import type { LiveStreams } from './live-streams.js';
import { answerAtDrain, type DrainEnded } from './unanswered.js';
import { writeReply } from './write-reply.js';

export interface InboundEndpointDeps {
  store: SnapshotStore;
  logger: Logger;
  bodyLimits: RequestBodyLimits;
  /** Bytes of request bodies the process holds, shared by every request (bodyLimits.maxInflightBodyBytes). */
  bodyBudget: ByteBudget;
  /** The streams being written, cut with an error event when a drain ends. */
  liveStreams?: LiveStreams;
}

/** A refusal after a route was matched still says which route (and rule) refused it; the router's own errors add the provider tried. */
function routingHeaders(ctx: RequestContext): Record<string, string> {
  const headers: Record<string, string> = {};
  if (ctx.route !== undefined) headers['x-tollgate-route'] = ctx.route.config.id;
  if (ctx.decision !== undefined) headers['x-tollgate-rule'] = ctx.decision.rule;
  return headers;
}

/**
 * One inference endpoint: a request in `dialect` runs through `stages` on the snapshot current when
 * it arrived; its answer (or error) is written back in the same dialect.
 */
export function inboundEndpoint(deps: InboundEndpointDeps, stages: StageChain, dialect: InboundDialect) {
  // Not an async function: its frame, suspended in `await stages.run(ctx)`, would be held for as
  // long as a stream is (a generator, its registers and two await closures per held stream).
  return (req: IncomingMessage, res: ServerResponse, telemetry: RequestTelemetry, requestId: string): Promise<void> | undefined => {
    // Readiness is checked first. A draining pod still answers what reaches it on open connections
    // (with `connection: close`), see Dataplane.shutdown.
    const runtime = deps.store.current;
    if (runtime === undefined) {
      sendError(res, errors.notReady(), deps.logger, dialect.errorBody);
      return undefined;
    }
    const client = new ClientLink();
    // 'close' comes once: a plain listener spares the once-wrapper and its removal.
    res.on('close', () => {
      if (!res.writableFinished) client.abort(new ClientGone());
    });
    let inbound: InboundRequest | undefined;
    const ctx = new RequestContext({
      runtime,
      requestId,
      header: (name) => headerOf(req, name),
      client,
      attempts: telemetry,
      trace: telemetry,
      cacheable: dialect.cacheable,
      readRequest: () =>
        readJsonBody(req, res, deps.bodyLimits, deps.bodyBudget).then((body) => {
          inbound = dialect.parse(body, Math.floor(Date.now() / 1000), (name) => headerOf(req, name));
          return inbound.request;
        }),
      respond: (c) => (inbound === undefined ? Promise.resolve() : writeReply(res, c, inbound, deps.liveStreams)),
    });
    reportTo(ctx.events, telemetry);
    // Also how the request is answered when the drain ends before it was (`drain`: found through
    // its connection then, see unanswered.ts), so that no closure more is made per request.
    const refuse = (err: unknown, drain?: DrainEnded): void => {
      if (drain === undefined) {
        sendError(res, err, deps.logger, dialect.errorBody, routingHeaders(ctx));
        return;
      }
      if (res.headersSent || res.destroyed) return;
      // Told to retry rather than reset. Its attempt goes on (a non-streaming one is read to its
      // end to be metered) until the shutdown cuts it, and its history waits for what it is charged.
      telemetry.cutShort();
      client.abort(err instanceof Error ? err : new Error(String(err)));
      // Its connection closes once the answer has left (the drain waits for that), not reset.
      res.setHeader('connection', 'close');
      sendError(res, err, deps.logger, dialect.errorBody, routingHeaders(ctx));
      const release = (): void => telemetry.released();
      if (handled === undefined) release();
      else void handled.then(release, release);
    };
    answerAtDrain(res, refuse);
    let handled: Promise<void> | undefined;
    let running: Promise<void>;
    try {
      running = stages.run(ctx);
    } catch (err) {
      refuse(err);
      return undefined;
    }
    handled = running.catch(refuse);
    return handled;
  };
}
