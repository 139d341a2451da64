import OpenAI from 'openai';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGatewayOptions } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import type { RequestUsage } from '../../dataplane/config/request-usage.js';

const route = (model: string, upstreamModel: string) => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: ${model}
  targets: [{ providerRef: { name: up }, model: ${upstreamModel} }]
`;

/** Prices for the upstream model `v1`, so that what a request is charged shows. */
const PRICED = '  models: [{ name: v1, pricing: { input: 1, output: 2 } }]\n';

let upstream: OpenAiUpstream;
beforeAll(async () => {
  upstream = await startOpenAiUpstream();
});
afterAll(async () => {
  await upstream.close();
});

async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>): Promise<string> {
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  return text;
}

/** One chat completion over a raw, kept-alive HTTP/1.1 connection (no client pool choosing sockets). */
async function exchange(socket: Socket): Promise<{ status: number; connection: string | undefined; body: unknown }> {
  const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] });
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  let data = Buffer.alloc(0);
  for (;;) {
    const chunk = await Promise.race([
      once(socket, 'data').then(([c]) => c as Buffer),
      once(socket, 'close').then(() => {
        throw new Error('the gateway closed the connection instead of answering');
      }),
    ]);
    data = Buffer.concat([data, chunk]);
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) continue;
    const head = data.subarray(0, end).toString().split('\r\n');
    const headers = new Map(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers.get('content-length'));
    if (data.length < end + 4 + length) continue;
    return { status: Number(head[0]?.split(' ')[1]), connection: headers.get('connection'), body: JSON.parse(data.subarray(end + 4, end + 4 + length).toString()) };
  }
}

/** A gateway routing `chat` to the upstream, and one raw connection to it. */
async function gatewayWithSocket(opts: TestGatewayOptions = {}): Promise<{ gateway: Awaited<ReturnType<typeof startTestGateway>>; socket: Socket }> {
  const gateway = await startTestGateway({ 'provider.yaml': openAiProvider('up', upstream.baseUrl), 'route.yaml': route('chat', 'v1') }, opts);
  const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1');
  await once(socket, 'connect');
  return { gateway, socket };
}

/** Until the upstream has received more than `seen` requests (the gateway accepted the one sent). */
async function upstreamReceived(seen: number): Promise<void> {
  while (upstream.requests.length <= seen) await new Promise((r) => setTimeout(r, 5));
}

describe('configuration changes and shutdown', () => {
  it('hot-reloads a changed manifest without dropping an in-flight stream', async () => {
    const gateway = await startTestGateway({ 'provider.yaml': openAiProvider('up', upstream.baseUrl), 'route.yaml': route('chat', 'v1') });
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
    try {
      upstream.script({ kind: 'stream', chunks: 20, intervalMs: 15 }, { kind: 'ok' });
      const before = gateway.dataplane.store.current?.snapshot.version;
      const inFlight = collect(await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'x' }] }));
      gateway.write('route.yaml', route('chat-v2', 'v2'));
      expect(gateway.dataplane.store.current?.snapshot.version).not.toBe(before);
      // New requests see the new snapshot at once…
      const { response } = await client.chat.completions.create({ model: 'chat-v2', messages: [{ role: 'user', content: 'x' }] }).withResponse();
      expect(response.headers.get('x-tollgate-model')).toBe('v2');
      await expect(client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 404 });
      // …and the stream that started before the swap finishes on the old one.
      expect(await inFlight).toBe(Array(20).fill('tok').join(' '));
    } finally {
      await gateway.close();
    }
  });

  it('keeps serving the last good snapshot when a change is invalid', async () => {
    const gateway = await startTestGateway({ 'provider.yaml': openAiProvider('up', upstream.baseUrl), 'route.yaml': route('chat', 'v1') });
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
    try {
      upstream.script({ kind: 'ok' });
      const good = gateway.dataplane.store.current?.snapshot.version;
      const loaded = gateway.write('route.yaml', route('chat', 'v1').replace('targets:', 'strategy: fastest\n  targets:'));
      expect(loaded.errors).toHaveLength(1);
      expect(loaded.errors[0]).toMatchObject({ object: 'ModelRoute default/chat', field: 'spec.strategy' });
      expect(gateway.dataplane.store.current?.snapshot.version).toBe(good);
      expect((await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] })).model).toBe('v1');
    } finally {
      await gateway.close();
    }
  });

  it('drains in-flight streams on shutdown, then stops listening', async () => {
    const gateway = await startTestGateway({ 'provider.yaml': openAiProvider('up', upstream.baseUrl), 'route.yaml': route('chat', 'v1') });
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
    upstream.script({ kind: 'stream', chunks: 15, intervalMs: 20 });
    const inFlight = collect(await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'x' }] }));
    const stopped = gateway.stop();
    expect(gateway.dataplane.isDraining).toBe(true);
    const { drained } = await stopped;
    expect(drained).toBe(true);
    expect(await inFlight).toBe(Array(15).fill('tok').join(' '));
    await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow();
  });

  // Behind a Service, a client keeps its connection to a pod that kube-proxy no longer picks: its
  // next request arrives after SIGTERM, on that kept-alive connection. It must be answered (with
  // `connection: close`), not refused or cut: on a real node either was a failed client request.
  it('answers a request that arrives on a kept-alive connection after shutdown began, then closes that connection', async () => {
    // A pod's grace (not dev's 1 s): a test process stalled past 1 s by load had its idle
    // connection closed before it read the request already sent.
    const { gateway, socket } = await gatewayWithSocket({ drainTimeoutMs: 20_000, idleConnectionGraceMs: 20_000 });
    try {
      upstream.script({ kind: 'ok' }, { kind: 'ok' });
      expect(await exchange(socket)).toMatchObject({ status: 200, connection: 'keep-alive' });
      const stopped = gateway.stop();
      expect(gateway.dataplane.isDraining).toBe(true);
      expect(await exchange(socket)).toMatchObject({ status: 200, connection: 'close', body: { model: 'v1' } });
      await once(socket, 'close');
      expect((await stopped).drained).toBe(true);
    } finally {
      socket.destroy();
    }
  });

  // The response to a request that arrived before SIGTERM says keep-alive (its headers went out
  // first), so its client reuses the connection right after it. Closing every connection once no
  // request was in flight cut that next request (a failed client request on a real node during a
  // rollout under load): it must be answered, with `connection: close`.
  it('answers the next request on a connection whose keep-alive response ended during the drain', async () => {
    // A pod's grace, as above: dev's 1 s could pass between the response and the next request under load.
    const { gateway, socket } = await gatewayWithSocket({ drainTimeoutMs: 20_000, idleConnectionGraceMs: 20_000 });
    try {
      upstream.script({ kind: 'ok', delayMs: 300 }, { kind: 'ok' });
      const seen = upstream.requests.length;
      const first = exchange(socket);
      await upstreamReceived(seen);
      const stopped = gateway.stop();
      expect(await first).toMatchObject({ status: 200, connection: 'keep-alive' });
      expect(await exchange(socket)).toMatchObject({ status: 200, connection: 'close', body: { model: 'v1' } });
      await once(socket, 'close');
      expect((await stopped).drained).toBe(true);
    } finally {
      socket.destroy();
    }
  });

  // A data plane pod (idle grace: the drain timeout) answers a client that was starved of CPU for
  // longer than `tollgate dev`'s 1 s between two requests on its kept-alive connection. With a 1 s
  // grace for pods that request failed on a real node under load (other side closed).
  it('keeps an idle kept-alive connection open for its client for the idle grace', async () => {
    const { gateway, socket } = await gatewayWithSocket({ drainTimeoutMs: 20_000, idleConnectionGraceMs: 20_000 });
    try {
      upstream.script({ kind: 'ok' }, { kind: 'ok' });
      expect(await exchange(socket)).toMatchObject({ status: 200, connection: 'keep-alive' });
      const stopped = gateway.stop();
      await new Promise((r) => setTimeout(r, 1_500)); // the client stalls longer than dev's grace
      expect(await exchange(socket)).toMatchObject({ status: 200, connection: 'close', body: { model: 'v1' } });
      await once(socket, 'close');
      expect((await stopped).drained).toBe(true);
    } finally {
      socket.destroy();
    }
  });

  it('cuts streams that outlive the drain timeout with an error event their client reads (not a connection reset)', async () => {
    const gateway = await startTestGateway({ 'provider.yaml': openAiProvider('up', upstream.baseUrl), 'route.yaml': route('chat', 'v1') }, { drainTimeoutMs: 100 });
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
    upstream.script({ kind: 'stream', chunks: 200, intervalMs: 20 });
    const inFlight = collect(await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'x' }] })).catch((e: unknown) => e);
    const { drained } = await gateway.stop();
    expect(drained).toBe(false);
    // Metered and charged before the stop returned: after it, usage is reported and the pod exits.
    expect(gateway.usage.records.filter((r) => r.routeId === 'default/chat')).toHaveLength(1);
    const result = await inFlight;
    expect(result).toBeInstanceOf(OpenAI.APIError);
    expect(result).toMatchObject({ code: 'gateway_shutting_down', message: expect.stringMatching(/shutting down and its 100 ms drain ended before the stream did; retry the request/) });
  });

  // A non-streaming attempt outlives its client so that its usage can be metered; one slower than
  // the drain kept the process past its shutdown deadline (drain + 10 s), and the kubelet killed it
  // with its spans and usage unreported. It is charged its worst case and cut instead.
  it('stops while a non-streaming answer is still pending upstream: its attempt is cut, not waited for, and charged its worst case', async () => {
    const history: { request: RequestUsage; costUsd: number }[] = [];
    const gateway = await startTestGateway(
      { 'provider.yaml': openAiProvider('up', upstream.baseUrl, PRICED), 'route.yaml': route('chat', 'v1') },
      { drainTimeoutMs: 100, onRequest: (request, costUsd) => history.push({ request, costUsd }) },
    );
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
    upstream.script({ kind: 'hang' });
    const seen = upstream.requests.length;
    const inFlight = client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    await upstreamReceived(seen);
    const sent = upstream.requests[seen];
    const { drained } = await gateway.stop();
    expect(drained).toBe(false);
    // The upstream never answers: the stop returned because the gateway cut the attempt.
    await sent?.aborted;
    expect(sent?.abortedNow()).toBe(true);
    expect(await inFlight).toMatchObject({ status: 503, code: 'gateway_shutting_down' });
    // Its usage cannot be known: charged its worst case (as its Budget hold is), in its usage record
    // and in its usage history alike. Before, the history said cancelled, $0.
    const records = gateway.usage.records.filter((r) => r.routeId === 'default/chat');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ estimated: true, estimateReason: 'shutdown', outputTokens: 4096 });
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ request: { outcome: 'cancelled', outputTokens: 4096 }, costUsd: records[0]?.costUsd });
  });

  // Found at the drain's end through its connection (no request is tracked for it meanwhile): a
  // stream whose upstream has not started is not yet a stream the drain cuts. Before, it was reset.
  it('answers a stream whose upstream had not started when the drain ended 503 with retry-after; it stops upstream with its client', async () => {
    const history: { request: RequestUsage; costUsd: number }[] = [];
    const gateway = await startTestGateway(
      { 'provider.yaml': openAiProvider('up', upstream.baseUrl, PRICED), 'route.yaml': route('chat', 'v1') },
      { drainTimeoutMs: 100, onRequest: (request, costUsd) => history.push({ request, costUsd }) },
    );
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
    upstream.script({ kind: 'hang' });
    const seen = upstream.requests.length;
    const inFlight = client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }], stream: true }).catch((e: unknown) => e);
    await upstreamReceived(seen);
    const sent = upstream.requests[seen];
    await gateway.stop();
    const answer = await inFlight;
    expect(answer).toMatchObject({ status: 503, code: 'gateway_shutting_down' });
    expect((answer as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');
    await sent?.aborted;
    expect(sent?.abortedNow()).toBe(true);
    // Its prompt reached the upstream: charged its estimate, as any stream whose client left first.
    const records = gateway.usage.records.filter((r) => r.routeId === 'default/chat');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ estimated: true, estimateReason: 'client_gone' });
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ request: { outcome: 'cancelled' }, costUsd: records[0]?.costUsd });
  });

  // Pass-through streams (images `stream: true`, speech `stream_format: "sse"`, streamed
  // transcriptions) are relayed as the upstream writes them: they were cut by a connection reset.
  it('cuts a pass-through event stream that outlives the drain with an error event its client reads, charged as truncated', async () => {
    // One image preview, then nothing more until the test ends.
    const images = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`event: image_generation.partial_image\ndata: ${JSON.stringify({ type: 'image_generation.partial_image', b64_json: 'AAAA', partial_image_index: 0 })}\n\n`);
      });
    });
    images.listen(0, '127.0.0.1');
    await once(images, 'listening');
    const pricing = '  models: [{ name: gpt-image-1, pricing: { input: 5, output: 40, perImage: 0.04 } }]\n';
    const imagesRoute = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: images }
spec:
  model: image
  targets: [{ providerRef: { name: img }, model: gpt-image-1 }]
  passThrough: { endpoints: [images] }
`;
    const gateway = await startTestGateway({ 'provider.yaml': openAiProvider('img', `http://127.0.0.1:${(images.address() as AddressInfo).port}/v1`, pricing), 'route.yaml': imagesRoute }, { drainTimeoutMs: 100 });
    try {
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const stream = await client.images.generate({ model: 'image', prompt: 'x', stream: true, partial_images: 2 });
      const events: unknown[] = [];
      const read = (async () => {
        for await (const event of stream) events.push(event);
      })().catch((e: unknown) => e);
      while (events.length === 0) await new Promise((r) => setTimeout(r, 5));
      const { drained } = await gateway.stop();
      expect(drained).toBe(false);
      const result = await read;
      expect(result).toBeInstanceOf(OpenAI.APIError);
      expect(result).toMatchObject({ code: 'gateway_shutting_down', message: expect.stringMatching(/shutting down and its 100 ms drain ended before the stream did; retry the request/) });
      // Metered before the stop returned: what the request asked for, marked truncated (not a client that left).
      const records = gateway.usage.records.filter((r) => r.routeId === 'default/images');
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ estimated: true, estimateReason: 'truncated', costUsd: 0.04 });
    } finally {
      images.closeAllConnections();
      images.close();
    }
  });

  // node keeps a response queued behind another on a pipelined connection where nothing can reach
  // it (unanswered.ts): the drain cannot answer it. What it does get is pinned here: the request
  // ahead is answered 503, and the connection then ends in order (no reset), so that an HTTP/1.1
  // client sends the queued request again, as it must when a closed connection leaves a pipelined
  // request unanswered.
  it('answers the request ahead of a pipelined one 503 when the drain ends, then ends the connection in order', async () => {
    const { gateway, socket } = await gatewayWithSocket({ drainTimeoutMs: 100 });
    try {
      upstream.script({ kind: 'hang' });
      const seen = upstream.requests.length;
      const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] });
      const request = `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      const ended = new Promise<{ reset: boolean }>((resolve) => {
        socket.once('error', () => resolve({ reset: true }));
        socket.once('end', () => resolve({ reset: false }));
      });
      socket.write(request + request);
      await upstreamReceived(seen + 1);
      const stopping = Date.now();
      await gateway.stop();
      // The queued request learnt that its connection closed: it was not tried upstream again, and
      // the stop did not wait for it until the shutdown deadline (drain + 10 s), as it did before.
      expect(Date.now() - stopping).toBeLessThan(5_000);
      expect(upstream.requests.length).toBe(seen + 2);
      expect(await ended).toEqual({ reset: false });
      const answers = received.split('HTTP/1.1 ').slice(1);
      expect(answers).toHaveLength(1);
      expect(answers[0]).toMatch(/^503 /);
      expect(answers[0]).toMatch(/\r\nconnection: close\r\n/i);
      expect(answers[0]).toMatch(/\r\nretry-after: 1\r\n/i);
      expect(answers[0]).toContain('gateway_shutting_down');
    } finally {
      socket.destroy();
    }
  });

  // node emits no 'close' on a response still queued behind another when the connection closes:
  // the request's handling did not learn that its client had left, and went on upstream.
  it('stops a pipelined stream upstream when its client closes the connection before its turn', async () => {
    const { gateway, socket } = await gatewayWithSocket();
    try {
      upstream.script({ kind: 'hang' });
      const seen = upstream.requests.length;
      // Streams: one stops upstream with its client (a non-streaming attempt is read on, to be metered).
      const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }], stream: true });
      const request = `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      socket.write(request + request);
      await upstreamReceived(seen + 1);
      socket.destroy();
      const queued = upstream.requests[seen + 1];
      await Promise.race([queued?.aborted, new Promise((r) => setTimeout(r, 3_000))]);
      expect(upstream.requests[seen]?.abortedNow()).toBe(true);
      expect(queued?.abortedNow()).toBe(true);
    } finally {
      socket.destroy();
      await gateway.stop();
    }
  });

  // A pass-through request (images, audio, files…) is not a pipeline request: it was reset when the
  // drain ended before its upstream answered. Its upstream, which had all of it, may still bill it.
  describe('a pass-through request not answered when the drain ends', () => {
    const imagesRoute = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: images }
spec:
  model: image
  targets: [{ providerRef: { name: img }, model: gpt-image-1 }]
  passThrough: { endpoints: [images] }
`;
    const pricing = '  models: [{ name: gpt-image-1, pricing: { input: 5, output: 40, perImage: 0.04 } }]\n';
    /** An images upstream that answers `delayMs` after the request's end (never, when undefined). */
    async function imagesUpstream(delayMs: number | undefined): Promise<{ url: string; aborted: Promise<boolean>; close: () => void }> {
      let abort: (cut: boolean) => void = () => undefined;
      const aborted = new Promise<boolean>((resolve) => (abort = resolve));
      const server = createServer((req, res) => {
        req.resume();
        res.on('close', () => abort(!res.writableFinished));
        req.on('end', () => {
          if (delayMs === undefined) return;
          setTimeout(() => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ created: 1, data: [{ b64_json: 'AAAA' }], usage: { input_tokens: 10, output_tokens: 100, total_tokens: 110 } }));
          }, delayMs);
        });
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
        aborted,
        close: () => {
          server.closeAllConnections();
          server.close();
        },
      };
    }

    it('is answered 503 gateway_shutting_down with retry-after, not reset; an upstream cut then is charged its worst case (its Budget hold), marked shutdown', async () => {
      const images = await imagesUpstream(undefined);
      const gateway = await startTestGateway({ 'provider.yaml': openAiProvider('img', images.url, pricing), 'route.yaml': imagesRoute }, { drainTimeoutMs: 100 });
      try {
        const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
        const inFlight = client.images.generate({ model: 'image', prompt: 'x', n: 2 }).catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 50));
        const { drained } = await gateway.stop();
        expect(drained).toBe(false);
        const answer = await inFlight;
        expect(answer).toMatchObject({ status: 503, code: 'gateway_shutting_down', message: expect.stringMatching(/drain ended before the answer came; retry the request/) });
        const headers = (answer as InstanceType<typeof OpenAI.APIError>).headers;
        expect(headers?.get('retry-after')).toBe('1');
        expect(headers?.get('connection')).toBe('close');
        expect(headers?.get('x-tollgate-route')).toBe('default/images');
        // Awaited after the answer (the drain waited for it), then cut at exit.
        expect(await images.aborted).toBe(true);
        // Metered before the stop returned: the two images it asked for at their unit price and at
        // the most their tokens can be billed (high, 1536×1024: 10,650 output tokens each), as held
        // (before: the unit prices only, and before that marked client_gone).
        const records = gateway.usage.records.filter((r) => r.routeId === 'default/images');
        expect(records).toHaveLength(1);
        expect(records[0]).toMatchObject({ estimated: true, estimateReason: 'shutdown', outputTokens: 21_300 });
        expect(records[0]?.costUsd).toBeCloseTo(0.08 + (1 * 5 + 21_300 * 40) / 1e6, 9);
      } finally {
        images.close();
      }
    });

    it('is answered 503, and charged what its upstream answer says when it comes within the drain\'s last second', async () => {
      const images = await imagesUpstream(400);
      const gateway = await startTestGateway({ 'provider.yaml': openAiProvider('img', images.url, pricing), 'route.yaml': imagesRoute }, { drainTimeoutMs: 100 });
      try {
        const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
        const inFlight = client.images.generate({ model: 'image', prompt: 'x' }).catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 50));
        await gateway.stop();
        expect(await inFlight).toMatchObject({ status: 503, code: 'gateway_shutting_down' });
        expect(await images.aborted).toBe(false);
        const records = gateway.usage.records.filter((r) => r.routeId === 'default/images');
        expect(records).toHaveLength(1);
        // 10 input tokens at $5/M, 100 output at $40/M, one image at $0.04.
        expect(records[0]).toMatchObject({ estimated: false, inputTokens: 10, outputTokens: 100 });
        expect(records[0]?.costUsd).toBeCloseTo(0.04 + 10 * 5e-6 + 100 * 40e-6, 8);
      } finally {
        images.close();
      }
    });
  });

  it('waits for a non-streaming request cut by the drain deadline to be metered before the stop returns', async () => {
    const history: { request: RequestUsage; costUsd: number }[] = [];
    const gateway = await startTestGateway(
      { 'provider.yaml': openAiProvider('up', upstream.baseUrl, PRICED), 'route.yaml': route('chat', 'v1') },
      { drainTimeoutMs: 100, onRequest: (request, costUsd) => history.push({ request, costUsd }) },
    );
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
    // The answer takes longer than the drain: the socket is closed, the upstream attempt finishes.
    upstream.script({ kind: 'ok', content: 'late answer', delayMs: 600 });
    const inFlight = client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const { drained } = await gateway.stop();
    expect(drained).toBe(false);
    const records = gateway.usage.records.filter((r) => r.routeId === 'default/chat');
    expect(records).toHaveLength(1);
    expect(records[0]?.estimated).toBe(false);
    // Its client is told to retry (before: a connection reset), and its history carries what was metered (before: $0).
    const answer = await inFlight;
    expect(answer).toMatchObject({ status: 503, code: 'gateway_shutting_down', message: expect.stringMatching(/shutting down and its 100 ms drain ended before the answer came; retry the request/) });
    expect((answer as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');
    expect(history).toHaveLength(1);
    expect(history[0]?.costUsd).toBeGreaterThan(0);
    expect(history[0]?.costUsd).toBe(records[0]?.costUsd);
  });
});
