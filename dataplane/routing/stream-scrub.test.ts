import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CanonicalRequest, StreamStep } from '../core/canonical.js';
import { secret } from '../config/secret-value.js';
import { type ProviderConfig, type Snapshot, SNAPSHOT_SCHEMA_VERSION, type TargetConfig } from '../config/snapshot.js';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_STREAM_EVENT_BYTES } from '../config/route-limits.js';
import { testRoute } from '../governance/rate-limit/test-support.js';
import { buildRuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import type { Transport, UpstreamResponse } from '../upstream/transport.js';
import { runAttempt } from './attempt.js';
import { ClientLink } from './client-link.js';

// Upstream error text inside a stream (an error event after the first chunk, or as the first event)
// reaches the client, spans and logs only scrubbed, like a non-streaming error body.

const KEY = 'sk-proj-streamscrubtestkey0123456789';
const provider: ProviderConfig = { id: 'team-a/openai', type: 'openai-compatible', endpoints: ['http://127.0.0.1:9/v1'], headers: {}, connectTimeoutMs: 1_000, apiKey: secret(KEY) };
const target: TargetConfig = { providerId: provider.id, model: 'gpt', priority: 0, weight: 1, pricing: { inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: 1 } };

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

async function attempt(events: string[], transport = sse(events)) {
  const snapshot: Snapshot = { schemaVersion: SNAPSHOT_SCHEMA_VERSION, version: 'v', providers: [provider], routes: [testRoute([], { targets: [target] })], apiKeys: [], budgets: [], namespaces: {} };
  const built = buildRuntimeSnapshot(snapshot, transport);
  if (!built.ok) throw new Error(built.error);
  const runtime = built.runtime.providers.get(provider.id);
  if (runtime === undefined) throw new Error('no provider');
  const req: CanonicalRequest = { op: 'chat', body: { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true }, stream: true, clientWantsUsage: false };
  const limits = { maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES, maxStreamEventBytes: DEFAULT_MAX_STREAM_EVENT_BYTES };
  return runAttempt(req, target, runtime, 'http://127.0.0.1:9/v1', new AbortController().signal, new ClientLink(), limits);
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
