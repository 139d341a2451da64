import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// Downgrades that cannot be served: a chain (big → mid → small), a loop (a → b → a), a route the
// request does not match. Every one is the budget refusal clients know (429 budget_exceeded, no SDK
// retry, the budget, when it resets).

let upstream: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;
let anthropic: Anthropic;

const route = (name: string, extra = '') => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: m }]
${extra}---
`;
// 50 tokens a day: a request (a short prompt, max_tokens 5) is admitted, and the 105 tokens it uses exhaust it.
const budget = (name: string, from: string, to: string) => `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: ${name} }
spec:
  limit: { amount: 50, unit: Tokens }
  period: Day
  subjects: { routes: [{ name: ${from} }] }
  action: { type: Downgrade, downgradeTo: ${to} }
---
`;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  upstream.script({ kind: 'ok', usage: { prompt: 100, completion: 5 } });
  gateway = await startTestGateway({
    'provider.yaml': openAiProvider('up', upstream.baseUrl),
    'routes.yaml':
      ['big', 'mid', 'small', 'a', 'b', 'plain', 'premium'].map((name) => route(name)).join('') +
      // The cheaper route has a guardrail and a rate limit of its own; the premium one neither.
      route('cheap', '  rateLimits: [{ per: Route, requestsPerMinute: 1 }]\n') +
      budget('premium-daily', 'premium', 'cheap') +
      `apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: cheap-cards }
spec:
  subjects: { routes: [{ name: cheap }] }
  rules:
    - { name: no-cards, phase: Request, action: Block, detector: { builtin: [PaymentCard] } }
---
` +
      // Serves only requests that say x-tier: low.
      route('tiered', '  matches: [{ headers: [{ name: x-tier, value: low }] }]\n') +
      budget('plain-daily', 'plain', 'tiered') +
      budget('big-daily', 'big', 'mid') +
      budget('mid-daily', 'mid', 'small') +
      budget('a-daily', 'a', 'b') +
      budget('b-daily', 'b', 'a'),
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: 'x', maxRetries: 0 });
  // Each budget's route is served once directly, which exhausts it.
  for (const model of ['mid', 'big', 'a', 'b', 'plain']) await ask(model);
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const ask = (model: string) => client.chat.completions.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
const refusedBy = async <T>(call: Promise<T>): Promise<InstanceType<typeof OpenAI.APIError>> => (await call.catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;

describe("a downgraded request passes the cheaper route's own guardrails and rate limits", () => {
  it('a request a client downgrades on purpose (a max_tokens no budget covers) is still blocked by the guardrail there, then rate limited', async () => {
    const before = upstream.requests.length;
    const card = (max_tokens: number) => client.chat.completions.create({ model: 'premium', max_tokens, messages: [{ role: 'user', content: 'my card is 4111 1111 1111 1111' }] });
    const blocked = await refusedBy(card(60_000_000));
    expect(blocked.status).toBe(400);
    expect(blocked.code).toBe('guardrail_blocked');
    expect(blocked.message).toContain('default/cheap-cards');
    expect(upstream.requests.length).toBe(before);
    const served = await client.chat.completions.create({ model: 'premium', max_tokens: 60_000_000, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(served.response.headers.get('x-tollgate-route')).toBe('default/cheap');
    expect(served.response.headers.get('x-tollgate-downgraded-by')).toBe('default/premium-daily');
    const limited = await refusedBy(client.chat.completions.create({ model: 'premium', max_tokens: 60_000_000, messages: [{ role: 'user', content: 'hi' }] }));
    expect(limited.status).toBe(429);
    expect(limited.code).not.toBe('budget_exceeded');
  });
});

describe('a downgrade whose route has a budget that downgrades too', () => {
  it('is refused as a budget refusal naming both budgets, not sent on to a third route', async () => {
    const before = upstream.requests.length;
    const err = await refusedBy(ask('big'));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('budget_exceeded');
    expect(err.type).toBe('insufficient_quota');
    expect(err.message).toMatch(/budget default\/big-daily is exhausted and so is budget default\/mid-daily of its downgrade route mid/);
    expect(err.headers?.get('x-tollgate-budget')).toBe('default/mid-daily');
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(upstream.requests.length).toBe(before);
  });

  it('does not loop back (a → b → a)', async () => {
    const err = await refusedBy(ask('a'));
    expect(err.status).toBe(429);
    expect(err.message).toMatch(/budget default\/a-daily is exhausted and so is budget default\/b-daily of its downgrade route b \(a request is downgraded once, not on to a\)/);
  });

  it('on /v1/messages: the Anthropic error shape', async () => {
    const err = (await anthropic.messages.create({ model: 'big', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(err.message).toMatch(/default\/mid-daily/);
    expect(err.headers?.get('x-should-retry')).toBe('false');
  });
});

describe('a downgrade route the request may not use', () => {
  it('is refused with the budget refusal headers, so the SDKs do not retry it', async () => {
    const err = await refusedBy(ask('plain'));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('budget_exceeded');
    expect(err.message).toMatch(/budget default\/plain-daily is exhausted and its downgrade route tiered is not available to this caller/);
    expect(err.headers?.get('x-tollgate-budget')).toBe('default/plain-daily');
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(0);
  });
});
