import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REASONING_TOKENS_PER_SECOND } from '../../dataplane/metering/reasoning-bound.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// A stream cut short (the client stops it, or leaves) before its usage: a reasoning model reasoned
// before its first token, unseen, and is charged a bound on it (the time to its first token at the
// model's ceiling speed) besides what it showed; never its worst case, and a model that does not
// reason is charged what it showed, as before. Before, a reasoning model's hidden reasoning was
// charged nothing.

let upstream: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;

const route = (name: string, model: string) => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: ${model} }]
  timeouts: { total: 20s, streamIdle: 5s }
---
`;

/** The output cap every request asks for: its worst case is this many output tokens. */
const CAP = 100_000;
/** gpt-5's prices; an unknown model that its pricing says reasons at 100 tokens/s. */
const MODELS = `  models:
    - { name: gpt-5, pricing: { input: 1.25, output: 10 } }
    - { name: plain-model, pricing: { input: 1.25, output: 10 } }
    - { name: house-reasoner, pricing: { input: 1.25, output: 10, reasoningTokensPerSecond: 100 } }
`;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway({
    'provider.yaml': openAiProvider('up', upstream.baseUrl, MODELS),
    'routes.yaml':
      route('reasoner', 'gpt-5') +
      route('plain', 'plain-model') +
      route('house', 'house-reasoner') +
      `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: retried }
spec:
  model: retried
  targets: [{ providerRef: { name: up }, model: gpt-5 }]
  timeouts: { attempt: 300ms, total: 10s }
  retry: { attempts: 2, retryOn: [Timeout], backoff: { initial: 1ms, max: 2ms } }
---
`,
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

const records = (name: string) => gateway.usage.records.filter((r) => r.routeId === `default/${name}`);

/**
 * Streams from `model` and stops after `tokens` content chunks (a client's stop button): the
 * milliseconds from the request to the first of them, and to the stop, as the client saw them.
 */
async function stopAfter(model: string, tokens: number): Promise<{ firstMs: number; stopMs: number }> {
  const stop = new AbortController();
  const started = Date.now();
  let firstMs = 0;
  let seen = 0;
  const stream = await client.chat.completions.create(
    { model, stream: true, max_completion_tokens: CAP, messages: [{ role: 'user', content: 'think, then answer' }] },
    { signal: stop.signal },
  );
  try {
    for await (const c of stream) {
      if ((c.choices[0]?.delta.content ?? '') === '') continue;
      if (seen++ === 0) firstMs = Date.now() - started;
      if (seen >= tokens) break;
    }
  } finally {
    stop.abort();
  }
  return { firstMs, stopMs: Date.now() - started };
}

describe('a stream cut short is charged a bound on the reasoning it never showed', () => {
  it('a reasoning model stopped after 3 tokens that came after 400 ms: at least 400 ms at the ceiling speed, far under its worst case', async () => {
    upstream.script({ kind: 'stream', chunks: 50, intervalMs: 50, firstDelayMs: 400 });
    const before = records('reasoner').length;
    const { firstMs, stopMs } = await stopAfter('reasoner', 3);
    await until(() => records('reasoner').length > before);
    const rec = records('reasoner').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'cut_reasoning_bound' });
    const out = rec?.outputTokens ?? 0;
    // The bound: the time to the first token (at least the 400 ms the upstream waited) × 4000/s, plus what was shown.
    expect(out).toBeGreaterThanOrEqual((400 * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000 + 3);
    // No more than the client's own measure of that time (the gateway's is inside it) allows, and far under the worst case.
    expect(out).toBeLessThanOrEqual((firstMs * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000 + 3 + 50);
    expect(out).toBeLessThan(CAP);
    expect(rec?.costUsd).toBeLessThan((CAP * 10) / 1e6);
    expect(stopMs).toBeGreaterThanOrEqual(firstMs);
  });

  it('a reasoning model the client left while it reasoned (no token yet): the time until the cut at the ceiling speed', async () => {
    upstream.script({ kind: 'stream', chunks: 5, intervalMs: 0, firstDelayMs: 3_000 });
    const before = records('reasoner').length;
    const stop = new AbortController();
    const started = Date.now();
    const pending = client.chat.completions
      .create({ model: 'reasoner', stream: true, max_completion_tokens: CAP, messages: [{ role: 'user', content: 'think long' }] }, { signal: stop.signal })
      .catch((e: unknown) => e);
    // 500 ms after the upstream had the request (the gateway sent it before): the bound's window is at least that.
    await until(() => JSON.stringify(upstream.requests.at(-1)?.body ?? {}).includes('think long'));
    await new Promise((r) => setTimeout(r, 500));
    stop.abort();
    const leftMs = Date.now() - started;
    await pending;
    await until(() => records('reasoner').length > before);
    const rec = records('reasoner').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'cut_reasoning_bound' });
    expect(rec?.outputTokens).toBeGreaterThanOrEqual((500 * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000);
    expect(rec?.outputTokens).toBeLessThanOrEqual(((leftMs + 200) * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000);
    expect(rec?.outputTokens).toBeLessThan(CAP);
  });

  it('a model its pricing gives a speed of 100 tokens/s is bounded at that speed', async () => {
    upstream.script({ kind: 'stream', chunks: 50, intervalMs: 50, firstDelayMs: 400 });
    const before = records('house').length;
    const { firstMs } = await stopAfter('house', 3);
    await until(() => records('house').length > before);
    const rec = records('house').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'cut_reasoning_bound' });
    expect(rec?.outputTokens).toBeGreaterThanOrEqual(40 + 3);
    expect(rec?.outputTokens).toBeLessThanOrEqual(Math.ceil(firstMs / 10) + 3 + 5);
  });

  it('a model that does not reason is charged what it showed, as before', async () => {
    upstream.script({ kind: 'stream', chunks: 50, intervalMs: 50, firstDelayMs: 400 });
    const before = records('plain').length;
    await stopAfter('plain', 3);
    await until(() => records('plain').length > before);
    const rec = records('plain').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'truncated' });
    expect(rec?.outputTokens).toBeLessThan(20);
  });

  it("a reasoning model's stream attempt that timed out while it reasoned (before its first chunk) is charged the bound for the time it ran, besides what served", async () => {
    upstream.script({ kind: 'hang' }, { kind: 'stream', chunks: 2, intervalMs: 0 });
    const before = records('retried').length;
    const stream = await client.chat.completions.create({ model: 'retried', stream: true, max_completion_tokens: CAP, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'retry me' }] });
    for await (const _ of stream) void _;
    await until(() => records('retried').length > before);
    const rec = records('retried').at(-1);
    // The served stream's 2 tokens, and the lost attempt's 300 ms at the ceiling speed (1200 tokens) at least.
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'lost_attempt' });
    expect(rec?.outputTokens).toBeGreaterThanOrEqual(2 + (300 * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000);
    expect(rec?.outputTokens).toBeLessThan(2 + (1_000 * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000);
  });

  it('a reasoning model whose stream ends normally without usage (a server that ignores include_usage) is charged the bound too, marked missing', async () => {
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0, firstDelayMs: 400, omitUsage: true });
    const before = records('reasoner').length;
    const started = Date.now();
    const stream = await client.chat.completions.create({ model: 'reasoner', stream: true, max_completion_tokens: CAP, messages: [{ role: 'user', content: 'no usage' }] });
    for await (const _ of stream) void _;
    const tookMs = Date.now() - started;
    await until(() => records('reasoner').length > before);
    const rec = records('reasoner').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'missing' });
    expect(rec?.outputTokens).toBeGreaterThanOrEqual((400 * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000 + 3);
    expect(rec?.outputTokens).toBeLessThanOrEqual(((tookMs + 50) * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000 + 3 + 50);
  });

  it('a model that does not reason, its stream ended without usage, is charged what it showed, as before', async () => {
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0, firstDelayMs: 400, omitUsage: true });
    const before = records('plain').length;
    const stream = await client.chat.completions.create({ model: 'plain', stream: true, max_completion_tokens: CAP, messages: [{ role: 'user', content: 'no usage' }] });
    for await (const _ of stream) void _;
    await until(() => records('plain').length > before);
    const rec = records('plain').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'missing' });
    expect(rec?.outputTokens).toBeLessThan(20);
  });

  it('a reasoning model whose stream completes with usage is charged that usage', async () => {
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0, firstDelayMs: 200, reasoningTokens: 40 });
    const before = records('reasoner').length;
    const stream = await client.chat.completions.create({ model: 'reasoner', stream: true, max_completion_tokens: CAP, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'whole' }] });
    for await (const _ of stream) void _;
    await until(() => records('reasoner').length > before);
    expect(records('reasoner').at(-1)).toMatchObject({ estimated: false, outputTokens: 43 });
  });
});
