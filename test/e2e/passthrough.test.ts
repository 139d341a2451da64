import { request as httpRequest } from 'node:http';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { type PassThroughEmulator, startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { apiKeySecretManifest, providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { metricValue } from '../support/admin-metrics.js';

// Pass-through endpoints driven by the official openai client (images, audio with a real file
// upload, files, batches, moderations) and plain fetch (vLLM rerank, score, tokenize), with identity,
// access, rate limits and metering applied, and the Provider's credentials replacing the caller's.

const CALLER_KEY = 'tg-caller-key';

function providers(url: string): string {
  const credentials = '{ secretRef: { name: up-key, key: apiKey } }';
  return (
    providerManifest('openai-up', 'openai', `${url}/v1`, credentials, '  models: [{ name: gpt-image-1, pricing: { input: 5, output: 40, perImage: 0.01 } }]\n') +
    providerManifest('vllm-up', 'openai-compatible', `${url}/v1`, credentials) +
    // Nothing listens on port 9 (discard) of loopback: connections are refused.
    providerManifest('nowhere', 'openai-compatible', 'http://127.0.0.1:9/v1', credentials) +
    // Link-local (where the cloud instance-metadata services live): never called. Without a zone,
    // fe80::1 cannot be connected to at all (EINVAL): no packet could leave even without the guard.
    providerManifest('metadata', 'openai-compatible', '"http://[fe80::1]:9/v1"', credentials) +
    secretManifest('up-key', { apiKey: 'sk-upstream' }) +
    apiKeySecretManifest('caller', CALLER_KEY)
  );
}

/** A route serving only moderations, from one Provider's model m. */
const moderationsRoute = (name: string, provider: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: ${provider} }, model: m }]
  passThrough: { endpoints: [moderations] }
`;

const ROUTES = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: media }
spec:
  model: image-default
  targets: [{ providerRef: { name: openai-up }, model: gpt-image-1 }]
  passThrough:
    endpoints: [images, audio, files, batches, moderations]
    maxUploadBytes: 65536
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: reranker }
spec:
  model: reranker
  targets: [{ providerRef: { name: vllm-up }, model: bge-reranker }]
  rateLimits: [{ per: Route, requestsPerMinute: 3 }]
  passThrough: { endpoints: [rerank, score, tokenize] }
---
${moderationsRoute('unreachable', 'nowhere')}---
${moderationsRoute('metadata', 'metadata')}---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat-only }
spec:
  model: chat-only
  targets: [{ providerRef: { name: openai-up }, model: gpt-4o-mini }]
`;

describe('pass-through endpoints', () => {
  let upstream: PassThroughEmulator;
  let gateway: TestGateway;
  let client: OpenAI;

  const post = (path: string, body: unknown, key = CALLER_KEY): Promise<Response> =>
    fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  const last = () => upstream.requests[upstream.requests.length - 1];

  beforeAll(async () => {
    upstream = await startPassThroughEmulator('sk-upstream');
    gateway = await startTestGateway({ 'providers.yaml': providers(upstream.url), 'routes.yaml': ROUTES }, { auth: new Authenticator({}), admin: true });
    client = new OpenAI({ apiKey: CALLER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('images.generate: routed by model, model rewritten, credentials swapped, usage metered at the target prices', async () => {
    const { data, response } = await client.images.generate({ model: 'image-default', prompt: 'a cat' }).withResponse();
    expect(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64').toString()).toBe('image for a cat by gpt-image-1');
    expect(data.usage?.output_tokens).toBe(100);
    expect(response.headers.get('x-tollgate-route')).toBe('default/media');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/openai-up');
    const sent = last();
    expect(sent?.url).toBe('/v1/images/generations');
    expect(sent?.headers.authorization).toBe('Bearer sk-upstream');
    expect(JSON.stringify(sent?.headers)).not.toContain(CALLER_KEY);
    const rec = gateway.usage.records[gateway.usage.records.length - 1];
    // 10 input × $5/M + 100 output × $40/M
    expect(rec).toMatchObject({ op: 'passthrough', routeId: 'default/media', inputTokens: 10, outputTokens: 100, estimated: false });
    expect(rec?.costUsd).toBeCloseTo((10 * 5 + 100 * 40) / 1e6 + 0.01, 12);
  });

  it('a client that leaves after its request went upstream, before the answer, is charged what the answer says (the upstream did the work)', async () => {
    const before = gateway.usage.records.length;
    const sent = upstream.requests.length;
    const abort = new AbortController();
    // The emulator answers a "late" prompt 300 ms after the request came; the client leaves before.
    const call = fetch(`${gateway.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER_KEY}` },
      body: JSON.stringify({ model: 'image-default', prompt: 'two late cats', n: 2 }),
      signal: abort.signal,
    }).catch((e: unknown) => e);
    for (let i = 0; i < 100 && upstream.requests.length === sent; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    abort.abort();
    await call;
    for (let i = 0; i < 200 && gateway.usage.records.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    // Before, the exchange ended with the client: the unit prices only (2 × 0.01), the tokens unknown.
    expect(gateway.usage.records.slice(before)).toMatchObject([{ op: 'passthrough', routeId: 'default/media', estimated: false, inputTokens: 10, outputTokens: 200 }]);
    expect(gateway.usage.records.at(-1)?.costUsd).toBeCloseTo((10 * 5 + 200 * 40) / 1e6 + 2 * 0.01, 9);
  });

  it('meters an answer of any size or encoding: three large images (~1.8 MB), asked for gzip by the client', async () => {
    const before = gateway.usage.records.length;
    const res = await post('/v1/images/generations', { model: 'image-default', prompt: 'three large cats', n: 3 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { b64_json: string }[] };
    expect(body.data).toHaveLength(3);
    expect(body.data.reduce((n, d) => n + d.b64_json.length, 0)).toBeGreaterThan(1_800_000);
    // undici's fetch asks for gzip, as the openai client does; the upstream would compress.
    expect(last()?.headers['accept-encoding']).toBe('identity');
    const rec = gateway.usage.records.slice(before).at(-1);
    expect(rec).toMatchObject({ op: 'passthrough', routeId: 'default/media', inputTokens: 10, outputTokens: 300 });
    expect(rec?.costUsd).toBeCloseTo((10 * 5 + 300 * 40) / 1e6 + 3 * 0.01, 12);
  });

  it.each([
    ['a cat', 1],
    // Each final image ~600 KB of base64 in one event, with two previews each: read in bounded pieces.
    ['two large cats', 2],
  ])('images.generate with stream: true (%s) is charged as the same answer not streamed: every completed image and its usage', async (prompt, n) => {
    // Before, a streamed answer was not read: it was charged neither its tokens nor its images.
    const before = gateway.usage.records.length;
    const events: string[] = [];
    const stream = await client.images.generate({ model: 'image-default', prompt, n, stream: true, partial_images: 2 });
    for await (const event of stream) events.push(event.type);
    expect(events.filter((t) => t === 'image_generation.completed')).toHaveLength(n);
    await expect.poll(() => gateway.usage.records.length).toBe(before + 1);
    const rec = gateway.usage.records[before];
    // The prompt once, each image's output: what the same answer not streamed reports. Before, the
    // prompt every completed event repeats was charged once per image.
    expect(rec).toMatchObject({ op: 'passthrough', routeId: 'default/media', inputTokens: 10, outputTokens: 100 * n, estimated: false });
    expect(rec?.costUsd).toBeCloseTo((10 * 5 + 100 * n * 40) / 1e6 + n * 0.01, 12);
  });

  it("a streamed answer whose every completed event repeats the whole answer's usage (n = 2) is over-counted, never under: the wire cannot tell it from two images that cost the same", async () => {
    upstream.imageStreamUsage = 'whole-answer';
    try {
      const before = gateway.usage.records.length;
      const stream = await client.images.generate({ model: 'image-default', prompt: 'two cats', n: 2, stream: true });
      for await (const _ of stream);
      await expect.poll(() => gateway.usage.records.length).toBe(before + 1);
      // Each event says 200 output tokens: 400 charged (the outputs summed), the prompt once.
      expect(gateway.usage.records[before]).toMatchObject({ inputTokens: 10, outputTokens: 400, estimated: false });
    } finally {
      upstream.imageStreamUsage = 'per-image';
    }
  });

  it("audio.transcriptions.create with a real file upload streams the multipart body through, the form's model the target's", async () => {
    const audio = Buffer.alloc(40_000, 7);
    const t = await client.audio.transcriptions.create({ file: await toFile(audio, 'speech.wav', { type: 'audio/wav' }), model: 'gpt-4o-transcribe' });
    expect(t.text).toBe('heard 40000 bytes with gpt-image-1');
    const sent = last();
    expect(sent?.url).toBe('/v1/audio/transcriptions');
    expect(String(sent?.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
    expect(sent?.headers.authorization).toBe('Bearer sk-upstream');
    expect(gateway.usage.records[gateway.usage.records.length - 1]).toMatchObject({ op: 'passthrough', inputTokens: 14, outputTokens: 3 });
  });

  it('an upload over the route maxUploadBytes is refused with 413 and never reaches the upstream', async () => {
    const before = upstream.requests.length;
    const err = await client.audio.transcriptions
      .create({ file: await toFile(Buffer.alloc(100_000, 1), 'long.wav', { type: 'audio/wav' }), model: 'whisper-1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect(upstream.requests.length).toBe(before);
  });

  it('a chunked upload (no content-length) is counted as it streams and cut with 413 at the limit', async () => {
    const chunk = new Uint8Array(16_384);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 10) return c.close();
        sent++;
        c.enqueue(chunk);
      },
    });
    const res = await fetch(`${gateway.url}/v1/audio/transcriptions`, {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { 'content-type': 'multipart/form-data; boundary=x', authorization: `Bearer ${CALLER_KEY}`, 'x-tollgate-model': 'image-default' },
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
  });

  it('audio.speech: a binary answer streams back unchanged', async () => {
    const speech = await client.audio.speech.create({ model: 'image-default', voice: 'alloy', input: 'hello' });
    expect(Buffer.from(await speech.arrayBuffer()).toString()).toBe('mp3:hello');
    expect(speech.headers.get('content-type')).toBe('audio/mpeg');
  });

  it('files and batches: upload, list, retrieve, content, delete; create, retrieve, list, cancel', async () => {
    // A batch's requests name the model the route's target runs (test/e2e/passthrough-batches.test.ts).
    const line = `${JSON.stringify({ custom_id: '1', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-image-1', messages: [{ role: 'user', content: 'hi' }] } })}\n`;
    const file = await client.files.create({ file: await toFile(Buffer.from(line), 'batch.jsonl'), purpose: 'batch' });
    expect(file).toMatchObject({ id: 'file-abc', bytes: Buffer.byteLength(line), purpose: 'batch' });
    expect((await client.files.list()).data.map((f) => f.id)).toEqual(['file-abc']);
    expect((await client.files.retrieve('file-abc')).filename).toBe('batch.jsonl');
    expect(await (await client.files.content('file-abc')).text()).toBe(line);
    expect((await client.files.delete('file-abc')).deleted).toBe(true);
    const batch = await client.batches.create({ input_file_id: 'file-abc', endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(batch).toMatchObject({ id: 'batch_abc', input_file_id: 'file-abc' });
    expect((await client.batches.retrieve('batch_abc')).status).toBe('validating');
    expect((await client.batches.list()).data).toHaveLength(1);
    expect((await client.batches.cancel('batch_abc')).status).toBe('cancelling');
    expect(upstream.problems).toEqual([]);
  });

  it('moderations.create, and a route that does not enable an endpoint is a 404 naming it', async () => {
    const m = await client.moderations.create({ model: 'image-default', input: 'hello' });
    expect(m.results[0]?.flagged).toBe(false);
    const refused = await client.moderations.create({ model: 'chat-only', input: 'hello' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.NotFoundError);
    expect((refused as InstanceType<typeof OpenAI.NotFoundError>).message).toMatch(/endpoint moderations is not enabled on route default\/chat-only/);
  });

  it('vLLM rerank, score and tokenize; the route rate limit counts them, and its refusal in tollgate_rate_limit_rejections_total', async () => {
    const rerank = await post('/v1/rerank', { model: 'reranker', query: 'q', documents: ['a', 'b'] });
    expect(rerank.status).toBe(200);
    expect(((await rerank.json()) as { results: unknown[] }).results).toHaveLength(2);
    expect(JSON.parse(last()?.body.toString() ?? '{}')).toMatchObject({ model: 'bge-reranker' });
    expect(gateway.usage.records[gateway.usage.records.length - 1]).toMatchObject({ routeId: 'default/reranker', inputTokens: 12, outputTokens: 0 });
    const score = await post('/v1/score', { model: 'reranker', text_1: 'a', text_2: 'b' });
    expect(score.status).toBe(200);
    const tokenize = await post('/tokenize', { model: 'reranker', prompt: 'hi there' });
    expect(await tokenize.json()).toMatchObject({ count: 3, model: 'bge-reranker' });
    expect(last()?.url).toBe('/tokenize');
    const limited = await post('/v1/rerank', { model: 'reranker', query: 'q', documents: ['a'] });
    expect(limited.status).toBe(429);
    // Counted as a chat request's refusal is, with the same labels.
    expect(await metricValue(gateway, 'tollgate_rate_limit_rejections_total', { route: 'default/reranker', limit: 'requests' })).toBe(1);
  });

  it('an upstream error answer that echoes the Provider key reaches the client scrubbed (body plain or gzipped, and headers)', async () => {
    try {
      for (const [path, body] of [['/v1/moderations', { model: 'image-default', input: 'x' }], ['/v1/images/generations', { model: 'image-default', prompt: 'a cat' }]] as const) {
        for (const encoding of ['plain', 'gzip'] as const) {
          upstream.echoCredential = encoding;
          const res = await fetch(`${gateway.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER_KEY}`, 'accept-encoding': 'gzip' },
            body: JSON.stringify(body),
          });
          expect(res.status).toBe(401);
          expect(await res.json()).toEqual({ error: { message: 'Incorrect API key provided: Bearer [redacted]', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
          expect(res.headers.get('x-echo-authorization')).toBeNull();
          expect(JSON.stringify([...res.headers])).not.toContain('sk-upstream');
          expect(res.headers.get('x-tollgate-provider')).toBe('default/openai-up');
          // The gateway asks for identity; an upstream (or a proxy) may compress all the same.
          expect(last()?.headers['accept-encoding']).toBe('identity');
        }
      }
      expect(last()?.headers.authorization).toBe('Bearer sk-upstream');
    } finally {
      upstream.echoCredential = undefined;
    }
  });

  it("an upstream that cannot be reached is a 502 in OpenAI error form, in the gateway's words: not node's, which name the upstream's address", async () => {
    const res = await post('/v1/moderations', { model: 'unreachable', input: 'x' });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('upstream_unreachable');
    // Before: "pass-through to default/nowhere failed: connect ECONNREFUSED 127.0.0.1:9", to any caller of the route.
    expect(body.error.message).toBe('pass-through to default/nowhere failed: the upstream refused the connection (is anything listening at its base URL?)');
  });

  it('an upstream at a link-local (cloud instance-metadata) address is never called: 502 saying why', async () => {
    const res = await post('/v1/moderations', { model: 'metadata', input: 'x' });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('upstream_unreachable');
    expect(body.error.message).toBe('pass-through to default/metadata failed: refused to connect to [fe80::1]: a link-local or cloud instance-metadata address');
  });

  it("a request sent with expect: 100-continue goes upstream with the Provider's key, never the caller's", async () => {
    const body = JSON.stringify({ model: 'image-default', input: 'x' });
    const { port } = new URL(gateway.url);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/moderations', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${CALLER_KEY}`, expect: '100-continue' } });
      req.on('continue', () => req.end(body));
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error('no answer')));
    });
    expect(answer.status).toBe(200);
    const sent = last();
    expect(sent?.url).toBe('/v1/moderations');
    expect(sent?.headers.authorization).toBe('Bearer sk-upstream');
    expect(JSON.stringify(sent?.headers)).not.toContain(CALLER_KEY);
    expect(sent?.headers.expect).toBeUndefined();
  });

  it("an id that climbs out of its endpoint (a backslash or an escaped dot segment) is a 404 and nothing reaches the upstream", async () => {
    // The route enables files, not chat; before, these went upstream with the Provider's key as
    // /v1/chat/completions and /v1/ (the URL parser reads a backslash as "/" and %2e%2e as "..").
    const { port } = new URL(gateway.url);
    const raw = (method: string, path: string, body?: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const headers: Record<string, string | number> = { authorization: `Bearer ${CALLER_KEY}`, 'x-tollgate-model': 'image-default' };
        if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        const req = httpRequest({ host: '127.0.0.1', port, path, method, headers });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.setTimeout(10_000, () => req.destroy(new Error('no answer')));
        req.end(body);
      });
    const sent = upstream.requests.length;
    const chat = await raw('POST', '/v1/files/..\\chat\\completions', JSON.stringify({ model: 'image-default', messages: [{ role: 'user', content: 'hi' }] }));
    expect(chat.status).toBe(404);
    expect((await raw('GET', '/v1/files/%2e%2e')).status).toBe(404);
    expect((await raw('DELETE', '/v1/batches/..%5Cfiles%5Cfile-1/cancel')).status).toBe(404);
    await new Promise((r) => setTimeout(r, 50));
    expect(upstream.requests.slice(sent).map((r) => `${r.method} ${r.url}`)).toEqual([]);
  });

  // The caller's baggage (its own key-value pairs: user ids, tenants) and trace context went to the
  // provider verbatim; with tracing off the gateway sends no trace context at all, as on chat.
  it("never forwards the caller's baggage, traceparent or tracestate to the provider", async () => {
    const res = await fetch(`${gateway.url}/v1/moderations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${CALLER_KEY}`,
        baggage: 'user.id=alice-7,tenant=acme',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'vendor=caller-state',
      },
      body: JSON.stringify({ model: 'image-default', input: 'x' }),
    });
    expect(res.status).toBe(200);
    const sent = last();
    expect(sent?.url).toBe('/v1/moderations');
    expect(sent?.headers.baggage).toBeUndefined();
    expect(sent?.headers.traceparent).toBeUndefined();
    expect(sent?.headers.tracestate).toBeUndefined();
    expect(JSON.stringify(sent?.headers)).not.toContain('alice-7');
  });

  it("never forwards the caller's Proxy-Authorization or cookies to the provider (meant for a proxy in front of the gateway, they reached a server the Provider's owner controls)", async () => {
    const res = await fetch(`${gateway.url}/v1/moderations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${CALLER_KEY}`,
        'proxy-authorization': 'Basic cHJveHktdXNlcjpwcm94eS1zZWNyZXQ=',
        cookie: 'session=caller-cookie',
      },
      body: JSON.stringify({ model: 'image-default', input: 'x' }),
    });
    expect(res.status).toBe(200);
    const sent = last();
    expect(sent?.url).toBe('/v1/moderations');
    expect(sent?.headers['proxy-authorization']).toBeUndefined();
    expect(sent?.headers.cookie).toBeUndefined();
    expect(JSON.stringify(sent?.headers)).not.toContain('cHJveHktdXNlcjpwcm94eS1zZWNyZXQ=');
  });

  it('identity and access apply: no credential is a 401, an unknown model a 404', async () => {
    const anonymous = await post('/v1/moderations', { model: 'image-default', input: 'x' }, '');
    expect(anonymous.status).toBe(401);
    const unknown = await post('/v1/moderations', { model: 'nope', input: 'x' });
    expect(unknown.status).toBe(404);
  });
});
