import { request } from 'node:http';
import OpenAI, { toFile } from 'openai';
import { SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestUsage } from '../../dataplane/config/request-usage.js';
import { type PassThroughEmulator, startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { metricValue } from '../support/admin-metrics.js';

// What pass-through requests that run a model are charged: a Responses compaction (its answer's
// usage, and its prompt held by a Budget at admission), while counting input tokens stays free; and
// an answer the client left before its end (read on to its end, its usage charged).

const PROVIDERS =
  providerManifest('oai', 'openai', '${URL}/v1', '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-5, pricing: { input: 1.25, output: 10, cachedInput: 0.125 } }, { name: gpt-image-1, pricing: { input: 5, output: 40 } }, { name: whisper-1, pricing: { perAudioSecond: 0.0001 } }, { name: gpt-4o-transcribe, pricing: { input: 2.5, output: 10, audioInput: 6 } }, { name: dall-e-3, pricing: { perImage: 0.04 } }]\n') +
  secretManifest('up-key', { apiKey: 'sk-upstream' });

const route = (name: string, model = 'gpt-5', endpoint = 'responses', timeouts = ''): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: oai }, model: ${model} }]
  passThrough: { endpoints: [${endpoint}], maxUploadBytes: 4194304 }
${timeouts}---
`;

// 10 cents a day on the capped route: a compaction's hold (its prompt estimate at the input price
// and the 4,096-token output cap at the output price) must fit.
const BUDGET = `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: capped }
spec:
  limit: { amount: 0.1, unit: USD }
  period: Day
  subjects: { routes: [{ name: capped }] }
`;

// 10 cents a day on a gpt-image route: an images request's hold (its images' output tokens at most) must fit.
const IMAGE_BUDGET = `---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: img-capped }
spec:
  limit: { amount: 0.1, unit: USD }
  period: Day
  subjects: { routes: [{ name: img-capped }] }
`;

// $1 a day on a gpt-image edit route: a small form's hold (its output image, $0.43, and the input
// images its length can carry) fits; 17 input images at 7,000 tokens ($0.60) with it do not.
const EDIT_BUDGET = `---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: edit-capped }
spec:
  limit: { amount: 1, unit: USD }
  period: Day
  subjects: { routes: [{ name: edit-capped }] }
`;

// A Budget on the route whose upstream hangs: what it holds must be released when the request settles.
const HANG_BUDGET = `---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: hang }
spec:
  limit: { amount: 100, unit: USD }
  period: Day
  subjects: { routes: [{ name: img-hang }] }
`;

describe('pass-through metering of requests that run a model', () => {
  let upstream: PassThroughEmulator;
  let gateway: TestGateway;
  let client: OpenAI;
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  /** Usage history: every finished request, with its cost. */
  const history: { record: RequestUsage; cost: number }[] = [];

  beforeAll(async () => {
    upstream = await startPassThroughEmulator('sk-upstream');
    gateway = await startTestGateway({ 'providers.yaml': PROVIDERS.replace('${URL}', upstream.url), 'routes.yaml': route('agent') + route('agent-short', 'gpt-5', 'responses', '  timeouts: { total: 200ms }\n') + route('capped') + route('img', 'gpt-image-1', 'images') + route('img-short', 'gpt-image-1', 'images', '  timeouts: { total: 200ms }\n') + route('stt', 'whisper-1', 'audio') + route('img-hang', 'dall-e-3', 'images', '  timeouts: { total: 300ms }\n') + route('img-capped', 'gpt-image-1', 'images') + route('edit-capped', 'gpt-image-1', 'images') + BUDGET + HANG_BUDGET + IMAGE_BUDGET + EDIT_BUDGET }, { admin: true, tracer: tracerProvider.getTracer('passthrough-metering'), onRequest: (record, cost) => void history.push({ record, cost }) });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await tracerProvider.shutdown();
  });

  const settled = (): Promise<void> => new Promise((r) => setTimeout(r, 100));

  it('charges a compaction (POST /v1/responses/compact) the usage its answer reports', async () => {
    const before = gateway.usage.records.length;
    const compacted = await client.responses.compact({ model: 'agent', input: [{ role: 'user', content: 'a long conversation ...' }] });
    expect(compacted.object).toBe('response.compaction');
    expect(upstream.requests.at(-1)?.url).toBe('/v1/responses/compact');
    expect(JSON.parse(upstream.requests.at(-1)?.body.toString('utf8') ?? '{}')).toMatchObject({ model: 'gpt-5' });
    await settled();
    const records = gateway.usage.records.slice(before);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ routeId: 'default/agent', inputTokens: 180_000, cachedInputTokens: 20_000, outputTokens: 6_000, estimated: false });
    // 160,000 uncached at 1.25, 20,000 cached at 0.125, 6,000 out at 10 (USD per million).
    expect(records[0]?.costUsd).toBeCloseTo(0.2625, 6);
  });

  it('leaves input token counting (POST /v1/responses/input_tokens) free: not a stored response id', async () => {
    const before = gateway.usage.records.length;
    const counted = await client.responses.inputTokens.count({ model: 'agent', input: 'hello' });
    expect(counted.input_tokens).toBe(42);
    expect(upstream.requests.at(-1)?.url).toBe('/v1/responses/input_tokens');
    await settled();
    expect(gateway.usage.records.slice(before)).toEqual([]);
  });

  it('holds a compaction prompt against a Budget at admission: one that cannot fit is refused before the upstream, counted in tollgate_budget_rejections_total', async () => {
    const sent = upstream.requests.length;
    // ~100,000 tokens of prompt: $0.125 at the input price alone, over the 10-cent Budget.
    const res = await fetch(`${gateway.url}/v1/responses/compact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'capped', input: [{ role: 'user', content: 'word '.repeat(80_000) }] }),
    });
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('budget_exceeded');
    expect(upstream.requests.length).toBe(sent);
    // Counted as a chat request's refusal is, with the same labels.
    expect(await metricValue(gateway, 'tollgate_budget_rejections_total', { route: 'default/capped', budget: 'default/capped', action: 'reject' })).toBe(1);
  });

  it('holds the most a gpt-image request\'s images can be billed against a Budget at admission: one that cannot fit is refused before the upstream', async () => {
    const sent = upstream.requests.length;
    const images = (body: object): Promise<Response> => fetch(`${gateway.url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'img-capped', prompt: 'a cat', ...body }) });
    // Four high 1536×1024 images: up to 4 × 10,650 output tokens, $1.70 at $40 a million, over the 10-cent Budget.
    // Before, only the unit prices (none for gpt-image-1) were held: admitted, and billed past the Budget.
    const refused = await images({ n: 4, size: '1536x1024', quality: 'high' });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('budget_exceeded');
    expect(upstream.requests.length).toBe(sent);
    // One medium 1024×1024 image (at most 1,800 tokens: $0.072) fits.
    expect((await images({ size: '1024x1024', quality: 'medium' })).status).toBe(200);
  });

  it("holds a gpt-image edit form's input images at most at what its length can carry, 17 at most", async () => {
    const boundary = 'b0undary';
    const part = (name: string, value: string, file?: string) => `--${boundary}\r\ncontent-disposition: form-data; name="${name}"${file === undefined ? '' : `; filename="${file}"`}\r\n\r\n${value}\r\n`;
    const body = Buffer.from(`${part('model', 'edit-capped')}${part('prompt', 'paint it blue')}${part('image[]', 'x'.repeat(64), 'a.png')}--${boundary}--\r\n`, 'latin1');
    const edit = (chunked: boolean): Promise<number> =>
      new Promise((resolve, reject) => {
        const { port } = new URL(gateway.url);
        const headers: Record<string, string | number> = { 'content-type': `multipart/form-data; boundary=${boundary}`, 'x-tollgate-model': 'edit-capped', ...(chunked ? {} : { 'content-length': body.length }) };
        const r = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/images/edits', headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        r.on('error', reject);
        // Written before it ends: Node sends it chunked when no length is given.
        if (chunked) r.write(body);
        r.end(chunked ? undefined : body);
      });
    // Its 309 bytes carry at most 6 image parts of 46 bytes: 42,000 input tokens ($0.21) and its
    // output image ($0.43) fit the $1 Budget. Before, 17 were held ($0.60 + $0.43): refused.
    expect(await edit(false)).toBe(200);
    // A form of no declared length may be as long as the route takes: 17.
    expect(await edit(true)).toBe(429);
  });

  /** POSTs an images request and leaves (destroys the connection) once `leave` says so of what has come of the answer. */
  const leaveImages = (body: object, leave: (soFar: string) => boolean, requestId?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const { port } = new URL(gateway.url);
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...(requestId === undefined ? {} : { 'x-request-id': requestId }) };
      const r = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/images/generations', headers }, (res) => {
        let soFar = '';
        res.on('data', (c: Buffer) => {
          soFar += c.toString('latin1');
          if (leave(soFar)) {
            r.destroy();
            resolve(soFar);
          }
        });
        res.on('end', () => reject(new Error('the answer ended before the client left')));
      });
      r.on('error', () => undefined);
      r.end(data);
    });
  const recordsAfter = async (before: number): Promise<typeof gateway.usage.records> => {
    for (let i = 0; i < 300 && gateway.usage.records.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    await settled();
    return gateway.usage.records.slice(before);
  };

  it('reads on a streamed images answer the client left after its first image: the images the upstream made are charged their usage', async () => {
    const before = gateway.usage.records.length;
    // Two images, the second 400 ms after the first; the client leaves once the first (with its usage) has come.
    const seen = await leaveImages({ model: 'img', prompt: 'slow cats', stream: true, n: 2 }, (s) => s.includes('"usage"') && s.endsWith('\n\n'));
    expect(seen).toContain('image_generation.completed');
    const records = await recordsAfter(before);
    expect(records).toHaveLength(1);
    // Each image: 100 output tokens; the one 10-token prompt both events repeat is charged once
    // (image-stream-reader.ts). Before, nothing was charged (no unit price is set).
    expect(records[0]?.outputTokens).toBeGreaterThanOrEqual(100);
    expect(records[0]).toMatchObject({ inputTokens: 10, outputTokens: 200, estimated: false });
    expect(records[0]?.costUsd).toBeCloseTo((10 * 5 + 200 * 40) / 1e6, 9);
  });

  it('reads on a JSON images answer the client left before its usage came: charged that usage', async () => {
    const before = gateway.usage.records.length;
    await leaveImages({ model: 'img', prompt: 'a slow cat' }, (s) => s.length > 0);
    const records = await recordsAfter(before);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ inputTokens: 10, outputTokens: 100, estimated: false });
    expect(records[0]?.costUsd).toBeCloseTo((10 * 5 + 100 * 40) / 1e6, 9);
  });

  it('reads on no longer than the route total timeout: then what was read is charged, marked client_gone', async () => {
    const before = gateway.usage.records.length;
    await leaveImages({ model: 'img-short', prompt: 'slow cats', stream: true, n: 2 }, (s) => s.includes('"usage"') && s.endsWith('\n\n'));
    const records = await recordsAfter(before);
    // The second image comes 400 ms after the first, past the 200 ms timeout: the first one's usage.
    expect(records).toMatchObject([{ inputTokens: 10, outputTokens: 100, estimated: true, estimateReason: 'client_gone' }]);
  });

  /** POSTs an images request and leaves (destroys the connection) after `ms`, before any answer; rejects if an answer came first. */
  const leaveBeforeAnswer = (body: object, ms: number, url = gateway.url, requestId?: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const { port } = new URL(url);
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...(requestId === undefined ? {} : { 'x-request-id': requestId }) };
      const r = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/images/generations', headers }, () => reject(new Error('the answer started before the client left')));
      r.on('error', () => undefined);
      r.end(data);
      setTimeout(() => {
        r.destroy();
        resolve();
      }, ms);
    });

  it('reads the answer of a client that left before it started (the whole request sent): charged its real usage', async () => {
    const before = gateway.usage.records.length;
    // The emulator answers 300 ms late; the client leaves after 100 ms.
    await leaveBeforeAnswer({ model: 'img', prompt: 'a late cat' }, 100);
    const records = await recordsAfter(before);
    // Before, the exchange ended with the client and only unit prices were charged: none here, no record.
    expect(records).toMatchObject([{ routeId: 'default/img', inputTokens: 10, outputTokens: 100, estimated: false }]);
    expect(records[0]?.costUsd).toBeCloseTo((10 * 5 + 100 * 40) / 1e6, 9);
  });

  it('ends the SERVER span of an answer read on for a client that left once it is charged: its usage and cost on it, client_gone as attribute and event; its usage history too', async () => {
    const serverSpan = async (requestId: string): Promise<ReadableSpan | undefined> => {
      await tracerProvider.forceFlush();
      return spans.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['tollgate.request_id'] === requestId);
    };
    const cost = (10 * 5 + 100 * 40) / 1e6;
    // Left after the answer started (its usage still to come), and before it started (the whole request sent).
    for (const [requestId, leave] of [
      ['req-left-mid-answer', () => leaveImages({ model: 'img', prompt: 'a slow cat' }, (s) => s.length > 0, 'req-left-mid-answer')],
      ['req-left-before-answer', () => leaveBeforeAnswer({ model: 'img', prompt: 'a late cat' }, 100, gateway.url, 'req-left-before-answer')],
    ] as const) {
      const before = gateway.usage.records.length;
      await leave();
      const records = await recordsAfter(before);
      expect(records).toMatchObject([{ inputTokens: 10, outputTokens: 100, estimated: false }]);
      // Before, the span ended as the client left: without the usage it was charged once the answer had been read.
      const span = await serverSpan(requestId);
      expect(span?.attributes).toMatchObject({ 'tollgate.client_gone': true, 'tollgate.usage.estimated': false, 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 100 });
      expect(span?.attributes['tollgate.cost_usd']).toBeCloseTo(cost, 9);
      expect(span?.events.map((e) => [e.name, e.attributes])).toContainEqual(['tollgate.client_gone', { 'tollgate.answer.read_on': true }]);
      // The client left before it was read: its span ends after that.
      const goneAt = span?.events.find((e) => e.name === 'tollgate.client_gone')?.time;
      expect(goneAt !== undefined && span !== undefined && (span.endTime[0] - goneAt[0]) * 1e9 + (span.endTime[1] - goneAt[1]) > 0).toBe(true);
      // And its usage history (which the console and UsageReports show) has the tokens and cost.
      const reported = history.filter((h) => h.record.route === 'default/img').at(-1);
      expect(reported?.record).toMatchObject({ inputTokens: 10, outputTokens: 100 });
      expect(reported?.cost).toBeCloseTo(cost, 9);
    }
  });

  it('a compaction whose upstream never answered by the timeout: charged its worst case, the prompt estimate and the output cap', async () => {
    // The upstream finishes a request whose caller hung up and bills its answer. Before, only the prompt estimate was charged.
    const before = gateway.usage.records.length;
    upstream.hang = true;
    try {
      const res = await fetch(`${gateway.url}/v1/responses/compact`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'agent-short', input: [{ role: 'user', content: 'a long conversation ...' }] }) });
      expect(res.status).toBe(504);
      const records = await recordsAfter(before);
      // No context window on the target: the 4,096-token default cap.
      expect(records).toMatchObject([{ routeId: 'default/agent-short', estimated: true, estimateReason: 'lost_attempt', outputTokens: 4096 }]);
      expect(records[0]?.costUsd).toBeCloseTo(((records[0]?.inputTokens ?? 0) * 1.25 + 4096 * 10) / 1e6, 8);
    } finally {
      upstream.hang = false;
    }
  });

  it('a gpt-image request whose upstream never answered by the timeout: charged the most its images can be billed, in image output tokens', async () => {
    // The upstream finishes the images and bills their tokens. Before, only the unit prices (none here) were charged: nothing.
    const before = gateway.usage.records.length;
    upstream.hang = true;
    try {
      const res = await fetch(`${gateway.url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'img-short', prompt: 'a cat', n: 2, size: '1024x1024', quality: 'medium' }) });
      expect(res.status).toBe(504);
      const records = await recordsAfter(before);
      // Two medium 1024×1024 images at 1,800 tokens each (gpt-image-1 bills 1,056): an upper bound.
      expect(records).toMatchObject([{ routeId: 'default/img-short', estimated: true, estimateReason: 'lost_attempt', inputTokens: 2, outputTokens: 3600 }]);
      expect(records[0]?.costUsd).toBeCloseTo((2 * 5 + 3600 * 40) / 1e6, 8);
    } finally {
      upstream.hang = false;
    }
  });

  it("a gpt-image edit whose upstream never answered by the timeout: its form's input images are charged too, as image input", async () => {
    // The upstream bills each input image (up to 6,240 more tokens with input_fidelity high). Before, none of them was charged or held.
    const before = gateway.usage.records.length;
    upstream.hang = true;
    try {
      const form = new FormData();
      form.append('model', 'img-short');
      form.append('prompt', 'paint it blue');
      form.append('image[]', new Blob([Buffer.alloc(64, 1)], { type: 'image/png' }), 'a.png');
      form.append('image[]', new Blob([Buffer.alloc(64, 2)], { type: 'image/png' }), 'b.png');
      form.append('mask', new Blob([Buffer.alloc(64, 3)], { type: 'image/png' }), 'mask.png');
      const res = await fetch(`${gateway.url}/v1/images/edits`, { method: 'POST', headers: { 'x-tollgate-model': 'img-short' }, body: form });
      expect(res.status).toBe(504);
      const records = await recordsAfter(before);
      // Three input images at 7,000 tokens each; the form's other fields are not read: one high image of the auto size (10,650).
      expect(records).toMatchObject([{ routeId: 'default/img-short', estimated: true, estimateReason: 'lost_attempt', inputTokens: 21_000, outputTokens: 10_650 }]);
      expect(records[0]?.costUsd).toBeCloseTo((21_000 * 5 + 10_650 * 40) / 1e6, 8);
    } finally {
      upstream.hang = false;
    }
  });

  it('an answer that never comes after its client left: charged once, at the route total timeout, its hold released', async () => {
    const before = gateway.usage.records.length;
    upstream.hang = true;
    try {
      await leaveBeforeAnswer({ model: 'img-hang', prompt: 'a cat', n: 2 }, 50);
      const records = await recordsAfter(before);
      // The upstream had all of the request: its two images are charged at their unit price.
      expect(records).toMatchObject([{ routeId: 'default/img-hang', estimated: true, estimateReason: 'lost_attempt' }]);
      expect(records[0]?.costUsd).toBeCloseTo(0.08, 9);
      await new Promise((r) => setTimeout(r, 300));
      expect(gateway.usage.records.length).toBe(before + 1);
      const budget = gateway.dataplane.store.current?.snapshot.budgets.find((b) => b.id === 'default/hang');
      expect(budget).toBeDefined();
      if (budget !== undefined) expect(gateway.dataplane.ledger.available(budget, Date.now()).reserved).toBe(0);
    } finally {
      upstream.hang = false;
    }
  });

  it('a drain (SIGTERM) charges an answer read for a client that left before it stops, and cuts one that never comes at its deadline, charged its estimate', async () => {
    const own = await startTestGateway({ 'providers.yaml': PROVIDERS.replace('${URL}', upstream.url), 'routes.yaml': route('img', 'gpt-image-1', 'images') }, { drainTimeoutMs: 200 });
    let stopped = false;
    try {
      // Answered 300 ms late; the client leaves after 100 ms; the drain starts at once.
      await leaveBeforeAnswer({ model: 'img', prompt: 'a late cat' }, 100, own.url);
      await own.close();
      stopped = true;
      // Before, the pod stopped (and reported its usage) before the answer came: nothing was charged.
      expect(own.usage.records).toMatchObject([{ routeId: 'default/img', inputTokens: 10, outputTokens: 100, estimated: false }]);
    } finally {
      if (!stopped) await own.close();
    }
    const hung = await startTestGateway({ 'providers.yaml': PROVIDERS.replace('${URL}', upstream.url), 'routes.yaml': route('img-hang', 'dall-e-3', 'images') }, { drainTimeoutMs: 200 });
    upstream.hang = true;
    try {
      await leaveBeforeAnswer({ model: 'img-hang', prompt: 'a cat' }, 50, hung.url);
      const started = Date.now();
      await hung.close();
      // Cut a second after the drain began (the route's own timeout is 300 s): its unit price.
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(hung.usage.records).toMatchObject([{ routeId: 'default/img-hang', estimated: true, estimateReason: 'client_gone', costUsd: 0.04 }]);
    } finally {
      upstream.hang = false;
    }
  });

  it('prices a translation whose answer says no duration ({text}, as whisper-1 answers json) by its upload size, marked missing', async () => {
    const before = gateway.usage.records.length;
    // 20,000 bytes at the assumed 16 kbit/s (2,000 bytes a second): 10 seconds, and the form's own bytes.
    const translated = await client.audio.translations.create({ model: 'stt', file: await toFile(Buffer.alloc(20_000), 'talk.mp3') });
    expect(translated.text).toContain('English translation');
    const records = await recordsAfter(before);
    expect(records).toMatchObject([{ routeId: 'default/stt', estimated: true, estimateReason: 'missing' }]);
    expect(records[0]?.costUsd).toBeGreaterThanOrEqual(10 * 0.0001);
    expect(records[0]?.costUsd).toBeLessThanOrEqual(11 * 0.0001);
  });

  it('prices a transcription answered as text (no duration) by its upload size; one that reports its duration by that', async () => {
    const before = gateway.usage.records.length;
    const text = await client.audio.transcriptions.create({ model: 'stt', file: await toFile(Buffer.alloc(20_000), 'talk.mp3'), response_format: 'text' });
    expect(text).toContain('heard 20000 bytes');
    const records = await recordsAfter(before);
    expect(records).toMatchObject([{ estimated: true, estimateReason: 'missing' }]);
    expect(records[0]?.costUsd).toBeGreaterThanOrEqual(10 * 0.0001);
    const reported = gateway.usage.records.length;
    await client.audio.transcriptions.create({ model: 'stt', file: await toFile(Buffer.alloc(20_000), 'talk.mp3') });
    const exact = await recordsAfter(reported);
    // The emulator's whisper-1 reports 12 seconds.
    expect(exact).toMatchObject([{ estimated: false }]);
    expect(exact[0]?.costUsd).toBeCloseTo(12 * 0.0001, 9);
  });

  it('charges a streamed transcription (gpt-4o-transcribe, stream: true) the usage of its transcript.text.done event', async () => {
    // A gateway of its own: one route per endpoint finds its route without naming it.
    const own = await startTestGateway({ 'providers.yaml': PROVIDERS.replace('${URL}', upstream.url), 'routes.yaml': route('stt-4o', 'gpt-4o-transcribe', 'audio') });
    const ownClient = new OpenAI({ apiKey: 'unused', baseURL: `${own.url}/v1`, maxRetries: 0 });
    try {
      const stream = await ownClient.audio.transcriptions.create({ model: 'stt-4o', file: await toFile(Buffer.alloc(20_000), 'talk.mp3'), stream: true });
      const events: string[] = [];
      for await (const event of stream) events.push(event.type);
      expect(events).toEqual(['transcript.text.delta', 'transcript.text.delta', 'transcript.text.delta', 'transcript.text.done']);
      for (let i = 0; i < 300 && own.usage.records.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await settled();
      // Before, the stream was not read: a token-priced route charged nothing.
      expect(own.usage.records).toMatchObject([{ routeId: 'default/stt-4o', inputTokens: 14, outputTokens: 45, estimated: false }]);
      // 2 text tokens at 2.5, 12 audio tokens at 6, 45 output tokens at 10 (USD per million).
      expect(own.usage.records[0]?.costUsd).toBeCloseTo((2 * 2.5 + 12 * 6 + 45 * 10) / 1e6, 9);
    } finally {
      await own.close();
    }
  });
});
