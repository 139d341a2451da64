import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PassThroughEmulator, startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { estimatePromptTokens } from '../../dataplane/metering/token-estimate.js';

// A batch (POST /v1/batches) is checked before it goes upstream: the gateway reads its input file
// from the route's target, refuses a request in it that calls an endpoint or names a model the
// route does not run, and holds and charges the batch's worst case (each request's prompt estimate
// and output cap, at the batch price) against the Budgets. Before, a batch ran any model of the
// Provider's account and was charged nothing.

const ROUTES = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: batcher }
spec:
  model: batcher
  targets: [{ providerRef: { name: openai-up }, model: gpt-4o-mini }]
  passThrough: { endpoints: [files, batches], maxUploadBytes: 4096 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: full-price }
spec:
  model: full-price
  targets: [{ providerRef: { name: undiscounted }, model: m }]
  passThrough: { endpoints: [files, batches] }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: tight }
spec:
  model: tight
  targets: [{ providerRef: { name: openai-up }, model: gpt-4o-mini }]
  passThrough: { endpoints: [files, batches] }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: hurried }
spec:
  model: hurried
  targets: [{ providerRef: { name: openai-up }, model: gpt-4o-mini }]
  passThrough: { endpoints: [files, batches] }
  timeouts: { total: 2s, attempt: 300ms }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: stranded }
spec:
  model: stranded
  targets: [{ providerRef: { name: nowhere }, model: gpt-4o-mini }]
  passThrough: { endpoints: [files, batches] }
---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: tight-daily }
spec:
  limit: { amount: 0.01, unit: USD }
  period: Day
  subjects: { routes: [{ name: tight }] }
  action: { type: Reject }
`;

const key = '{ secretRef: { name: up-key, key: apiKey } }';

type Line = { custom_id: string; method: 'POST'; url: string; body: Record<string, unknown> };
const chat = (i: number, model = 'gpt-4o-mini', maxTokens = 100): Line => ({
  custom_id: `r${i}`,
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model, messages: [{ role: 'user', content: `question number ${i}` }], max_tokens: maxTokens },
});
const jsonl = (lines: readonly unknown[]): string => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

describe('batches: the input file is checked, and the batch charged its worst case', () => {
  let upstream: PassThroughEmulator;
  let gateway: TestGateway;
  const client = (model: string): OpenAI => new OpenAI({ apiKey: 'unused', baseURL: `${gateway.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-tollgate-model': model } });

  beforeAll(async () => {
    upstream = await startPassThroughEmulator('sk-upstream');
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('openai-up', 'openai', `${upstream.url}/v1`, key, '  models: [{ name: gpt-4o-mini, pricing: { input: 2, output: 8, perRequest: 0.001 } }]\n') +
        providerManifest('undiscounted', 'openai-compatible', `${upstream.url}/v1`, key, '  models: [{ name: m, pricing: { input: 2, output: 8, batch: 1 } }]\n') +
        providerManifest('nowhere', 'openai', 'http://127.0.0.1:9/v1', key, '  models: [{ name: gpt-4o-mini, pricing: { input: 2, output: 8 } }]\n') +
        secretManifest('up-key', { apiKey: 'sk-upstream' }),
      'routes.yaml': ROUTES,
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  /** The batch creations that went upstream. */
  const created = (): number => upstream.requests.filter((r) => r.method === 'POST' && r.url.startsWith('/v1/batches')).length;

  it('a batch of the route\'s model is created, its file read with the Provider\'s key, and charged its worst case at the batch price', async () => {
    const lines = [chat(1), chat(2), chat(3)];
    const file = await client('batcher').files.create({ file: await toFile(Buffer.from(jsonl(lines)), 'batch.jsonl'), purpose: 'batch' });
    const before = gateway.usage.records.length;
    const batch = await client('batcher').batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(batch.id).toBe('batch_abc');
    const read = upstream.requests.find((r) => r.method === 'GET' && r.url === `/v1/files/${file.id}/content`);
    expect(read?.headers.authorization).toBe('Bearer sk-upstream');
    const prompt = lines.reduce((n, l) => n + estimatePromptTokens(l.body), 0);
    const rec = gateway.usage.records.slice(before).find((r) => r.routeId === 'default/batcher');
    expect(rec).toMatchObject({ op: 'passthrough', estimated: true, estimateReason: 'batch_worst_case', inputTokens: prompt, outputTokens: 300 });
    // Half the token prices (OpenAI's Batch API), and the per-request price of the API call.
    expect(rec?.costUsd).toBeCloseTo(((prompt * 2 + 300 * 8) / 1e6) * 0.5 + 0.001, 8);
  });

  it('a Provider whose batches are not discounted (pricing.batch: 1) is charged the standard price', async () => {
    upstream.files.set('file-full', Buffer.from(jsonl([{ ...chat(1, 'm'), body: { ...chat(1, 'm').body, max_tokens: 1000 } }])));
    const before = gateway.usage.records.length;
    await client('full-price').batches.create({ input_file_id: 'file-full', endpoint: '/v1/chat/completions', completion_window: '24h' });
    const rec = gateway.usage.records.slice(before).find((r) => r.routeId === 'default/full-price');
    const prompt = estimatePromptTokens(chat(1, 'm').body);
    expect(rec?.costUsd).toBeCloseTo((prompt * 2 + 1000 * 8) / 1e6, 8);
  });

  it('a request naming another model of the account is refused with 400 naming its line and field; nothing is created', async () => {
    upstream.files.set('file-other', Buffer.from(jsonl([chat(1), chat(2, 'gpt-4o'), chat(3)])));
    const sent = created();
    const err = await client('batcher').batches.create({ input_file_id: 'file-other', endpoint: '/v1/chat/completions', completion_window: '24h' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.code).toBe('invalid_batch_input');
    expect(e.message).toContain('line 2 of the batch\'s input file file-other: body.model is "gpt-4o", which route default/batcher does not run');
    expect(e.message).toContain('"gpt-4o-mini"');
    expect(created()).toBe(sent);
  });

  it('a request calling an endpoint other than the batch\'s, or a batch endpoint the route does not serve, is refused with 400', async () => {
    upstream.files.set('file-mixed', Buffer.from(jsonl([chat(1), { custom_id: 'e', method: 'POST', url: '/v1/embeddings', body: { model: 'gpt-4o-mini', input: 'x' } }])));
    const sent = created();
    const mixed = (await client('batcher').batches.create({ input_file_id: 'file-mixed', endpoint: '/v1/chat/completions', completion_window: '24h' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(mixed.status).toBe(400);
    expect(mixed.message).toContain('line 2 of the batch\'s input file file-mixed: url is "/v1/embeddings", not the batch\'s endpoint /v1/chat/completions');
    const moderations = (await client('batcher').batches.create({ input_file_id: 'file-mixed', endpoint: '/v1/moderations', completion_window: '24h' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(moderations.status).toBe(400);
    expect(moderations.param).toBe('endpoint');
    expect(created()).toBe(sent);
  });

  it('an input file the target does not have is a 400; one larger than the route\'s maxUploadBytes a 413, read no further', async () => {
    const sent = created();
    const missing = (await client('batcher').batches.create({ input_file_id: 'file-nowhere', endpoint: '/v1/chat/completions', completion_window: '24h' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(missing.status).toBe(400);
    expect(missing.message).toContain('file-nowhere was not found');
    upstream.files.set('file-big', Buffer.from(jsonl(Array.from({ length: 60 }, (_, i) => chat(i)))));
    const big = (await client('batcher').batches.create({ input_file_id: 'file-big', endpoint: '/v1/chat/completions', completion_window: '24h' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(big.status).toBe(413);
    expect(big.message).toContain('larger than 4096 bytes, the route\'s spec.passThrough.maxUploadBytes');
    expect(created()).toBe(sent);
  });

  it("an input file whose target cannot be reached is a 502 in the gateway's words, not node's, which name the upstream's address", async () => {
    const err = (await client('stranded').batches.create({ input_file_id: 'file-1', endpoint: '/v1/chat/completions', completion_window: '24h' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(502);
    // Before: "… default/nowhere: connect ECONNREFUSED 127.0.0.1:9", to any caller of the route.
    expect(err.message).toContain('default/nowhere: the upstream refused the connection (is anything listening at its base URL?)');
    expect(err.message).not.toContain('127.0.0.1');
  });

  it('a batch whose worst case a Budget cannot hold is refused with 429 budget_exceeded, and nothing is created or charged', async () => {
    // 20 requests of up to 4,000 output tokens: 80,000 × $8/M × 0.5 = $0.32 against a $0.01 Budget.
    upstream.files.set('file-large', Buffer.from(jsonl(Array.from({ length: 20 }, (_, i) => chat(i, 'gpt-4o-mini', 4000)))));
    const sent = created();
    const before = gateway.usage.records.length;
    const err = (await client('tight').batches.create({ input_file_id: 'file-large', endpoint: '/v1/chat/completions', completion_window: '24h' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('budget_exceeded');
    expect(err.headers?.get('x-tollgate-budget')).toBe('default/tight-daily');
    expect(created()).toBe(sent);
    expect(gateway.usage.records.length).toBe(before);
    // A small one fits, and is charged.
    upstream.files.set('file-small', Buffer.from(jsonl([chat(1, 'gpt-4o-mini', 50)])));
    expect((await client('tight').batches.create({ input_file_id: 'file-small', endpoint: '/v1/chat/completions', completion_window: '24h' })).id).toBe('batch_abc');
    expect(gateway.usage.records.slice(before).find((r) => r.routeId === 'default/tight')).toMatchObject({ estimateReason: 'batch_worst_case', outputTokens: 50 });
    expect(upstream.problems).toEqual([]);
  });

  it('a creation whose answer never comes after the upstream had all of it is charged the worst case too (the batch may exist): 504', async () => {
    upstream.files.set('file-lost', Buffer.from(jsonl([chat(1, 'gpt-4o-mini', 10)])));
    upstream.hangOn = /^\/v1\/batches/;
    try {
      const before = gateway.usage.records.length;
      const err = (await client('hurried').batches.create({ input_file_id: 'file-lost', endpoint: '/v1/chat/completions', completion_window: '24h' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err.status).toBe(504);
      const rec = gateway.usage.records.slice(before).find((r) => r.routeId === 'default/hurried');
      expect(rec).toMatchObject({ estimateReason: 'batch_worst_case', outputTokens: 10 });
    } finally {
      upstream.hangOn = undefined;
    }
  });
});
