import { once } from 'node:events';
import type { Response } from 'express';
import type { StreamMeter } from '../../metering/stream-meter.js';
import type { JsonObject, StreamStep, UpstreamFailure } from '../../providers/types.js';
import type { RouteOutcome } from '../../routing/router.js';
import { sseEvent } from '../../sse/sse-writer.js';
import { StreamIdleTimeout } from '../../server/write-stream.js';
import type { AnthropicEvent } from './messages-stream.js';
import { MessagesStreamEncoder } from './messages-stream.js';

type StreamOutcome = Extract<RouteOutcome, { kind: 'stream' }>;

async function write(res: Response, events: AnthropicEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (res.write(events.map((e) => sseEvent(e.event, e.data)).join(''))) return;
  await Promise.race([once(res, 'drain'), once(res, 'close')]);
}

function errorEvent(failure: UpstreamFailure | Error): AnthropicEvent {
  const type = !(failure instanceof Error) && failure.kind === 'RateLimited' ? 'rate_limit_error' : failure instanceof StreamIdleTimeout ? 'timeout_error' : 'api_error';
  return { event: 'error', data: { type: 'error', error: { type, message: `upstream stream failed: ${failure.message}` } } };
}

/**
 * Writes a started stream as Anthropic SSE events: the canonical chunks go through the encoder;
 * after the first byte a failure becomes an `error` event and the stream closes. Same idle timeout
 * and metering as the OpenAI stream writer.
 */
export async function writeMessagesStream(
  res: Response,
  outcome: StreamOutcome,
  headers: Record<string, string>,
  idleMs: number,
  meter: StreamMeter,
  model: string,
  stopSequences: readonly string[] = [],
): Promise<void> {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const encoder = new MessagesStreamEncoder(model, stopSequences);
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => outcome.abort(new StreamIdleTimeout(idleMs)), idleMs);
  };

  const emit = async (step: StreamStep): Promise<'continue' | 'stop'> => {
    for (const chunk of step.chunks) {
      meter.observe(chunk as JsonObject);
      await write(res, encoder.chunk(chunk));
    }
    if (step.usage !== undefined) {
      meter.report(step.usage);
      encoder.reportUsage(step.usage);
    }
    if (step.failure !== undefined) {
      await write(res, [errorEvent(step.failure)]);
      return 'stop';
    }
    if (step.done === true) {
      await write(res, encoder.end());
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
        await write(res, encoder.end());
        break;
      }
      arm();
      state = await emit(next.value);
    }
  } catch (err) {
    if (!res.destroyed) {
      const reason = err instanceof Error && err.name === 'AbortError' && err.cause instanceof Error ? err.cause : err;
      await write(res, [errorEvent(reason instanceof Error ? reason : new Error(String(reason)))]).catch(() => undefined);
    }
  } finally {
    clearTimeout(timer);
    outcome.release();
    await outcome.rest.return(undefined).catch(() => undefined);
    res.end();
  }
}
