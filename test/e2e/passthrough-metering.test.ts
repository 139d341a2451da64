import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PassThroughEmulator, startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// What pass-through requests that run a model are charged: a Responses compaction (its answer's
// usage, and its prompt held by a Budget at admission), while counting input tokens stays free.

const PROVIDERS =
  providerManifest('oai', 'openai', '${URL}/v1', '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-5, pricing: { input: 1.25, output: 10, cachedInput: 0.125 } }]\n') +
  secretManifest('up-key', { apiKey: 'sk-upstream' });

const route = (name: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: oai }, model: gpt-5 }]
  passThrough: { endpoints: [responses], maxUploadBytes: 4194304 }
---
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

describe('pass-through metering of requests that run a model', () => {
  let upstream: PassThroughEmulator;
  let gateway: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await startPassThroughEmulator('sk-upstream');
    gateway = await startTestGateway({ 'providers.yaml': PROVIDERS.replace('${URL}', upstream.url), 'routes.yaml': route('agent') + route('capped') + BUDGET });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
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

  it('holds a compaction prompt against a Budget at admission: one that cannot fit is refused before the upstream', async () => {
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
  });
});
