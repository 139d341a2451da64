import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestUsage } from '../../dataplane/config/request-usage.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// The data plane's side of usage history: one record per finished request, with the outcome class
// that the UsageReport counts (all traffic, not only budgeted), tokens, cost, latency and TTFT.

let upstream: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;
const seen: { request: RequestUsage; costUsd: number }[] = [];

const route = (name: string, extra = '') => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: m }]
  retry: { attempts: 1 }
${extra}---
`;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway(
    {
      'provider.yaml': openAiProvider('up', upstream.baseUrl, '  models: [{ name: m, pricing: { input: 1000, output: 2000 } }]\n'),
      'routes.yaml':
        route('chat') +
        route('limited', '  rateLimits: [{ per: Route, requestsPerMinute: 1 }]\n') +
        route('cached', '  cache: { enabled: true, ttl: 5m }\n') +
        route('broke') +
        `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: broke }
spec:
  limit: { amount: 0.000001, unit: USD }
  period: Day
  subjects: { routes: [{ name: broke }] }
---
`,
    },
    { onRequest: (request, costUsd) => seen.push({ request, costUsd }) },
  );
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

/** The record of the next request; records come when the response has closed. */
async function recordOf(send: () => Promise<unknown>): Promise<{ request: RequestUsage; costUsd: number }> {
  const before = seen.length;
  await send().catch(() => undefined);
  for (let i = 0; i < 200 && seen.length === before; i++) await new Promise((r) => setTimeout(r, 10));
  expect(seen.length).toBe(before + 1);
  const last = seen.at(-1);
  if (last === undefined) throw new Error('no record');
  return last;
}

const chat = (model: string, stream = false) =>
  stream
    ? client.chat.completions.create({ model, stream: true, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).then(async (s) => {
        for await (const _ of s);
      })
    : client.chat.completions.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });

describe('usage history records', () => {
  it('a served request: route, model, provider, tokens, cost and latency', async () => {
    upstream.script({ kind: 'ok', usage: { prompt: 10, completion: 5 } });
    const { request, costUsd } = await recordOf(() => chat('chat'));
    expect(request).toMatchObject({ namespace: 'default', route: 'default/chat', model: 'chat', provider: 'default/up', caller: 'anonymous', outcome: 'ok', inputTokens: 10, outputTokens: 5, cacheHit: false, failovers: 0 });
    expect(costUsd).toBeCloseTo(0.02, 9);
    expect(request.latencyMs).toBeGreaterThanOrEqual(0);
    expect(request.ttftMs).toBeUndefined();
  });

  it('a Responses API request (translated here) is counted like chat', async () => {
    upstream.script({ kind: 'ok', usage: { prompt: 10, completion: 5 } });
    const { request, costUsd } = await recordOf(() => client.responses.create({ model: 'chat', input: 'hi', max_output_tokens: 5 }));
    expect(request).toMatchObject({ namespace: 'default', route: 'default/chat', model: 'chat', outcome: 'ok', inputTokens: 10, outputTokens: 5 });
    expect(costUsd).toBeCloseTo(0.02, 9);
  });

  it('a streamed request has a time to first token', async () => {
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0 });
    const { request } = await recordOf(() => chat('chat', true));
    expect(request.outcome).toBe('ok');
    expect(request.ttftMs).toBeGreaterThanOrEqual(0);
  });

  it('classes the refusals and failures that are not budgeted', async () => {
    upstream.script({ kind: 'error', status: 400 });
    expect((await recordOf(() => chat('chat'))).request.outcome).toBe('upstream_4xx');
    upstream.script({ kind: 'error', status: 500 });
    expect((await recordOf(() => chat('chat'))).request.outcome).toBe('upstream_5xx');
    upstream.script({ kind: 'ok' });
    expect((await recordOf(() => chat('limited'))).request.outcome).toBe('ok');
    expect((await recordOf(() => chat('limited'))).request.outcome).toBe('rate_limited');
    const refused = await recordOf(() => chat('broke'));
    expect(refused.request).toMatchObject({ outcome: 'budget_rejected', route: 'default/broke', inputTokens: 0 });
    expect(refused.request.provider).toBeUndefined();
  });

  it('a cache hit is ok, counted as a hit, and costs nothing', async () => {
    upstream.script({ kind: 'ok', usage: { prompt: 10, completion: 5 } });
    await recordOf(() => chat('cached'));
    const hit = await recordOf(() => chat('cached'));
    expect(hit.request).toMatchObject({ outcome: 'ok', cacheHit: true });
    expect(hit.costUsd).toBe(0);
  });

  it('a request no namespace can be named for (unknown model, anonymous caller) is not counted', async () => {
    const before = seen.length;
    await chat('no-such-model').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.length).toBe(before);
  });
});
