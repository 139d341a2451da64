import type { ServerResponse } from 'node:http';
import { type StreamEncoder, StreamIdleTimeout } from '../inbound/inbound-dialect.js';
import type { StreamMeter } from '../metering/stream-meter.js';
import type { StreamOutcome } from '../pipeline/request-context.js';
import type { JsonObject, StreamStep } from '../core/canonical.js';
import type { LiveStreams } from './live-streams.js';
import { writeWithBackpressure } from './write-with-backpressure.js';

/**
 * Node keeps a response's header block for as long as the response lives, as the tree of ~30
 * strings it was concatenated from (~1.5 KB); reading one character makes V8 flatten it in place,
 * so a held stream keeps one flat string instead.
 */
function flattenHeader(res: ServerResponse): void {
  const header: unknown = (res as unknown as { _header?: unknown })._header;
  if (typeof header === 'string') header.charCodeAt(0);
}

/**
 * Writes a started stream: first the steps the router already read, then the rest, with an idle
 * timeout between chunks. After the first byte nothing is retried; a failure ends the stream with
 * an error event. The meter sees every chunk (usage, cache, budget cut) whatever the dialect.
 */
export async function pumpStream(
  res: ServerResponse,
  outcome: StreamOutcome,
  headers: Record<string, string>,
  idleMs: number,
  meter: StreamMeter,
  dialect: StreamEncoder,
  live?: LiveStreams,
): Promise<void> {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  flattenHeader(res);
  // The headers leave with the first chunk, in one write (one packet, one wake-up of the client
  // before its first token); flushed alone only when the first steps wrote nothing.
  let wrote = false;
  const write = (out: ServerResponse, text: string): Promise<void> => {
    if (text !== '') wrote = true;
    return writeWithBackpressure(out, text, idleMs);
  };
  // A drain that ends cuts the stream as an idle timeout does: through the upstream read, so the
  // client gets the reason as the stream's error event.
  const untrack = live?.track((reason) => outcome.abort(reason));
  let timer: NodeJS.Timeout | undefined;
  // One timer per stream, pushed back on every chunk (refresh() costs far less than a new timer).
  const arm = (): void => {
    if (timer === undefined) timer = setTimeout(() => outcome.abort(new StreamIdleTimeout(idleMs)), idleMs);
    else timer.refresh();
  };
  const finish = async (): Promise<'stop'> => {
    meter.complete();
    // An upstream that reported no usage (an OpenAI-compatible server that ignores include_usage):
    // an API whose end states usage (/v1/messages' message_delta, a Response's) states what is
    // charged, the estimate, rather than 0 (before, output_tokens 0).
    if (dialect.usage !== undefined && !meter.reportedUsage) dialect.usage(meter.result().usage);
    await write(res, dialect.end());
    return 'stop';
  };

  const emit = async (step: StreamStep): Promise<'continue' | 'stop'> => {
    const { chunks, raw } = step;
    // Before the chunks: the first of them may be encoded as an announcement of this usage.
    if (step.partialUsage !== undefined) dialect.earlyUsage?.(step.partialUsage);
    // Before the chunks are written: a client gone during the write leaves the tools charged.
    if (step.toolsSeen !== undefined) meter.reportTools(step.toolsSeen);
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i] as JsonObject;
      meter.observe(chunk);
      await write(res, dialect.chunk(chunk, raw?.[i]));
      if (dialect.finished === true) return 'stop';
      if (meter.cutReason !== undefined) {
        await write(res, dialect.cut(meter.cutReason));
        return 'stop';
      }
    }
    if (step.partialUsage !== undefined) meter.reportPartial(step.partialUsage);
    if (step.hiddenOutputBytes !== undefined) {
      meter.observeHidden(step.hiddenOutputBytes);
      if (meter.cutReason !== undefined) {
        await write(res, dialect.cut(meter.cutReason));
        return 'stop';
      }
    }
    if (step.usage !== undefined) {
      meter.report(step.usage);
      dialect.usage?.(step.usage);
    }
    if (step.failure !== undefined) {
      meter.truncated = true;
      await write(res, dialect.failure(step.failure));
      return 'stop';
    }
    return step.done === true ? finish() : 'continue';
  };

  try {
    let state: 'continue' | 'stop' = 'continue';
    // A suspended async function keeps every local it has set, dead or not, until it returns: a
    // step left in one (its chunks, and the upstream text its raw events are slices of) would stay
    // for as long as the stream is held. So the steps are taken by index (no loop variable) and the
    // last iterator result is dropped before the next wait.
    // Let go once written: the outcome lives as long as the stream.
    const first = outcome.first.splice(0);
    for (let i = 0; i < first.length && state === 'continue'; i++) state = await emit(first[i] as StreamStep);
    first.length = 0;
    if (!wrote) res.flushHeaders();
    arm();
    let next: IteratorResult<StreamStep, void> | undefined;
    while (state === 'continue' && !res.destroyed) {
      next = await outcome.rest.next();
      if (next.done === true) {
        // Every provider's stream says when it is complete ([DONE], message_stop, finishReason,
        // messageStop): running out of events without that is a truncated stream, never a complete one.
        meter.truncated = true;
        await write(res, dialect.failure(new Error('upstream stream ended before it was complete')));
        break;
      }
      // Only events that carry something count: keep-alive events, or bytes that never complete an
      // event, cannot hold a stream (and its upstream connection) open past the idle timeout.
      if (next.value.chunks.length > 0 || next.value.usage !== undefined || next.value.hiddenOutputBytes !== undefined) arm();
      state = await emit(next.value);
      next = undefined;
    }
  } catch (err) {
    meter.truncated = true;
    if (!res.destroyed) {
      const reason = err instanceof Error && err.name === 'AbortError' && err.cause instanceof Error ? err.cause : err;
      await write(res, dialect.failure(reason instanceof Error ? reason : new Error(String(reason)))).catch(() => undefined);
    }
  } finally {
    // Not complete (client gone, upstream failed, budget cut): what was streamed is an estimate.
    if (!meter.completed) meter.truncated = true;
    clearTimeout(timer);
    outcome.release();
    // Stop reading an upstream the client no longer wants.
    await outcome.rest.return(undefined).catch(() => undefined);
    res.end();
    untrack?.();
  }
}
