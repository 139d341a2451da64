import type { UpstreamFailure } from '../../core/canonical.js';
import { sseEvent } from '../../sse/sse-writer.js';
import { type InboundDialect, type InboundRequest, type StreamEncoder, StreamIdleTimeout } from '../inbound-dialect.js';
import { GatewayError } from '../../core/gateway-error.js';
import { anthropicErrorBody, anthropicErrorType } from './messages-errors.js';
import { toCanonicalRequest } from './messages-request.js';
import { toAnthropicMessage } from './messages-response.js';
import { type AnthropicEvent, MessagesStreamEncoder } from './messages-stream.js';

const text = (events: AnthropicEvent[]): string => events.map((e) => sseEvent(e.event, e.data)).join('');

function errorEvent(type: string, message: string): string {
  return sseEvent('error', { type: 'error', error: { type, message } });
}

function failureType(failure: UpstreamFailure | Error): string {
  if (!(failure instanceof Error) && failure.kind === 'RateLimited') return 'rate_limit_error';
  return failure instanceof StreamIdleTimeout ? 'timeout_error' : 'api_error';
}

/** Canonical chunks → Anthropic SSE events; after the first byte a failure is an `error` event. */
function messagesStream(model: string, stopSequences: readonly string[], estimatedInputTokens: number): StreamEncoder {
  const encoder = new MessagesStreamEncoder(model, stopSequences, estimatedInputTokens);
  return {
    chunk: (chunk) => text(encoder.chunk(chunk)),
    usage: (usage) => encoder.reportUsage(usage),
    earlyUsage: (usage) => encoder.reportEarlyUsage(usage),
    end: () => text(encoder.end()),
    // A GatewayError is the gateway's own verdict (a guardrail's block): its message as it is.
    failure: (failure) =>
      failure instanceof GatewayError ? errorEvent(anthropicErrorType(failure.status), failure.message) : errorEvent(failureType(failure), `upstream stream failed: ${failure.message}`),
    cut: (reason) => errorEvent('rate_limit_error', reason),
  };
}

/**
 * POST /v1/messages: the Anthropic Messages API in front of any route. The request becomes a
 * canonical (OpenAI) request, is routed, retried, failed over and metered like
 * /v1/chat/completions, and the answer is translated back (JSON or Anthropic SSE events).
 */
export const messagesDialect: InboundDialect = {
  name: 'anthropic-messages',
  // Entries are kept in canonical form; Messages answers are not served from the cache (yet).
  cacheable: false,
  parse(body, receivedAtSeconds, header): InboundRequest {
    const request = toCanonicalRequest(body, receivedAtSeconds, header?.('anthropic-beta'));
    const model = String(request.body.model);
    const stopSequences = Array.isArray(request.body.stop) ? request.body.stop.filter((s): s is string => typeof s === 'string') : [];
    return {
      request,
      responseBody: (upstream, usage) => toAnthropicMessage(upstream, model, { stopSequences, usage }),
      streamEncoder: (_maxKeptBytes, estimatedInputTokens) => messagesStream(model, stopSequences, estimatedInputTokens),
      headers: (requestId) => ({ 'request-id': requestId }),
    };
  },
  errorBody: anthropicErrorBody,
};
