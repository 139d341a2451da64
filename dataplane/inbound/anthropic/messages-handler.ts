import { costUsd } from '../../metering/cost.js';
import type { Request, RequestHandler, Response } from 'express';
import { StreamMeter } from '../../metering/stream-meter.js';
import { responseUsage } from '../../metering/settled-usage.js';
import { checkServing, type ProxyDeps, recordUsage, routeCanonical } from '../../server/proxy-handler.js';
import { toAnthropicMessage } from './messages-response.js';
import { toCanonicalRequest } from './messages-request.js';
import { writeMessagesStream } from './messages-stream-writer.js';

/**
 * POST /v1/messages: the Anthropic Messages API in front of any route. The request becomes a
 * canonical (OpenAI) request, is routed, retried, failed over and metered like
 * /v1/chat/completions, and the answer is translated back (JSON or Anthropic SSE events).
 */
export function messagesHandler(deps: ProxyDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    checkServing(deps);
    const canonical = toCanonicalRequest(req.body, Math.floor(Date.now() / 1000));
    const model = String(canonical.body.model);
    const stopSequences = Array.isArray(canonical.body.stop) ? canonical.body.stop.filter((s): s is string => typeof s === 'string') : [];
    const routed = await routeCanonical(deps, req, res, canonical);
    // /v1/messages does not use the response cache (routeCanonical is called without it).
    if (routed === undefined || 'cached' in routed) return;
    const { route, requestId, outcome, headers } = routed;
    headers['request-id'] = requestId;

    if (outcome.kind === 'response') {
      const metered = responseUsage(outcome.usage, outcome.body, routed.promptTokens);
      const rec = recordUsage(deps, routed, canonical, metered);
      if (res.destroyed) return;
      headers['x-tollgate-cost-usd'] = rec.costUsd.toFixed(8);
      res.status(200).set(headers).json(toAnthropicMessage(outcome.body, model, { stopSequences, usage: metered.usage }));
      return;
    }
    const meter = new StreamMeter(routed.promptTokens);
    // A budget with cutStreams ends the stream when its cap is crossed, as on /v1/chat/completions.
    meter.guard = (soFar) => routed.overBudget({ usage: soFar, costUsd: costUsd(soFar, outcome.target.pricing) });
    try {
      await writeMessagesStream(res, outcome, headers, route.timeouts.streamIdleMs, meter, model, stopSequences);
    } finally {
      recordUsage(deps, routed, canonical, meter.result());
    }
  };
}
