import type { Response } from 'express';
import type { StreamMeter } from '../metering/stream-meter.js';
import { SSE_DONE, sseData } from '../sse/sse-writer.js';
import { GatewayError } from '../core/gateway-error.js';
import { pumpStream, type StreamDialect, type StreamOutcome } from './stream-pump.js';

export { StreamIdleTimeout } from './stream-pump.js';

/** OpenAI Chat/Completions streaming: data-only SSE, `[DONE]` at the end, `{"error":…}` in band. */
const openAiDialect: StreamDialect = {
  chunk: (chunk) => sseData(chunk),
  end: () => SSE_DONE,
  // A GatewayError is the gateway's own verdict (a guardrail's block): written as it is.
  failure: (failure) =>
    sseData((failure instanceof GatewayError ? failure : new GatewayError(502, 'upstream_stream_error', 'server_error', `upstream stream failed: ${failure.message}`)).toBody()),
  cut: (reason) => sseData(new GatewayError(429, 'budget_exceeded', 'insufficient_quota', reason).toBody()),
};

/** Writes a started stream to an OpenAI client. */
export function writeStream(res: Response, outcome: StreamOutcome, headers: Record<string, string>, idleMs: number, meter: StreamMeter): Promise<void> {
  return pumpStream(res, outcome, headers, idleMs, meter, openAiDialect);
}
