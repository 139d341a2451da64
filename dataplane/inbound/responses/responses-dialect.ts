import type { UpstreamFailure } from '../../core/canonical.js';
import { GatewayError } from '../../core/gateway-error.js';
import { sseEvent } from '../../sse/sse-writer.js';
import { type InboundDialect, type InboundRequest, type StreamEncoder, StreamIdleTimeout } from '../inbound-dialect.js';
import { type ResponsesEcho, toCanonicalRequest } from './responses-request.js';
import { isResponsesEvent, ResponsesRelay } from './responses-relay.js';
import { toResponseObject } from './responses-response.js';
import { type ResponsesEvent, ResponsesStreamEncoder } from './responses-stream.js';

const text = (events: ResponsesEvent[]): string => events.map((e) => sseEvent(e.event, e.data)).join('');

/** What an upstream's event type may be to be written as an SSE event name: visible ASCII, as OpenAI's (`response.output_text.delta`) are. */
const EVENT_NAME = /^[\x21-\x7e]{1,256}$/;

type FailureCode = 'server_error' | 'rate_limit_exceeded' | 'guardrail_blocked' | 'guardrail_unavailable';

/** A GatewayError is the gateway's own verdict (a guardrail's block): its code and message as they are. */
function failureOf(failure: UpstreamFailure | Error): { code: FailureCode; message: string } {
  if (failure instanceof GatewayError && (failure.code === 'guardrail_blocked' || failure.code === 'guardrail_unavailable')) return { code: failure.code, message: failure.message };
  // The gateway's own reasons (an idle timeout, a drain that ended) in its words; an upstream's failure says so.
  return { code: 'server_error', message: failure instanceof StreamIdleTimeout || failure instanceof GatewayError ? failure.message : `upstream stream failed: ${failure.message}` };
}

/**
 * Canonical chunks → typed Responses events (named SSE events, no `[DONE]`); a failure after the
 * first byte is `error` + `response.failed`. A native target's events are relayed as they came.
 */
function responsesStream(echo: ResponsesEcho, createdAt: number, maxKeptBytes: number): StreamEncoder {
  const encoder = new ResponsesStreamEncoder(echo, createdAt);
  let relay: ResponsesRelay | undefined;
  let finished = false;
  const fail = (code: FailureCode, message: string): string => text(relay === undefined ? encoder.fail(code, message) : relay.fail(code, message));
  return {
    get finished() {
      return finished;
    },
    chunk: (chunk, raw) => {
      if (finished) return '';
      if (relay === undefined && !isResponsesEvent(chunk)) {
        const events = text(encoder.chunk(chunk));
        // The terminal event holds the whole answer, so the encoder keeps it: no more of it than a
        // route's answer may be, or a tenant's endless stream would take the process's heap.
        if (encoder.keptChars <= maxKeptBytes) return events;
        finished = true;
        return events + fail('server_error', `the answer passed the route's limit of ${maxKeptBytes} bytes (limits.maxResponseBytes)`);
      }
      relay ??= new ResponsesRelay();
      const event = relay.event(chunk);
      // The upstream's type becomes the SSE event name: a line break in it started events the
      // gateway never read (so never guarded, recorded or metered) in the client's stream.
      if (!EVENT_NAME.test(event.event)) {
        finished = true;
        return fail('server_error', 'upstream stream failed: it sent an event whose type is not an event name');
      }
      return raw === undefined ? sseEvent(event.event, event.data) : `event: ${event.event}\ndata: ${raw}\n\n`;
    },
    usage: (usage) => encoder.reportUsage(usage),
    // A native stream's own terminal event has been written.
    end: () => (relay === undefined && !finished ? text(encoder.end()) : ''),
    failure: (failure) => {
      if (finished) return '';
      const { code, message } = failureOf(failure);
      return fail(code, message);
    },
    cut: (reason) => (finished ? '' : fail('rate_limit_exceeded', reason)),
  };
}

/**
 * POST /v1/responses: the OpenAI Responses API in front of any route. The request becomes a
 * canonical (chat) request, is routed, retried, failed over, limited and metered like
 * /v1/chat/completions, and the answer is translated back (a Response object, or typed events);
 * targets that serve the Responses API natively get the client's request and answer as they are.
 */
export const responsesDialect: InboundDialect = {
  name: 'openai-responses',
  // Entries are kept in canonical form; Responses answers are not served from the cache.
  cacheable: false,
  parse(body, createdAt): InboundRequest {
    const { canonical, echo } = toCanonicalRequest(body, createdAt);
    return {
      request: canonical,
      // A native target's Response object is the answer as it is.
      responseBody: (upstream, usage) => (upstream.object === 'response' ? upstream : toResponseObject(upstream, { createdAt, echo }, usage)),
      streamEncoder: (maxKeptBytes) => responsesStream(echo, createdAt, maxKeptBytes),
    };
  },
  errorBody: (err) => err.toBody(),
};
