import type { Response } from 'express';
import type { StreamMeter } from '../../metering/stream-meter.js';
import { pumpStream, StreamIdleTimeout, type StreamOutcome } from '../../server/stream-pump.js';
import { sseEvent } from '../../sse/sse-writer.js';
import type { ResponsesEcho } from './responses-request.js';
import { type ResponsesEvent, ResponsesStreamEncoder } from './responses-stream.js';

const text = (events: ResponsesEvent[]): string => events.map((e) => sseEvent(e.event, e.data)).join('');

/**
 * Writes a started stream as typed Responses events (named SSE events, no `[DONE]`). Same pump as
 * the other dialects: idle timeout, metering, budget cut; a failure after the first byte becomes
 * `error` + `response.failed`.
 */
export function writeResponsesStream(res: Response, outcome: StreamOutcome, headers: Record<string, string>, idleMs: number, meter: StreamMeter, request: { echo: ResponsesEcho; createdAt: number }): Promise<void> {
  const encoder = new ResponsesStreamEncoder(request.echo, request.createdAt);
  return pumpStream(res, outcome, headers, idleMs, meter, {
    chunk: (chunk) => text(encoder.chunk(chunk)),
    usage: (usage) => encoder.reportUsage(usage),
    end: () => text(encoder.end()),
    failure: (failure) => text(encoder.fail('server_error', failure instanceof StreamIdleTimeout ? failure.message : `upstream stream failed: ${failure.message}`)),
    cut: (reason) => text(encoder.fail('rate_limit_exceeded', reason)),
  });
}
