import type { ServerResponse } from 'node:http';
import type { JsonObject } from '../core/canonical.js';
import type { InboundRequest } from '../inbound/inbound-dialect.js';
import type { RequestContext } from '../pipeline/request-context.js';
import { routeLimits } from '../config/route-limits.js';
import { sendJson } from './send-json.js';
import type { LiveStreams } from './live-streams.js';
import { pumpStream } from './stream-pump.js';
import { writeWithBackpressure } from './write-with-backpressure.js';

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const WRITTEN = Promise.resolve();

/** A cached stream, written at once (with backpressure). */
async function writeCachedStream(res: ServerResponse, chunks: readonly JsonObject[], headers: Record<string, string>, inbound: InboundRequest, stallMs: number, ctx: RequestContext): Promise<void> {
  const encoder = inbound.streamEncoder(routeLimits(ctx.routeConfig).maxResponseBytes, ctx.promptTokens);
  res.writeHead(200, { ...headers, ...SSE_HEADERS });
  for (const chunk of chunks) await writeWithBackpressure(res, encoder.chunk(chunk), stallMs);
  res.end(encoder.end());
}

/**
 * The one write-back path: the context's reply, in the client's dialect (JSON, a live stream, or a
 * cached answer). Resolves once written; a complete answer is written at once, without an async frame.
 */
export function writeReply(res: ServerResponse, ctx: RequestContext, inbound: InboundRequest, live?: LiveStreams): Promise<void> {
  const reply = ctx.reply;
  // Answered already: the drain ended first, and its client was told to retry (see inbound-endpoint.ts).
  if (reply === undefined || res.headersSent) return WRITTEN;
  const headers = inbound.headers === undefined ? ctx.headers : { ...ctx.headers, ...inbound.headers(ctx.requestId) };
  switch (reply.kind) {
    case 'response':
      // The client may have left while the upstream answered: it was metered all the same.
      if (!res.destroyed) sendJson(res, 200, headers, inbound.responseBody(reply.body, reply.usage));
      return WRITTEN;
    case 'stream':
      return pumpStream(res, reply.outcome, headers, reply.idleMs, reply.meter, inbound.streamEncoder(routeLimits(ctx.routeConfig).maxResponseBytes, ctx.promptTokens), live);
    case 'cached': {
      const { cached } = reply;
      if (cached.kind === 'stream') return writeCachedStream(res, cached.chunks, headers, inbound, ctx.routeConfig.timeouts.streamIdleMs, ctx);
      sendJson(res, 200, headers, cached.body);
      return WRITTEN;
    }
  }
}
