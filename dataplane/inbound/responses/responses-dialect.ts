import { GatewayError } from '../../core/gateway-error.js';
import { sseEvent } from '../../sse/sse-writer.js';
import { type InboundDialect, type InboundRequest, type StreamEncoder, StreamIdleTimeout } from '../inbound-dialect.js';
import { type ResponsesEcho, toCanonicalRequest } from './responses-request.js';
import { toResponseObject } from './responses-response.js';
import { type ResponsesEvent, ResponsesStreamEncoder } from './responses-stream.js';

const text = (events: ResponsesEvent[]): string => events.map((e) => sseEvent(e.event, e.data)).join('');

/** Canonical chunks → typed Responses events (named SSE events, no `[DONE]`); a failure after the first byte is `error` + `response.failed`. */
function responsesStream(echo: ResponsesEcho, createdAt: number): StreamEncoder {
  const encoder = new ResponsesStreamEncoder(echo, createdAt);
  return {
    chunk: (chunk) => text(encoder.chunk(chunk)),
    usage: (usage) => encoder.reportUsage(usage),
    end: () => text(encoder.end()),
    // A GatewayError is the gateway's own verdict (a guardrail's block): its code and message as they are.
    failure: (failure) =>
      failure instanceof GatewayError && (failure.code === 'guardrail_blocked' || failure.code === 'guardrail_unavailable')
        ? text(encoder.fail(failure.code, failure.message))
        : text(encoder.fail('server_error', failure instanceof StreamIdleTimeout ? failure.message : `upstream stream failed: ${failure.message}`)),
    cut: (reason) => text(encoder.fail('rate_limit_exceeded', reason)),
  };
}

/**
 * POST /v1/responses: the OpenAI Responses API in front of any route. The request becomes a
 * canonical (chat) request, is routed, retried, failed over, limited and metered like
 * /v1/chat/completions, and the answer is translated back (a Response object, or typed events).
 */
export const responsesDialect: InboundDialect = {
  name: 'openai-responses',
  // Entries are kept in canonical form; Responses answers are not served from the cache.
  cacheable: false,
  parse(body, createdAt): InboundRequest {
    const { canonical, echo } = toCanonicalRequest(body, createdAt);
    return {
      request: canonical,
      responseBody: (upstream, usage) => toResponseObject(upstream, { createdAt, echo }, usage),
      streamEncoder: () => responsesStream(echo, createdAt),
    };
  },
  errorBody: (err) => err.toBody(),
};
