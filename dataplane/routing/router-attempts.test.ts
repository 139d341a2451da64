import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { buildRuntimeSnapshot, type RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import { type ProviderConfig, type RouteConfig, type Snapshot, SNAPSHOT_SCHEMA_VERSION, type TargetConfig } from '../config/snapshot.js';
import type { CanonicalRequest } from '../core/canonical.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SendOptions, Transport, UpstreamResponse } from '../upstream/transport.js';
import { testRoute } from '../governance/rate-limit/test-support.js';
import type { EndpointPicker, PickRequest, PickResult } from './endpoints/endpoint-picker.js';
import { Router } from './router.js';
import { TargetStats } from './target-stats.js';
import { ClientLink } from './client-link.js';

// The router's bookkeeping around one target's attempts: which endpoints a retry knows were tried,
// and that every attempt is ended and its lease released, whatever the outcome.

const provider: ProviderConfig = { id: 'ns/openai', type: 'openai', endpoints: ['http://a/v1', 'http://b/v1'], headers: {}, connectTimeoutMs: 1_000 };
const pricing = { inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: 1 };
const target: TargetConfig = { providerId: 'ns/openai', model: 'gpt', priority: 0, weight: 1, pricing };
const route: RouteConfig = testRoute([], {
  targets: [target],
  retry: { attempts: 3, on: ['ServerError'], initialBackoffMs: 0, maxBackoffMs: 0, maxRetryAfterMs: 0 },
  fallbackOn: ['ServerError'],
  timeouts: { totalMs: 10_000, streamIdleMs: 10_000 },
});
const snapshot: Snapshot = { schemaVersion: SNAPSHOT_SCHEMA_VERSION, version: 'v', providers: [provider], routes: [route], apiKeys: [], budgets: [], namespaces: {} };
const chat: CanonicalRequest = { op: 'chat', body: { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, stream: false, clientWantsUsage: false };

function answer(status: number, body: object): UpstreamResponse {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return { status, headers: { 'content-type': 'application/json' }, body: (async function* () { yield bytes; })(), discard: () => undefined };
}
const completion = (usage?: object): object => ({
  id: 'c', object: 'chat.completion', created: 1, model: 'gpt',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }],
  ...(usage === undefined ? {} : { usage }),
});

/** Answers 500 `failures` times, then `last`. */
function upstream(failures: number, last: object): Transport {
  let n = 0;
  return { send: async () => (n++ < failures ? answer(500, { error: { message: 'down', type: 'server_error' } }) : answer(200, last)) };
}

/** Round robin over the provider's endpoints, recording what each pick was told was tried and each release. */
class RecordingPicker implements EndpointPicker {
  readonly triedSeen: string[][] = [];
  released = 0;
  private next = 0;
  pick(request: PickRequest): PickResult {
    this.triedSeen.push([...request.tried]);
    const url = provider.endpoints[this.next++ % provider.endpoints.length] as string;
    return { ok: true, lease: { url, release: () => void this.released++ } };
  }
}

function runtime(transport: Transport): RuntimeSnapshot {
  const built = buildRuntimeSnapshot(snapshot, transport);
  if (!built.ok) throw new Error(built.error);
  return built.runtime;
}

describe('router attempts', () => {
  it('a retry is told which endpoints were tried; each attempt ends and releases its lease', async () => {
    const picker = new RecordingPicker();
    const stats = new TargetStats();
    const router = new Router({ stats, endpoints: picker });
    const outcome = await router.serve(runtime(upstream(2, completion())), route, chat, new ClientLink());
    expect(outcome.kind).toBe('response');
    expect(picker.triedSeen).toEqual([[], ['http://a/v1'], ['http://a/v1', 'http://b/v1']]);
    expect(picker.released).toBe(3);
    expect(stats.inflight(target)).toBe(0);
    expect(stats.providerInflight(target.providerId)).toBe(0);
    expect(outcome.attempts.map((a) => a.failure?.kind)).toEqual(['ServerError', 'ServerError', undefined]);
  });

  it('a response outcome has a usage only when the upstream reported one, and nothing left to release', async () => {
    const router = new Router({ stats: new TargetStats(), endpoints: new RecordingPicker() });
    const without = await router.serve(runtime(upstream(0, completion())), route, chat, new ClientLink());
    expect(Object.keys(without)).toEqual(['kind', 'target', 'provider', 'attempts', 'release', 'body', 'upstreamRequestId']);
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    const withUsage = await router.serve(runtime(upstream(0, completion(usage))), route, chat, new ClientLink());
    expect(Object.keys(withUsage)).toEqual(['kind', 'target', 'provider', 'attempts', 'release', 'body', 'usage', 'upstreamRequestId']);
    if (withUsage.kind !== 'response') throw new Error('expected a response');
    expect(withUsage.usage).toMatchObject({ inputTokens: 3, outputTokens: 2 });
    withUsage.release();
  });

  it('a stream keeps following its client until released; a failed attempt before it and the attempt timer do not', async () => {
    const streamRoute: RouteConfig = { ...route, timeouts: { ...route.timeouts, attemptMs: 20 } };
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] };
    const serveStream = async (): Promise<{ signals: SendOptions['signal'][]; client: ClientLink; release: () => void }> => {
      const signals: SendOptions['signal'][] = [];
      const transport: Transport = {
        send: async (_req, opts) => {
          signals.push(opts.signal);
          if (signals.length === 1) return answer(500, { error: { message: 'down', type: 'server_error' } });
          const bytes = new TextEncoder().encode(`data: ${JSON.stringify(chunk)}\n\n`);
          // The stream stays open after its first event (a long answer still being written).
          return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: (async function* () { yield bytes; await new Promise(() => undefined); })(), discard: () => undefined };
        },
      };
      const client = new ClientLink();
      const outcome = await new Router({ stats: new TargetStats(), endpoints: new RecordingPicker() }).serve(runtime(transport), streamRoute, { ...chat, stream: true }, client);
      if (outcome.kind !== 'stream') throw new Error('expected a stream');
      return { signals, client, release: outcome.release };
    };

    const held = await serveStream();
    // Past the 20 ms attempt timeout: it was cleared when the stream started, so nothing aborted it.
    await sleep(60);
    expect(held.signals.map((x) => x.aborted)).toEqual([false, false]);
    held.client.abort(new Error('client left'));
    expect(held.signals.map((x) => x.aborted)).toEqual([false, true]);

    const released = await serveStream();
    released.release();
    released.client.abort(new Error('client left'));
    expect(released.signals.map((x) => x.aborted)).toEqual([false, false]);
  });

  it("a stream's release acts once, however often it is called (the write-back and the serve stage both call it)", async () => {
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] };
    const bytes = new TextEncoder().encode(`data: ${JSON.stringify(chunk)}\n\n`);
    const transport: Transport = {
      send: async () => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: (async function* () { yield bytes; await new Promise(() => undefined); })(), discard: () => undefined }),
    };
    const picker = new RecordingPicker();
    const stats = new TargetStats();
    const outcome = await new Router({ stats, endpoints: picker }).serve(runtime(transport), route, { ...chat, stream: true }, new ClientLink());
    if (outcome.kind !== 'stream') throw new Error('expected a stream');
    expect(stats.providerInflight(provider.id)).toBe(1);
    outcome.release();
    outcome.release();
    expect(picker.released).toBe(1);
    expect(stats.providerInflight(provider.id)).toBe(0);
  });

  it("a 401 or 403 (the gateway's own key) is not retried on the same target: one attempt, a 502 naming the refused credentials", async () => {
    for (const status of [401, 403]) {
      let sent = 0;
      const transport: Transport = { send: async () => (sent++, answer(status, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } })) };
      const err = await new Router({ stats: new TargetStats(), endpoints: new RecordingPicker() }).serve(runtime(transport), route, chat, new ClientLink()).catch((e: unknown) => e);
      expect(sent).toBe(1);
      expect(err).toMatchObject({ status: 502, code: 'upstream_credentials_refused' });
      expect((err as Error).message).toContain(`HTTP ${status} refused the gateway's credentials: Incorrect API key provided`);
    }
  });

  it("a TLS failure is said without the names the upstream's certificate holds or the host it was asked for", async () => {
    // The error node's TLS check makes, as undici throws it (and as fetch gives it, as the cause).
    const mismatch = checkServerIdentity('vllm.team-a.svc.cluster.local', { subject: { CN: 'internal' }, subjectaltname: 'DNS:billing.corp.example, IP Address:10.0.4.7' } as unknown as PeerCertificate);
    expect(mismatch?.message).toContain('billing.corp.example');
    for (const thrown of [mismatch, new TypeError('fetch failed', { cause: mismatch })]) {
      const transport: Transport = { send: () => Promise.reject(thrown) };
      const err = await new Router({ stats: new TargetStats(), endpoints: new RecordingPicker() }).serve(runtime(transport), route, chat, new ClientLink()).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 502, code: 'upstream_unreachable' });
      const message = (err as Error).message;
      expect(message).toContain("ns/openai (gpt): the upstream presented a TLS certificate for other names than its base URL's host");
      for (const named of ['vllm.team-a', 'billing.corp', '10.0.4.7', 'altnames']) expect(message).not.toContain(named);
    }
  });

  it("a 404 (no such model at the target) is not retried on the same target: one attempt, a 502 naming the target's configuration", async () => {
    let sent = 0;
    const notFound = { error: { message: 'The model `gpt` does not exist or you do not have access to it.', type: 'invalid_request_error', code: 'model_not_found' } };
    const transport: Transport = { send: async () => (sent++, answer(404, notFound)) };
    const err = await new Router({ stats: new TargetStats(), endpoints: new RecordingPicker() }).serve(runtime(transport), route, chat, new ClientLink()).catch((e: unknown) => e);
    expect(sent).toBe(1);
    expect(err).toMatchObject({ status: 502, code: 'upstream_target_misconfigured' });
    expect((err as Error).message).toContain("HTTP 404 refused the target's configuration: The model `gpt` does not exist");
  });

  it('an upstream error after only an opening role chunk is a failure the route retries, not a started stream', async () => {
    const sse = (...events: object[]): UpstreamResponse => {
      const bytes = new TextEncoder().encode(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n');
      return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: (async function* () { yield bytes; })(), discard: () => undefined };
    };
    const opening = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt', choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }] };
    const content = { ...opening, choices: [{ index: 0, delta: { content: 'hello' }, logprobs: null, finish_reason: null }] };
    let sent = 0;
    const transport: Transport = {
      send: async () => (sent++ === 0 ? sse(opening, { error: { message: 'Overloaded', type: 'overloaded_error' } }) : sse(opening, content)),
    };
    const outcome = await new Router({ stats: new TargetStats(), endpoints: new RecordingPicker() }).serve(runtime(transport), route, { ...chat, stream: true }, new ClientLink());
    if (outcome.kind !== 'stream') throw new Error('expected a stream');
    expect(sent).toBe(2);
    expect(outcome.attempts.map((a) => a.failure?.kind)).toEqual(['ServerError', undefined]);
    // The opening is held with the first content and released together.
    expect(outcome.first.flatMap((s) => s.chunks)).toEqual([opening, content]);
    outcome.release();
  });

  it('an overloaded_error event before any content is an overload: retried, and as the last failure a 503 upstream_overloaded, not a 502', async () => {
    const sse = (...events: object[]): UpstreamResponse => {
      const bytes = new TextEncoder().encode(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(''));
      return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: (async function* () { yield bytes; })(), discard: () => undefined };
    };
    let sent = 0;
    const transport: Transport = { send: async () => (sent++, sse({ error: { message: 'Overloaded', type: 'overloaded_error' } })) };
    const stats = new TargetStats();
    const router = new Router({ stats, endpoints: new RecordingPicker() });
    const err = await router.serve(runtime(transport), route, { ...chat, stream: true }, new ClientLink()).catch((e: unknown) => e);
    expect(sent).toBe(3);
    expect(err).toMatchObject({ status: 503, code: 'upstream_overloaded' });
    expect(stats.inflight(target)).toBe(0);
  });

  it("a 429 whose x-ratelimit-reset is past the route's maxRetryAfter is not retried on the target, as a retry-after that long would not be", async () => {
    const limited: RouteConfig = { ...route, retry: { ...route.retry, on: ['RateLimited'], maxRetryAfterMs: 1_000 } };
    const reset = (value: string): Transport => {
      const send = async (): Promise<UpstreamResponse> => {
        const res = answer(429, { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } });
        return { ...res, headers: { ...res.headers, 'x-ratelimit-reset-requests': value, 'x-ratelimit-remaining-requests': '0' } };
      };
      return { send: async () => (calls++, send()) };
    };
    let calls = 0;
    const err = await new Router({ stats: new TargetStats(), endpoints: new RecordingPicker() }).serve(runtime(reset('6m0s')), limited, chat, new ClientLink()).catch((e: unknown) => e);
    expect(calls).toBe(1);
    // The client is told when the limit resets.
    expect(err).toMatchObject({ status: 429, headers: { 'retry-after': '360' } });
    calls = 0;
    await new Router({ stats: new TargetStats(), endpoints: new RecordingPicker() }).serve(runtime(reset('20ms')), limited, chat, new ClientLink()).catch((e: unknown) => e);
    expect(calls).toBe(3);
  });
});
