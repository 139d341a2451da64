import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { openAiProvider, RESIDENCY_IDENTITIES, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

const NAMES = ['cheap', 'long', 'tools', 'approved', 'public', 'flaky', 'steady'] as const;
type Name = (typeof NAMES)[number];
const up = {} as Record<Name, OpenAiUpstream>;
let gateway: TestGateway;
let client: OpenAI;

const providers = (): string =>
  [
    openAiProvider('cheap', up.cheap.baseUrl, '  models: [{ name: mini, contextWindow: 16000 }]\n'),
    openAiProvider('long', up.long.baseUrl, '  models: [{ name: long-ctx, contextWindow: 200000 }]\n'),
    openAiProvider('tools', up.tools.baseUrl),
    openAiProvider('approved', up.approved.baseUrl).replace('metadata: { name: approved }', 'metadata: { name: approved, labels: { approved: "true" } }'),
    openAiProvider('public', up.public.baseUrl),
    // Ejected for 2 s: with 300 ms, a test process stalled by load saw the ejection end before it
    // checked that the next request skipped the target.
    openAiProvider('flaky', up.flaky.baseUrl, '  outlierDetection: { consecutiveFailures: 2, baseEjectionTime: 2s, maxEjectionTime: 4s }\n'),
    openAiProvider('steady', up.steady.baseUrl),
  ].join('---\n');

const routes = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: assistant }
spec:
  model: assistant
  access: { anonymous: true }
  retry: { attempts: 1 }
  rules:
    - name: classification
      when: { headers: [{ name: x-task-type, value: classification }] }
      targets: [{ providerRef: { name: cheap }, model: mini }]
    - name: tools
      when: { tools: true }
      targets: [{ providerRef: { name: tools }, model: tool-model }]
    - name: general
      targets:
        - { providerRef: { name: cheap }, model: mini, priority: 0 }
        - { providerRef: { name: long }, model: long-ctx, priority: 1 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: records }
spec:
  model: records
  access: { anonymous: true }
  retry: { attempts: 1 }
  targets:
    - { providerRef: { name: public }, model: m, priority: 0 }
    - { providerRef: { name: approved }, model: m, priority: 1 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ejecting }
spec:
  model: ejecting
  access: { anonymous: true }
  retry: { attempts: 1 }
  targets:
    - { providerRef: { name: flaky }, model: m, priority: 0 }
    - { providerRef: { name: steady }, model: m, priority: 1 }
---
# Namespace finance requires approved providers (RESIDENCY_IDENTITIES); its own route opened to
# anyone, on its own unlabelled Provider.
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: own, namespace: finance }
spec: { type: mock }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: open, namespace: finance }
spec:
  model: finance-open
  access: { anonymous: true }
  targets: [{ providerRef: { name: own }, model: m }]
`;


const mockLatency = (a: string, b: string) => `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: mock-a }
spec: { type: mock, mock: { latency: ${a} } }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: mock-b }
spec: { type: mock, mock: { latency: ${b} } }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: fastest }
spec:
  model: fastest
  access: { anonymous: true }
  strategy: least-latency
  targets:
    - { providerRef: { name: mock-a }, model: a, priority: 0 }
    - { providerRef: { name: mock-b }, model: b, priority: 1 }
---
# The same providers under other model names (latency is kept per provider and model): warms their
# code path, so that fastest's first measurement of mock-a is not a cold one.
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: warm }
spec:
  model: warm
  access: { anonymous: true }
  targets:
    - { providerRef: { name: mock-a }, model: warm-a, priority: 0 }
    - { providerRef: { name: mock-b }, model: warm-b, priority: 1 }
`;

const hi = [{ role: 'user' as const, content: 'hi' }];
const served = async (p: Promise<{ response: Response }>) => {
  const { response } = await p;
  return { rule: response.headers.get('x-tollgate-rule'), provider: response.headers.get('x-tollgate-provider'), attempts: response.headers.get('x-tollgate-attempts') };
};
const failure = async (p: Promise<unknown>) => (await p.then(() => ({ status: 200, message: '' })).catch((e: unknown) => e)) as { status: number; message: string; code?: string };

beforeAll(async () => {
  for (const n of NAMES) up[n] = await startOpenAiUpstream();
  gateway = await startTestGateway(
    { 'providers.yaml': providers(), 'routes.yaml': routes, 'identities.yaml': RESIDENCY_IDENTITIES, 'latency.yaml': mockLatency('5ms', '250ms') },
    { auth: new Authenticator({}), admin: true },
  );
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  for (const n of NAMES) await up[n]?.close();
});

afterEach(() => {
  for (const n of NAMES) {
    up[n].script();
    up[n].requests.length = 0;
  }
});

describe('routing rules (official openai client)', () => {
  it('a classification header goes to the cheap target', async () => {
    const r = await served(client.chat.completions.create({ model: 'assistant', messages: hi }, { headers: { 'x-task-type': 'classification' } }).withResponse());
    expect(r).toMatchObject({ rule: 'classification', provider: 'default/cheap' });
    expect(up.cheap.requests[0]?.body.model).toBe('mini');
  });

  it('a request with tools goes to the tools-capable target', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
    const r = await served(client.chat.completions.create({ model: 'assistant', messages: hi, tools }).withResponse());
    expect(r).toMatchObject({ rule: 'tools', provider: 'default/tools' });
  });

  it('a 60k-token prompt skips the 16k model for the long-context target', async () => {
    const short = await served(client.chat.completions.create({ model: 'assistant', messages: hi }).withResponse());
    expect(short).toMatchObject({ rule: 'general', provider: 'default/cheap', attempts: '1' });
    const long = await served(client.chat.completions.create({ model: 'assistant', messages: [{ role: 'user', content: 'lorem '.repeat(40_000) }] }).withResponse());
    expect(long).toMatchObject({ rule: 'general', provider: 'default/long', attempts: '1' });
    expect(up.cheap.requests).toHaveLength(1); // only the short one
  });

  it('the window guard counts images from below: four images fit the 16k model', async () => {
    // Budgets hold each image at up to 5,000 tokens (token-estimate IMAGE_TOKENS); the guard must not
    // read that, or 4 small images (~340 tokens at detail low) "needed" 20,000 of the 16k window and
    // the request was moved to the long-context target.
    const image = { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' as const } };
    const r = await served(
      client.chat.completions.create({ model: 'assistant', messages: [{ role: 'user', content: [{ type: 'text', text: 'what changed?' }, image, image, image, image] }] }).withResponse(),
    );
    expect(r).toMatchObject({ rule: 'general', provider: 'default/cheap', attempts: '1' });
  });

  it('a regulated caller reaches only the approved provider, and gets 403 naming the policy when it is down', async () => {
    const finance = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-finance-key', maxRetries: 0 });
    const marketing = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-marketing-key', maxRetries: 0 });
    expect(await served(marketing.chat.completions.create({ model: 'records', messages: hi }).withResponse())).toMatchObject({ provider: 'default/public' });
    expect(await served(finance.chat.completions.create({ model: 'records', messages: hi }).withResponse())).toMatchObject({ provider: 'default/approved' });
    expect(up.public.requests).toHaveLength(1);

    up.approved.script({ kind: 'error', status: 500 });
    const denied = await failure(finance.chat.completions.create({ model: 'records', messages: hi }));
    expect(denied.status).toBe(403);
    expect(denied.code).toBe('residency_denied');
    expect(denied.message).toMatch(/namespace finance requires providers labelled approved=true/);
    expect(up.approved.requests).toHaveLength(2);
    expect(up.public.requests).toHaveLength(1); // never the non-compliant provider, failover included
  });

  it("an anonymous caller on a regulated namespace's own open route is held to that namespace's requirement", async () => {
    // With a key that does not verify (the client's), and with none at all. Before, an anonymous
    // caller had no namespace, so no requirement: the unapproved Provider served.
    const denied = await failure(client.chat.completions.create({ model: 'finance-open', messages: hi }));
    expect(denied.status).toBe(403);
    expect(denied.code).toBe('residency_denied');
    expect(denied.message).toMatch(/namespace finance requires providers labelled approved=true/);
    const bare = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'finance-open', messages: hi }) });
    expect(bare.status).toBe(403);
    expect(((await bare.json()) as { error: { code: string } }).error.code).toBe('residency_denied');
  });

  it('ejects a target returning 500s after the threshold, and probes it back after the cooldown', async () => {
    up.flaky.script({ kind: 'error', status: 500 });
    for (let i = 0; i < 2; i++) {
      expect(await served(client.chat.completions.create({ model: 'ejecting', messages: hi }).withResponse())).toMatchObject({ provider: 'default/steady', attempts: '2' });
    }
    // Ejected: the next requests go straight to the steady target.
    expect(await served(client.chat.completions.create({ model: 'ejecting', messages: hi }).withResponse())).toMatchObject({ provider: 'default/steady', attempts: '1' });
    expect(up.flaky.requests).toHaveLength(2);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`, { headers: { authorization: `Bearer ${gateway.adminToken}` } })).text();
    expect(metrics).toMatch(/tollgate_circuit_breaker_state\{provider="default\/flaky",upstream_model="m"\} 1/);

    up.flaky.script({ kind: 'ok' });
    const deadline = Date.now() + 10_000;
    let back: { provider: string | null } = { provider: null };
    while (Date.now() < deadline) {
      back = await served(client.chat.completions.create({ model: 'ejecting', messages: hi }).withResponse());
      if (back.provider === 'default/flaky') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(back.provider).toBe('default/flaky');
    expect(await served(client.chat.completions.create({ model: 'ejecting', messages: hi }).withResponse())).toMatchObject({ provider: 'default/flaky' });
  });

  it('least-latency shifts traffic away from a target whose latency rises', async () => {
    // Latencies far apart compared with what a loaded machine adds to one measurement (tens of ms, now
    // and then a few hundred): the averages (EWMA, alpha 0.2) still order the targets after a delayed
    // sample. With 5 ms against 100 ms, one slow first measurement of mock-a (a cold path under load)
    // put it behind mock-b for good: only exploration measures it again.
    for (let i = 0; i < 3; i++) expect((await served(client.chat.completions.create({ model: 'warm', messages: hi }).withResponse())).provider).toBe('default/mock-a');
    const next = async () => (await served(client.chat.completions.create({ model: 'fastest', messages: hi }).withResponse())).provider;
    const firsts = async (n: number) => {
      const out: (string | null)[] = [];
      for (let i = 0; i < n; i++) out.push(await next());
      return out;
    };
    const before = await firsts(10);
    expect(before.filter((p) => p === 'default/mock-a').length).toBeGreaterThanOrEqual(7);
    gateway.write('latency.yaml', mockLatency('750ms', '250ms'));
    // mock-b takes over once mock-a's slower answers have lifted its average above mock-b's: after two
    // or three of them, or a few more when mock-b's one measurement came out slow.
    let taken = 0;
    while (taken < 8 && (await next()) !== 'default/mock-b') taken++;
    expect(taken).toBeLessThan(8);
    // And keeps the traffic (exploration aside: one ordering in 20 tries the least recently measured target).
    const after = await firsts(6);
    expect(after.filter((p) => p === 'default/mock-b').length).toBeGreaterThanOrEqual(5);
  });

  it('/debug/route explains the decision without sending anything upstream', async () => {
    const explain = async (body: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${gateway.adminUrl}/debug/route`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.adminToken}`, ...headers },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as { decision: Record<string, unknown> | null; error?: { code: string; message: string } } };
    };
    const long = await explain({ model: 'assistant', messages: [{ role: 'user', content: 'lorem '.repeat(40_000) }], max_tokens: 100 });
    expect(long.status).toBe(200);
    expect(long.json.decision).toMatchObject({
      route: 'default/assistant',
      rule: 'general',
      rules: ['classification', 'tools', 'general'],
      candidates: [{ provider: 'default/long', model: 'long-ctx', contextWindow: 200000, health: { state: 'closed' } }],
      skipped: [{ provider: 'default/cheap', model: 'mini', reason: 'context-window' }],
      features: { maxTokens: 100, tools: false, stream: false },
    });
    const classified = await explain({ model: 'assistant', messages: hi }, { 'x-task-type': 'classification' });
    expect(classified.json.decision).toMatchObject({ rule: 'classification', caller: 'anonymous' });
    const regulated = await explain({ model: 'records', messages: hi }, { 'x-tollgate-caller-authorization': 'Bearer tg-finance-key' });
    expect(regulated.json.decision).toMatchObject({
      caller: 'key:finance/ledger',
      candidates: [{ provider: 'default/approved' }],
      skipped: [{ provider: 'default/public', reason: 'residency', detail: 'namespace finance requires providers labelled approved=true' }],
      policies: ['namespace finance requires providers labelled approved=true'],
    });
    expect((await explain({ model: 'nope', messages: hi })).status).toBe(404);
    for (const n of NAMES) expect(up[n].requests).toHaveLength(0);
  });
});
