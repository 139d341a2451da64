import { once } from 'node:events';
import type { Response } from 'express';
import type { JsonObject, StreamStep, UpstreamFailure } from '../providers/types.js';
import type { RouteOutcome } from '../routing/router.js';
import { StreamMeter } from '../metering/stream-meter.js';
import { SSE_DONE, sseData } from '../sse/sse-writer.js';
import { GatewayError } from './gateway-error.js';

type StreamOutcome = Extract<RouteOutcome, { kind: 'stream' }>;

export class StreamIdleTimeout extends Error {
  constructor(readonly ms: number) {
    super(`upstream sent nothing for ${ms} ms`);
    this.name = 'StreamIdleTimeout';
  }
}

async function write(res: Response, text: string): Promise<void> {
  if (res.write(text)) return;
  // Slow client: wait for the socket to drain instead of buffering the whole stream in memory.
  await Promise.race([once(res, 'drain'), once(res, 'close')]);
}

function errorEvent(failure: UpstreamFailure | Error): string {
  const message = failure instanceof Error ? failure.message : failure.message;
  const err = new GatewayError(502, 'upstream_stream_error', 'server_error', `upstream stream failed: ${message}`);
  return sseData(err.toBody());
}

/**
 * Writes a started stream to the client: first the steps the router already read, then the rest,
 * with an idle timeout between chunks. After the first byte nothing is retried; a failure becomes
 * an SSE error event and the stream closes. Resolves with what to meter.
 */
export async function writeStream(
  res: Response,
  outcome: StreamOutcome,
  headers: Record<string, string>,
  idleMs: number,
  meter: StreamMeter,
): Promise<void> {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => outcome.abort(new StreamIdleTimeout(idleMs)), idleMs);
  };

  const emit = async (step: StreamStep): Promise<'continue' | 'stop'> => {
    for (const chunk of step.chunks) {
      meter.observe(chunk as JsonObject);
      await write(res, sseData(chunk));
      if (meter.cutReason !== undefined) {
        const cut = new GatewayError(429, 'budget_exceeded', 'insufficient_quota', meter.cutReason);
        await write(res, sseData(cut.toBody()));
        return 'stop';
      }
    }
    if (step.usage !== undefined) meter.report(step.usage);
    if (step.failure !== undefined) {
      await write(res, errorEvent(step.failure));
      return 'stop';
    }
    if (step.done === true) {
      meter.complete();
      await write(res, SSE_DONE);
      return 'stop';
    }
    return 'continue';
  };

  try {
    let state: 'continue' | 'stop' = 'continue';
    for (const step of outcome.first) {
      state = await emit(step);
      if (state === 'stop') break;
    }
    arm();
    while (state === 'continue' && !res.destroyed) {
      const next = await outcome.rest.next();
      if (next.done === true) {
        meter.complete();
      await write(res, SSE_DONE);
        break;
      }
      arm();
      state = await emit(next.value);
    }
  } catch (err) {
    if (!res.destroyed) {
      const reason = err instanceof Error && err.name === 'AbortError' && err.cause instanceof Error ? err.cause : err;
      await write(res, errorEvent(reason instanceof Error ? reason : new Error(String(reason)))).catch(() => undefined);
    }
  } finally {
    clearTimeout(timer);
    outcome.release();
    // Stop reading an upstream the client no longer wants.
    await outcome.rest.return(undefined).catch(() => undefined);
    res.end();
  }
}
