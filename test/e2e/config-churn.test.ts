import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

/**
 * A tenant that keeps creating and deleting uniquely named objects (a route and a Budget per job)
 * must not grow the data plane: what it keeps per object goes with the object.
 */
let upstream: OpenAiUpstream;
let gateway: TestGateway;

const job = (n: number): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: job-${n} }
spec:
  model: job-${n}
  targets: [{ providerRef: { name: up }, model: m }]
---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: job-${n} }
spec:
  limit: { amount: 100, unit: USD }
  period: Day
  subjects: { routes: [{ name: job-${n} }] }
  action: { type: Reject }
`;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway({ 'provider.yaml': openAiProvider('up', upstream.baseUrl, '  models: [{ name: m, pricing: { input: 1000, output: 2000 } }]\n'), 'job.yaml': job(0) });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function ask(model: string): Promise<void> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.text();
  expect(res.status).toBe(200);
}

describe('a tenant churning uniquely named objects', () => {
  it("leaves no deleted object's spend or totals in the data plane", async () => {
    const { ledger } = gateway.dataplane;
    const budgetOf = (n: number) => gateway.dataplane.store.current?.snapshot.budgets.find((b) => b.id === `default/job-${n}`);
    await ask('job-0');
    const first = budgetOf(0);
    expect(first).toBeDefined();
    expect(ledger.available(first!, Date.now()).ownUnreported).toBeGreaterThan(0);
    for (let n = 1; n <= 20; n++) {
      expect(gateway.write('job.yaml', job(n)).errors).toEqual([]);
      await ask(`job-${n}`);
    }
    // The first job's Budget is gone: this pod keeps nothing for it (created again, it starts from zero).
    expect(ledger.available(first!, Date.now()).ownUnreported).toBe(0);
    expect(ledger.available(budgetOf(20)!, Date.now()).ownUnreported).toBeGreaterThan(0);
    // The usage totals kept per route: only the route that exists.
    expect([...(gateway.usage as { byRoute: Map<string, unknown> }).byRoute.keys()]).toEqual(['default/job-20']);
  });
});
