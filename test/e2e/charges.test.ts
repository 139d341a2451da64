import { request } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// What a request is charged beyond its usage at the standard prices. Attempts the upstream had and
// may have billed, though they served nobody: one that timed out after the request was sent, and a
// complete answer too large to read, each charged besides what served, never nothing: the worst case
// (prompt estimate plus the output cap) for a non-streaming attempt that timed out (the upstream
// finishes and bills it; before, only its prompt estimate was charged) and for the too-large answer,
// the prompt estimate for a stream's attempt that timed out before its first chunk. And a service tier billed above the
// Provider's prices (OpenAI's priority).

let upstream: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway({
    // $1,000 per million tokens both ways: a token is a tenth of a cent.
    'provider.yaml': openAiProvider('up', upstream.baseUrl, '  models: [{ name: m, pricing: { input: 1000, output: 1000 } }, { name: search-m, pricing: { input: 1000, output: 1000, perWebSearch: 0.5 } }]\n'),
    'route.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  targets: [{ providerRef: { name: up }, model: m }]
  timeouts: { attempt: 300ms, total: 10s }
  retry: { attempts: 2, retryOn: [Timeout], backoff: { initial: 1ms, max: 2ms } }
  limits: { maxResponseBytes: 2048 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: search-chat }
spec:
  model: search-chat
  targets: [{ providerRef: { name: up }, model: search-m }]
  timeouts: { attempt: 300ms, total: 10s }
  retry: { attempts: 2, retryOn: [Timeout], backoff: { initial: 1ms, max: 2ms } }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: slow-retry }
spec:
  model: slow-retry
  targets: [{ providerRef: { name: up }, model: m }]
  timeouts: { attempt: 300ms, total: 10s }
  retry: { attempts: 2, retryOn: [Timeout], backoff: { initial: 2s, max: 2s } }
`,
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

/** The prompt estimate of `ask`'s message (learnt from the first test's charge). */
let promptEstimate = 0;
const ask = () => client.chat.completions.create({ model: 'chat', max_tokens: 50, messages: [{ role: 'user', content: 'hello there' }] });
const lastRecord = () => gateway.usage.records.at(-1);

describe('attempts an upstream may have billed', () => {
  it('a timed-out attempt before the retry that served is charged its worst case besides the answer', async () => {
    upstream.script({ kind: 'ok', delayMs: 1_000 }, { kind: 'ok', usage: { prompt: 10, completion: 5 } });
    const before = gateway.usage.records.length;
    await ask();
    expect(gateway.usage.records.length).toBe(before + 1);
    const rec = lastRecord();
    promptEstimate = (rec?.inputTokens ?? 0) - 10;
    expect(promptEstimate).toBeGreaterThan(0);
    // The upstream finished the timed-out request and billed its answer too: its output cap (max_tokens 50).
    expect(rec).toMatchObject({ outputTokens: 5 + 50, estimated: true, estimateReason: 'lost_attempt' });
    expect(rec?.costUsd).toBeCloseTo(((rec?.inputTokens ?? 0) + 55) / 1000, 9);
  });

  it('a request whose every attempt timed out is charged each attempt, and refused', async () => {
    upstream.script({ kind: 'ok', delayMs: 1_000 });
    const before = gateway.usage.records.length;
    const err = await ask().then(
      () => undefined,
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
    expect(err?.status).toBe(504);
    const recs = gateway.usage.records.slice(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ estimated: true, estimateReason: 'lost_attempt', outputTokens: 2 * 50 });
    // Two attempts, the worst case each.
    expect(recs[0]?.inputTokens).toBe(2 * promptEstimate);
    expect(recs[0]?.costUsd).toBeCloseTo(((recs[0]?.inputTokens ?? 0) + 100) / 1000, 9);
  });

  it("a stream's attempt that timed out before its first chunk is charged its prompt estimate (the stream stops upstream with it)", async () => {
    upstream.script({ kind: 'hang' }, { kind: 'stream', chunks: 2, intervalMs: 0 });
    const before = gateway.usage.records.length;
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, max_tokens: 50, messages: [{ role: 'user', content: 'hello there' }] });
    for await (const _ of stream);
    await expect.poll(() => gateway.usage.records.length, { timeout: 3_000 }).toBe(before + 1);
    const rec = gateway.usage.records[before];
    // The served stream's usage (7 prompt, 2 completion tokens) plus the lost attempt's prompt estimate, no output for it.
    expect(rec).toMatchObject({ estimateReason: 'lost_attempt', inputTokens: 7 + promptEstimate, outputTokens: 2 });
  });

  it("a search model's stream attempt that timed out before its first chunk is charged the search it was asked for, besides its prompt estimate", async () => {
    upstream.script({ kind: 'hang' }, { kind: 'stream', chunks: 2, intervalMs: 0 });
    const before = gateway.usage.records.length;
    // web_search_options is newer than this client's types.
    const body = { model: 'search-chat', stream: true, max_tokens: 50, web_search_options: {}, messages: [{ role: 'user', content: 'hello there' }] } as OpenAI.Chat.ChatCompletionCreateParamsStreaming;
    const stream = await client.chat.completions.create(body);
    for await (const _ of stream);
    await expect.poll(() => gateway.usage.records.length, { timeout: 3_000 }).toBe(before + 1);
    const rec = gateway.usage.records[before];
    expect(rec).toMatchObject({ estimateReason: 'lost_attempt' });
    // Two searches at $0.5: the served stream's and the lost attempt's, which ran before its first token. Before, the served one only.
    expect(rec?.costUsd).toBeCloseTo(((rec?.inputTokens ?? 0) + (rec?.outputTokens ?? 0)) / 1000 + 1, 9);
  });

  it('a successful answer whose connection broke off in its body is charged its worst case (the upstream did all of it)', async () => {
    // Headers 200, a first piece of the body, then the socket is destroyed. Before, the attempt was charged nothing.
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 50, failAfter: 1 });
    const before = gateway.usage.records.length;
    const err = await ask().then(
      () => undefined,
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
    expect(err?.status).toBe(502);
    expect(err?.message).toContain('in the middle of its answer');
    const recs = gateway.usage.records.slice(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ estimateReason: 'lost_attempt', inputTokens: promptEstimate, outputTokens: 50 });
  });

  it('a complete answer too large to read is charged its worst case (the prompt estimate plus max_tokens)', async () => {
    upstream.script({ kind: 'ok', content: 'x'.repeat(4_000) });
    const before = gateway.usage.records.length;
    const err = await ask().then(
      () => undefined,
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
    expect(err?.status).toBe(502);
    const recs = gateway.usage.records.slice(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ estimateReason: 'lost_attempt', inputTokens: promptEstimate, outputTokens: 50 });
    expect(recs[0]?.costUsd).toBeCloseTo((promptEstimate + 50) / 1000, 9);
  });
});

describe('attempts an upstream may have billed, for a client that left', () => {
  /** Sends `ask`'s request to `model` and hangs up after `ms`, or when `leave` resolves. */
  const sendAndLeave = (model: string, leave: number | (() => Promise<void>)): Promise<void> =>
    new Promise((resolve) => {
      const req = request(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('error', () => resolve());
      req.end(JSON.stringify({ model, max_tokens: 50, messages: [{ role: 'user', content: 'hello there' }] }));
      const hangUp = (): void => {
        req.destroy();
        resolve();
      };
      if (typeof leave === 'number') setTimeout(hangUp, leave);
      else void leave().then(hangUp);
    });

  it('a client that left before a too-large answer came: its worst case is charged (lost_attempt)', async () => {
    // Before, the router saw the client gone after the lost attempt and nothing was charged.
    upstream.script({ kind: 'ok', delayMs: 200, content: 'x'.repeat(4_000) });
    const before = gateway.usage.records.length;
    const sent = upstream.requests.length;
    // Leaves once the upstream has the request, before its answer (200 ms later, within the attempt timeout).
    await sendAndLeave('chat', () => expect.poll(() => upstream.requests.length, { timeout: 5_000 }).toBe(sent + 1));
    await expect.poll(() => gateway.usage.records.length, { timeout: 3_000 }).toBe(before + 1);
    const rec = gateway.usage.records[before];
    expect(rec).toMatchObject({ estimateReason: 'lost_attempt', inputTokens: promptEstimate, outputTokens: 50 });
    expect(rec?.costUsd).toBeCloseTo(0.06, 9);
  });

  it('a client that left before its non-streaming attempt timed out: its worst case is charged (lost_attempt)', async () => {
    // Before, the attempt read on without its client was taken, when it timed out, for a client gone: its prompt estimate only.
    upstream.script({ kind: 'ok', delayMs: 1_000 });
    const before = gateway.usage.records.length;
    const sent = upstream.requests.length;
    await sendAndLeave('chat', () => expect.poll(() => upstream.requests.length, { timeout: 5_000 }).toBe(sent + 1));
    await expect.poll(() => gateway.usage.records.length, { timeout: 3_000 }).toBe(before + 1);
    expect(upstream.requests.length - sent).toBe(1);
    expect(gateway.usage.records[before]).toMatchObject({ estimateReason: 'lost_attempt', inputTokens: promptEstimate, outputTokens: 50 });
  });

  it('a client that left during the backoff after a timed-out attempt: its worst case is charged (lost_attempt)', async () => {
    upstream.script({ kind: 'ok', delayMs: 1_000 });
    const before = gateway.usage.records.length;
    const sent = upstream.requests.length;
    // The client leaves as soon as the attempt has timed out (the gateway closed the upstream
    // request), during the backoff: full jitter would make that 0–2 s, held near its ceiling here
    // (the gateway runs in this process) until the charge is recorded. Leaving on a timer instead
    // raced the timeout on a busy machine.
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.99);
    try {
      await sendAndLeave('slow-retry', async () => {
        await expect.poll(() => upstream.requests.length, { timeout: 5_000 }).toBe(sent + 1);
        await upstream.requests[sent]?.aborted;
      });
      await expect.poll(() => gateway.usage.records.length, { timeout: 3_000 }).toBe(before + 1);
    } finally {
      random.mockRestore();
    }
    expect(upstream.requests.length - sent).toBe(1);
    const rec = gateway.usage.records[before];
    expect(rec).toMatchObject({ estimateReason: 'lost_attempt', inputTokens: promptEstimate, outputTokens: 50 });
    expect(rec?.costUsd).toBeCloseTo((promptEstimate + 50) / 1000, 9);
  });
});

describe('a service tier billed above the standard prices', () => {
  it('an answer the upstream ran at the priority tier is charged twice the standard prices', async () => {
    const chunk = (delta: object, finish: string | null, extra: object = {}) => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', service_tier: 'priority', choices: [{ index: 0, delta, finish_reason: finish }], ...extra });
    upstream.script({
      kind: 'events',
      events: [chunk({ role: 'assistant', content: 'fast' }, null), chunk({}, 'stop'), { ...chunk({}, null), choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } }],
    });
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, service_tier: 'priority', messages: [{ role: 'user', content: 'hello there' }] });
    for await (const _ of stream);
    await new Promise((r) => setTimeout(r, 20));
    expect(lastRecord()).toMatchObject({ inputTokens: 10, outputTokens: 5, estimated: false });
    // 15 tokens at $1,000 per million, twice.
    expect(lastRecord()?.costUsd).toBeCloseTo(0.03, 9);
  });

  it('a request that asked for the priority tier is charged twice for what is estimated: an answer without usage, an attempt that timed out', async () => {
    // Before, an estimate was priced at the standard prices whatever the tier asked for.
    upstream.script({ kind: 'ok', delayMs: 1_000 }, { kind: 'ok', rawUsage: null, content: 'x'.repeat(40) });
    const before = gateway.usage.records.length;
    await client.chat.completions.create({ model: 'chat', max_tokens: 50, service_tier: 'priority', messages: [{ role: 'user', content: 'hello there' }] });
    const rec = gateway.usage.records[before];
    // The timed-out attempt's worst case plus the answer's estimate (10 output tokens for its 40 bytes), at twice $1,000 per million.
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'missing', inputTokens: 2 * promptEstimate, outputTokens: 50 + 10 });
    expect(rec?.costUsd).toBeCloseTo((2 * (2 * promptEstimate + 60)) / 1000, 9);
  });
});
