import type { Response } from 'express';
import type { StreamMeter } from '../../metering/stream-meter.js';
import type { UpstreamFailure } from '../../core/canonical.js';
import { pumpStream, StreamIdleTimeout, type StreamOutcome } from '../../server/stream-pump.js';
import { sseEvent } from '../../sse/sse-writer.js';
import { GatewayError } from '../../core/gateway-error.js';
import { anthropicErrorType } from './messages-errors.js';
import type { AnthropicEvent } from './messages-stream.js';
import { MessagesStreamEncoder } from './messages-stream.js';

const text = (events: AnthropicEvent[]): string => events.map((e) => sseEvent(e.event, e.data)).join('');

function errorEvent(type: string, message: string): string {
  return sseEvent('error', { type: 'error', error: { type, message } });
}

function failureType(failure: UpstreamFailure | Error): string {
  if (!(failure instanceof Error) && failure.kind === 'RateLimited') return 'rate_limit_error';
  return failure instanceof StreamIdleTimeout ? 'timeout_error' : 'api_error';
}

/**
 * Writes a started stream as Anthropic SSE events: the canonical chunks go through the encoder;
 * after the first byte a failure becomes an `error` event and the stream closes. Same pump (idle
 * timeout, metering, cache, budget cut) as the OpenAI stream writer.
 */
export function writeMessagesStream(
  res: Response,
  outcome: StreamOutcome,
  headers: Record<string, string>,
  idleMs: number,
  meter: StreamMeter,
  model: string,
  stopSequences: readonly string[] = [],
): Promise<void> {
  const encoder = new MessagesStreamEncoder(model, stopSequences);
  return pumpStream(res, outcome, headers, idleMs, meter, {
    chunk: (chunk) => text(encoder.chunk(chunk)),
    usage: (usage) => encoder.reportUsage(usage),
    end: () => text(encoder.end()),
    // A GatewayError is the gateway's own verdict (a guardrail's block): its message as it is.
    failure: (failure) =>
      failure instanceof GatewayError ? errorEvent(anthropicErrorType(failure.status), failure.message) : errorEvent(failureType(failure), `upstream stream failed: ${failure.message}`),
    cut: (reason) => errorEvent('rate_limit_error', reason),
  });
}
