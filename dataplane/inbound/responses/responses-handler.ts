import type { Request, RequestHandler, Response } from 'express';
import { costUsd } from '../../metering/cost.js';
import { responseUsage } from '../../metering/settled-usage.js';
import { StreamMeter } from '../../metering/stream-meter.js';
import { checkServing, type ProxyDeps, recordUsage, routeCanonical } from '../../server/proxy-handler.js';
import { toCanonicalRequest } from './responses-request.js';
import { toResponseObject } from './responses-response.js';
import { writeResponsesStream } from './responses-stream-writer.js';

/**
 * POST /v1/responses: the OpenAI Responses API in front of any route. The request becomes a
 * canonical (chat) request, is routed, retried, failed over, limited and metered like
 * /v1/chat/completions, and the answer is translated back (a Response object, or typed events).
 */
export function responsesHandler(deps: ProxyDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    checkServing(deps);
    const createdAt = Math.floor(Date.now() / 1000);
    const { canonical, echo } = toCanonicalRequest(req.body, createdAt);
    const routed = await routeCanonical(deps, req, res, canonical);
    // /v1/responses does not use the response cache (routeCanonical is called without it).
    if (routed === undefined || 'cached' in routed) return;
    const { route, outcome, headers } = routed;

    if (outcome.kind === 'response') {
      const metered = responseUsage(outcome.usage, outcome.body, routed.promptTokens);
      const rec = recordUsage(deps, routed, canonical, metered);
      if (res.destroyed) return;
      headers['x-tollgate-cost-usd'] = rec.costUsd.toFixed(8);
      res.status(200).set(headers).json(toResponseObject(outcome.body, { createdAt, echo }, metered.usage));
      return;
    }
    const meter = new StreamMeter(routed.promptTokens);
    meter.guard = (soFar) => routed.overBudget({ usage: soFar, costUsd: costUsd(soFar, outcome.target.pricing) });
    try {
      await writeResponsesStream(res, outcome, headers, route.timeouts.streamIdleMs, meter, { echo, createdAt });
    } finally {
      recordUsage(deps, routed, canonical, meter.result());
    }
  };
}
