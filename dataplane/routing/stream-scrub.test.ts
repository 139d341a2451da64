import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { StreamStep } from '../core/canonical.js';
import type { Transport, UpstreamResponse } from '../upstream/transport.js';
import { streamingAttempt } from '../../test/support/streaming-attempt.js';

// Upstream error text inside a stream (an error event after the first chunk, or as the first event)
// reaches the client, spans and logs only scrubbed, like a non-streaming error body.

const KEY = 'sk-proj-streamscrubtestkey0123456789';

/** A transport answering every request with these SSE events, as one 200 stream. */
function sse(events: string[]): Transport {
  return {
    send: async (): Promise<UpstreamResponse> => ({
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      body: (async function* () {
        for (const e of events) yield Buffer.from(`${e}\n\n`);
      })(),
      discard: () => undefined,
    }),
  };
}

function attempt(events: string[], transport = sse(events)) {
  return streamingAttempt(KEY, transport);
}

const echoed = `data: ${JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}. Authorization: Bearer ${KEY}` } })}`;
const chunk = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'hel' } }] })}`;

describe('stream steps are scrubbed', () => {
  it('an error event after the first chunk', async () => {
    const result = await attempt([chunk, echoed]);
    if (!result.ok || result.kind !== 'stream') throw new Error(`expected a stream, got ${JSON.stringify(result)}`);
    const steps: StreamStep[] = [...result.first];
    for await (const step of result.rest) steps.push(step);
    const failure = steps.find((s) => s.failure !== undefined)?.failure;
    expect(failure?.message).toContain('Incorrect API key provided: [redacted]');
    expect(JSON.stringify(steps)).not.toContain(KEY);
  });

  it('an error event as the first event (the attempt fails before anything is streamed)', async () => {
    const result = await attempt([echoed]);
    if (result.ok || !('failure' in result)) throw new Error(`expected a failure, got ${JSON.stringify(result)}`);
    expect(result.failure.message).toContain('[redacted]');
    expect(JSON.stringify(result)).not.toContain(KEY);
  });
});

describe('a completed stream lets its upstream body go', () => {
  it('with discard(), not destroyed with an AbortError when the reader stops at [DONE]', async () => {
    // A Node stream, as undici's body is: [DONE] arrives before the body has ended.
    const body = new Readable({ read() {} });
    let discarded = 0;
    const transport: Transport = {
      send: async (): Promise<UpstreamResponse> => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, body, discard: () => void discarded++ }),
    };
    body.push(`${chunk}\n\n`);
    const result = await attempt([], transport);
    if (!result.ok || result.kind !== 'stream') throw new Error(`expected a stream, got ${JSON.stringify(result)}`);
    body.push('data: [DONE]\n\n');
    const next = await result.rest.next();
    expect(next.value?.done).toBe(true);
    // What the write-back does once it has written [DONE].
    await result.rest.return(undefined);
    expect(discarded).toBe(1);
    expect(body.errored).toBeNull();
  });

  it('a stream left before it completed destroys its body without an uncaught error (undici destroys with an AbortError)', async () => {
    const body = new Readable({
      read() {},
      destroy(err, cb) {
        cb(err ?? Object.assign(new Error('Request aborted'), { code: 'UND_ERR_ABORTED' }));
      },
    });
    const transport: Transport = {
      send: async (): Promise<UpstreamResponse> => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, body, discard: () => undefined }),
    };
    body.push(`${chunk}\n\n`);
    const result = await attempt([], transport);
    if (!result.ok || result.kind !== 'stream') throw new Error(`expected a stream, got ${JSON.stringify(result)}`);
    // What the write-back does when a guardrail blocks mid-stream or the client goes away.
    await result.rest.return(undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(body.destroyed).toBe(true);
    expect(body.errored).toBeInstanceOf(Error);
    // Before the fix the 'error' event had no listener: an uncaught exception, which fails this run.
  });
});
