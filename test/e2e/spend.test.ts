import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// Spend is exact: what the gateway reserves, charges and caches for requests that multiply output,
// carry non-text prompt parts, lose their client, or get usage or streams that cannot be trusted.

let upstream: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;

const route = (name: string, model = 'm', extra = '') => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: ${model} }]
${extra}---
`;

const budget = (name: string, amount: number, routes: string[]) => `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: ${name} }
spec:
  limit: { amount: ${amount}, unit: USD }
  period: Day
  subjects: { routes: [${routes.map((r) => `{ name: ${r} }`).join(', ')}] }
  action: { type: Reject }
---
`;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway({
    // $1000 / $2000 per million tokens: one output token costs $0.002.
    'provider.yaml': openAiProvider('up', upstream.baseUrl, '  models: [{ name: m, pricing: { input: 1000, output: 2000 } }, { name: small-window, contextWindow: 8192, pricing: { input: 1000, output: 2000 } }, { name: search-m, pricing: { input: 1000, output: 2000, perWebSearch: 0.5 } }]\n'),
    'routes.yaml':
      route('fanout') +
      route('best-of') +
      route('windowed', 'small-window') +
      route('tooled') +
      route('metered') +
      route('searched', 'search-m') +
      route('search-held', 'search-m') +
      route('streamed', 'm', '  cache: { enabled: true, ttl: 5m }\n') +
      budget('fanout-budget', 1, ['fanout']) +
      budget('best-of-budget', 0.05, ['best-of']) +
      budget('tooled-budget', 0.05, ['tooled']) +
      budget('search-budget', 0.3, ['search-held']),
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

const records = (name: string) => gateway.usage.records.filter((r) => r.routeId === `default/${name}`);
const spent = (name: string) => records(name).reduce((sum, r) => sum + r.costUsd, 0);

const post = (path: string, body: unknown, signal?: AbortSignal) =>
  fetch(`${gateway.url}/v1/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal === undefined ? {} : { signal }) });

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe('budgets reserve for everything that multiplies output', () => {
  it('100 concurrent n:50 requests spend no more than the budget', async () => {
    // Each request: 5 prompt tokens + 50 choices × 5 output tokens = $0.505 of the $1 budget.
    upstream.script({ kind: 'ok', usage: { prompt: 5, completion: 5 } });
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => post('chat/completions', { model: 'fanout', n: 50, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    // The bound (docs/governance.md): the budget, plus what real usage exceeded its reservation by
    // (here none: the prompt estimate covers the 5 prompt tokens the upstream reports).
    expect(spent('fanout')).toBeLessThanOrEqual(1);
    expect(spent('fanout')).toBeGreaterThan(0.5);
  });

  it('reserves best_of completions (all generated, all billed)', async () => {
    upstream.script({ kind: 'ok' });
    // 20 candidates × 5 tokens × $0.002 = $0.20 > $0.05: refused before any upstream call.
    const before = upstream.requests.length;
    const refused = await post('completions', { model: 'best-of', prompt: 'hi', best_of: 20, max_tokens: 5 });
    expect(refused.status).toBe(429);
    expect(upstream.requests.length).toBe(before);
    const fits = await post('completions', { model: 'best-of', prompt: 'hi', max_tokens: 5 });
    expect(fits.status).toBe(200);
  });

  it('refuses an n or best_of that is not a positive integer (an upstream could coerce it)', async () => {
    const n = await post('chat/completions', { model: 'fanout', n: '50', messages: [{ role: 'user', content: 'hi' }] });
    expect(n.status).toBe(400);
    expect(((await n.json()) as { error: { param: string } }).error.param).toBe('n');
    const bestOf = await post('completions', { model: 'best-of', prompt: 'hi', best_of: 2.5 });
    expect(bestOf.status).toBe(400);
  });
});

describe('the prompt estimate counts every part providers bill', () => {
  const tools = [{ type: 'function', function: { name: 'lookup', description: 'd'.repeat(100_000), parameters: { type: 'object', properties: {} } } }];

  it('tool definitions count against the context window', async () => {
    // ~25k tokens of tools against an 8k window: refused with 400, not sent upstream.
    const before = upstream.requests.length;
    const res = await post('chat/completions', { model: 'windowed', max_tokens: 10, tools, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('context_length_exceeded');
    expect(upstream.requests.length).toBe(before);
  });

  it('tool definitions count against budgets', async () => {
    // ~25k prompt tokens at $1000 per million = $25 > $0.05.
    const res = await post('chat/completions', { model: 'tooled', max_tokens: 1, tools, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(429);
  });
});

describe('a request that reached an upstream is never charged nothing', () => {
  it('charges a non-streaming response without usage its estimated output, marked estimated', async () => {
    upstream.script({ kind: 'ok', rawUsage: null, content: 'x'.repeat(400) });
    const res = await post('chat/completions', { model: 'metered', n: 2, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    const rec = records('metered').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'missing' });
    // Two choices of 400 characters: about 200 output tokens.
    expect(rec?.outputTokens).toBeGreaterThanOrEqual(200);
  });

  it('charges all-zero usage (an absent usage object, as the non-OpenAI mappers read it) the estimate', async () => {
    upstream.script({ kind: 'ok', rawUsage: {}, content: 'y'.repeat(80) });
    const res = await post('chat/completions', { model: 'metered', messages: [{ role: 'user', content: 'zero' }] });
    expect(res.status).toBe(200);
    const rec = records('metered').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'missing', outputTokens: 20 });
    expect(rec?.inputTokens).toBeGreaterThan(0);
  });

  it('keeps reading a non-streaming response after the client hung up and charges its usage', async () => {
    upstream.script({ kind: 'ok', delayMs: 400, usage: { prompt: 11, completion: 7 } });
    const before = records('metered').length;
    const gone = new AbortController();
    const pending = post('chat/completions', { model: 'metered', messages: [{ role: 'user', content: 'hang up on me' }] }, gone.signal).catch((e: unknown) => e);
    await until(() => upstream.requests.at(-1)?.body.messages !== undefined && JSON.stringify(upstream.requests.at(-1)?.body).includes('hang up on me'));
    gone.abort();
    await pending;
    await until(() => records('metered').length > before);
    const rec = records('metered').at(-1);
    expect(rec).toMatchObject({ inputTokens: 11, outputTokens: 7, estimated: false });
    expect(rec?.costUsd).toBeCloseTo((11 * 1000 + 7 * 2000) / 1e6, 8);
    expect(upstream.requests.at(-1)?.abortedNow()).toBe(false);
  });

  it('charges a stream whose client left before the first chunk its prompt estimate, marked client_gone', async () => {
    upstream.script({ kind: 'hang' });
    const before = records('metered').length;
    const gone = new AbortController();
    const pending = post('chat/completions', { model: 'metered', stream: true, messages: [{ role: 'user', content: 'stream then leave' }] }, gone.signal).catch((e: unknown) => e);
    await until(() => JSON.stringify(upstream.requests.at(-1)?.body ?? {}).includes('stream then leave'));
    gone.abort();
    await pending;
    await until(() => records('metered').length > before);
    expect(records('metered').at(-1)).toMatchObject({ estimated: true, estimateReason: 'client_gone', outputTokens: 0 });
    expect(records('metered').at(-1)?.inputTokens).toBeGreaterThan(0);
  });
});

describe('tool fees certain once the upstream has the request', () => {
  it("charges a search model's stream whose client left before the first chunk its search, asked with web_search_options", async () => {
    upstream.script({ kind: 'hang' });
    const before = records('searched').length;
    const gone = new AbortController();
    const pending = post('chat/completions', { model: 'searched', stream: true, web_search_options: {}, messages: [{ role: 'user', content: 'search then leave' }] }, gone.signal).catch((e: unknown) => e);
    await until(() => JSON.stringify(upstream.requests.at(-1)?.body ?? {}).includes('search then leave'));
    gone.abort();
    await pending;
    await until(() => records('searched').length > before);
    const rec = records('searched').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'client_gone', outputTokens: 0 });
    // The search runs before the first token and is billed once it ran. Before, the prompt estimate only.
    expect(rec?.costUsd).toBeCloseTo(((rec?.inputTokens ?? 0) * 1000) / 1e6 + 0.5, 8);
  });
});

describe('a search asked of a search model is held', () => {
  it('a Budget that cannot cover the $0.5 search a request asks for (web_search_options) refuses it before it goes upstream', async () => {
    const sent = upstream.requests.length;
    const res = await post('chat/completions', { model: 'search-held', web_search_options: {}, max_tokens: 5, messages: [{ role: 'user', content: 'news?' }] });
    // Before, the hold left the search out: served, and the $0.3 Budget overshot by it.
    expect(res.status).toBe(429);
    expect(upstream.requests.length).toBe(sent);
  });
});

describe('usage that cannot be true is never trusted', () => {
  it.each([
    ['negative', { prompt_tokens: -1_000_000, completion_tokens: 5, total_tokens: -999_995 }],
    ['absurd', { prompt_tokens: 10, completion_tokens: 1e15, total_tokens: 1e15 }],
  ])('%s usage: the client gets its answer, the request is charged the estimate, marked invalid', async (_name, usage) => {
    upstream.script({ kind: 'ok', rawUsage: usage });
    const res = await post('chat/completions', { model: 'metered', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    const rec = records('metered').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'invalid' });
    expect(rec?.costUsd).toBeGreaterThan(0);
    expect(rec?.costUsd).toBeLessThan(1);
  });
});

describe('a truncated stream is an error and is never cached', () => {
  it('ends a stream cut off without [DONE] or a finish reason with an error, and does not cache it', async () => {
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0, truncate: true });
    const before = upstream.requests.length;
    const read = async () => {
      const stream = await client.chat.completions.create({ model: 'streamed', stream: true, messages: [{ role: 'user', content: 'truncate me' }] });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      return text;
    };
    const first = await read().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(Error);
    expect((first as Error).message).toMatch(/ended before \[DONE\] or a finish reason/);
    const second = await read().catch((e: unknown) => e);
    expect(second).toBeInstanceOf(Error);
    expect(upstream.requests.length - before).toBe(2);
    const rec = records('streamed').at(-1);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'truncated' });
    // A complete stream still caches.
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0 });
    const whole = await client.chat.completions.create({ model: 'streamed', stream: true, messages: [{ role: 'user', content: 'keep me' }] }).withResponse();
    for await (const _ of whole.data) void _;
    const again = await client.chat.completions.create({ model: 'streamed', stream: true, messages: [{ role: 'user', content: 'keep me' }] }).withResponse();
    for await (const _ of again.data) void _;
    expect(again.response.headers.get('x-tollgate-cache')).toBe('hit');
  });
});
