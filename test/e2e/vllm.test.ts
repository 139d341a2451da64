import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { startVllmEmulator, type VllmEmulator } from '../emulators/vllm.js';

// Three vLLM pods behind one Service port, as the operator resolves them from an EndpointSlice
// (ServiceEndpointsInput), compiled by the real compile step and served by the real data plane.
let pods: VllmEmulator[];
let hosted: OpenAiUpstream;
let gateway: TestGateway;

const manifests = (hostedUrl: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: llama }
spec:
  type: vllm
  serviceRef: { name: llama, port: 8000 }
  vllm:
    # A generous timeout: with unhealthyThreshold 1, one probe slowed by a loaded machine would take a pod out.
    # staleAfter 2s, not 500ms: a loaded machine stalled the process past 500 ms now and then, and a
    # pick right after saw no fresh scrape (a saturated pod served, the LoRA pod not preferred).
    scrape: { interval: 50ms, timeout: 2s, staleAfter: 2s }
    unhealthyThreshold: 1
    saturation: { maxQueueDepth: 10, maxKvCacheUsage: 0.9 }
    gpuPricing: { perGpuSecond: 0.5, gpusPerPod: 2 }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: llama-rr }
spec:
  type: openai-compatible
  serviceRef: { name: llama, port: 8000 }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: hosted }
spec:
  type: openai-compatible
  url: ${hostedUrl}
  credentials: { secretRef: { name: hosted-key, key: apiKey } }
  models: [{ name: gpt-4o-mini, pricing: { input: 1000, output: 2000 } }]
---
apiVersion: v1
kind: Secret
metadata: { name: hosted-key }
stringData: { apiKey: sk-hosted }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  access: { anonymous: true }
  targets: [{ providerRef: { name: llama }, model: llama-3.1-8b }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat-rr }
spec:
  model: chat-rr
  access: { anonymous: true }
  targets: [{ providerRef: { name: llama-rr }, model: llama-3.1-8b }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat-once }
spec:
  model: chat-once
  access: { anonymous: true }
  retry: { attempts: 1 }
  targets: [{ providerRef: { name: llama }, model: llama-3.1-8b }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat-lo }
spec:
  model: chat-lo
  access: { anonymous: true }
  podSelection: { strategy: LeastOutstanding }
  targets: [{ providerRef: { name: llama }, model: llama-3.1-8b }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat-prefix }
spec:
  model: chat-prefix
  access: { anonymous: true }
  podSelection: { strategy: PrefixAffinity, loadBound: 1.25 }
  targets: [{ providerRef: { name: llama }, model: llama-3.1-8b }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: sql }
spec:
  model: sql
  access: { anonymous: true }
  podSelection: { strategy: LoRAAffinity }
  targets: [{ providerRef: { name: llama }, model: sql-lora }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: spill }
spec:
  model: spill
  access: { anonymous: true }
  targets:
    - { providerRef: { name: llama }, model: llama-3.1-8b, priority: 0 }
    - { providerRef: { name: hosted }, model: gpt-4o-mini, priority: 1 }
`;

async function startPods(): Promise<VllmEmulator[]> {
  // Pods share a port on 127.0.0.2-4, like pod IPs behind one targetPort; plain loopback ports otherwise.
  try {
    const first = await startVllmEmulator({ host: '127.0.0.2' });
    return [first, await startVllmEmulator({ host: '127.0.0.3', port: first.port }), await startVllmEmulator({ host: '127.0.0.4', port: first.port })];
  } catch {
    return Promise.all([startVllmEmulator(), startVllmEmulator(), startVllmEmulator()]);
  }
}

function apply(extra = ''): void {
  const loaded = loadManifests([{ path: 'vllm.yaml', content: manifests(hosted.baseUrl) + extra }]);
  expect(loaded.errors).toEqual([]);
  const endpoints = [{ namespace: 'default', service: 'llama', port: 8000, addresses: pods.map((p) => ({ ip: p.host, port: p.port, ready: true })) }];
  const { snapshot, statuses } = compile({ ...loaded.input, endpoints });
  expect(statuses.find((s) => s.name === 'llama')?.endpoints).toBe(3);
  expect(gateway.dataplane.store.apply(snapshot).ok).toBe(true);
}

async function chat(model: string, opts: { system?: string; user?: string; stream?: boolean } = {}): Promise<Response> {
  const messages = [...(opts.system === undefined ? [] : [{ role: 'system', content: opts.system }]), { role: 'user', content: opts.user ?? 'hi' }];
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages, ...(opts.stream === true ? { stream: true, stream_options: { include_usage: true } } : {}) }),
  });
}

async function ok(model: string, opts: { system?: string; user?: string; stream?: boolean } = {}): Promise<Response> {
  const res = await chat(model, opts);
  expect(res.status, await res.clone().text()).toBe(200);
  await res.text();
  return res;
}

const counts = (): number[] => pods.map((p) => p.served.length);
const delta = (before: number[]): number[] => counts().map((n, i) => n - (before[i] ?? 0));

/** Waits until every pod has been scraped twice more, so that the gateway has seen a full scrape after a change. */
async function scraped(): Promise<void> {
  const before = pods.map((p) => p.scrapes + p.healthChecks);
  await vi.waitFor(() => expect(pods.every((p, i) => p.scrapes + p.healthChecks >= (before[i] ?? 0) + 4)).toBe(true), { timeout: 5000, interval: 20 });
  await new Promise((r) => setTimeout(r, 20));
}

beforeAll(async () => {
  pods = await startPods();
  hosted = await startOpenAiUpstream();
  gateway = await startTestGateway({});
  apply();
});

afterAll(async () => {
  await gateway.close();
  await Promise.all([...pods.map((p) => p.close()), hosted.close()]);
});

beforeEach(async () => {
  for (const p of pods) p.set({ queue: 0, kvCacheUsage: 0.1, latencyMs: 0, health: 200, metrics: 'ok', reject: undefined, lora: undefined });
  await scraped();
});

// 90 s a test: the prefix-affinity test's 63 requests took over 30 s at load 45 (and the next test
// then counted its leftover requests).
describe('vLLM pods behind a serviceRef provider', { timeout: 90_000 }, () => {
  it('balances over the pod addresses, sending fewer requests to a pod with a deep queue', async () => {
    pods[0]?.set({ queue: 6 });
    for (const p of pods) p.set({ latencyMs: 150 });
    await scraped();
    let before = counts();
    await Promise.all(Array.from({ length: 12 }, () => ok('chat')));
    const queueAware = delta(before);
    expect(queueAware.reduce((a, b) => a + b, 0)).toBe(12);
    expect(queueAware[0]).toBeLessThan(queueAware[1] ?? 0);
    expect(queueAware[0]).toBeLessThan(queueAware[2] ?? 0);

    // Least outstanding requests ignores the queue: the deep pod gets its even share.
    before = counts();
    await Promise.all(Array.from({ length: 12 }, () => ok('chat-lo')));
    const leastOutstanding = delta(before);
    expect(leastOutstanding[0]).toBeGreaterThanOrEqual(3);
    expect(leastOutstanding[0]).toBeGreaterThan(queueAware[0] ?? 0);
  });

  it('keeps the maximum queue lower than round robin when one pod is slow', async () => {
    // One engine slot per pod (the rest wait in the pod's queue); pod 0 is six times slower. Four
    // clients, each sending its next request once its last is answered, through round robin and
    // through QueueAware. Round robin sends every third request to pod 0 whatever it holds, so the
    // clients pile up in its queue; QueueAware counts its own requests in flight, so a pod holding
    // two while another holds none is never picked. Timing only sets how fast the loop turns, not
    // where requests go: no paced arrivals a loaded machine would stretch.
    for (const [i, p] of pods.entries()) p.set({ maxRunning: 1, latencyMs: i === 0 ? 600 : 100 });
    await scraped();
    const maxQueueOf = async (model: string): Promise<number> => {
      let max = 0;
      const sampler = setInterval(() => {
        for (const p of pods) max = Math.max(max, p.waiting);
      }, 5);
      let sent = 0;
      const client = async (): Promise<void> => {
        while (sent < 12) await ok(model, { user: `closed loop ${sent++}` });
      };
      await Promise.all(Array.from({ length: 4 }, client));
      clearInterval(sampler);
      return max;
    };
    try {
      const roundRobin = await maxQueueOf('chat-rr');
      await vi.waitFor(() => expect(pods.every((p) => p.waiting === 0 && p.inflight === 0)).toBe(true), { timeout: 10_000, interval: 20 });
      await scraped();
      const queueAware = await maxQueueOf('chat');
      expect(roundRobin).toBeGreaterThanOrEqual(2);
      expect(queueAware).toBeLessThan(roundRobin);
    } finally {
      for (const p of pods) p.set({ maxRunning: undefined });
    }
  });

  it('keeps a repeated system prompt on one pod until it is loaded beyond the bound, raising prefix-cache hits', async () => {
    const system = `You are the billing assistant of ACME (${Date.now()}). Answer in one sentence.`;
    let before = counts();
    for (let i = 0; i < 9; i++) await ok('chat-prefix', { system, user: `question ${i}` });
    const sequential = delta(before);
    expect(sequential.filter((n) => n > 0)).toEqual([9]);
    const home = sequential.indexOf(9);

    // Concurrent load on the same prefix: the home pod takes at most ceil(1.25 × 6 / 3) = 3, the rest move on.
    for (const p of pods) p.set({ latencyMs: 200 });
    before = counts();
    await Promise.all(Array.from({ length: 6 }, (_, i) => ok('chat-prefix', { system, user: `burst ${i}` })));
    const burst = delta(before);
    expect(burst[home]).toBe(3);
    expect(burst.reduce((a, b) => a + b, 0)).toBe(6);
    for (const p of pods) p.set({ latencyMs: 0 });

    // Emulated prefix-cache hit rate: the same traffic through prefix affinity and through least outstanding.
    const hitsOf = async (model: string, tag: string): Promise<number> => {
      const hitsBefore = pods.reduce((s, p) => s + p.prefixCache.hits, 0);
      for (let round = 0; round < 6; round++) {
        for (let k = 0; k < 4; k++) await ok(model, { system: `System prompt ${k} for ${tag}, long enough to matter. ${'context '.repeat(20)}`, user: `q${round}` });
      }
      return pods.reduce((s, p) => s + p.prefixCache.hits, 0) - hitsBefore;
    };
    const affinityHits = await hitsOf('chat-prefix', `a${Date.now()}`);
    const spreadHits = await hitsOf('chat-lo', `b${Date.now()}`);
    expect(affinityHits).toBeGreaterThan(spreadHits);
  });

  it('prefers the pod already running the LoRA adapter, then a pod with a free adapter slot', async () => {
    pods[0]?.set({ lora: { running: ['sql-lora'], waiting: [], maxLora: 1 } });
    pods[1]?.set({ lora: { running: ['other'], waiting: [], maxLora: 1 } });
    pods[2]?.set({ lora: { running: ['x'], waiting: [], maxLora: 1 } });
    await scraped();
    let before = counts();
    for (let i = 0; i < 6; i++) await ok('sql');
    expect(delta(before)).toEqual([6, 0, 0]);
    expect(pods[0]?.served.at(-1)?.model).toBe('sql-lora');

    pods[0]?.set({ lora: { running: ['other2'], waiting: [], maxLora: 1 } });
    pods[1]?.set({ lora: { running: [], waiting: [], maxLora: 1 } });
    await scraped();
    before = counts();
    for (let i = 0; i < 4; i++) await ok('sql');
    expect(delta(before)).toEqual([0, 4, 0]);
  });

  it('drains a pod whose /health fails, and lets metrics that stopped updating age out', async () => {
    pods[0]?.set({ health: 503 });
    await scraped();
    let before = counts();
    for (let i = 0; i < 9; i++) await ok('chat-lo');
    expect(delta(before)[0]).toBe(0);

    pods[0]?.set({ health: 200, queue: 50 });
    await scraped();
    before = counts();
    for (let i = 0; i < 9; i++) await ok('chat-lo');
    expect(delta(before)[0]).toBe(0); // saturated by its last scrape

    // /metrics now fails; the last scrape (queue 50) goes stale and the pod is judged by in-flight requests alone.
    pods[0]?.set({ metrics: 'error' });
    await vi.waitFor(
      async () => {
        const b = counts();
        for (let i = 0; i < 3; i++) await ok('chat-lo');
        expect(delta(b)[0]).toBeGreaterThan(0);
      },
      { timeout: 15_000, interval: 50 },
    );
    expect(pods[0]?.controls.queue).toBe(50);
  });

  it("keeps serving from a pod that another namespace's Provider names with a failing health path", async () => {
    // Tenant aaa lists pod 0 of default's Service by URL, with a health path the pod answers 404 to.
    // Its Provider sorts first in the snapshot; before, the pod's health verdict was keyed by URL
    // and came from the first Provider's settings: pod 0 was drained for default/llama too.
    apply(`---
apiVersion: v1
kind: Namespace
metadata: { name: aaa }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: other, namespace: aaa }
spec:
  type: vllm
  url: ${pods[0]?.baseUrl ?? ''}
  vllm: { scrape: { interval: 50ms, timeout: 2s, healthPath: /nope }, unhealthyThreshold: 1 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: other, namespace: aaa }
spec:
  model: other
  targets: [{ providerRef: { name: other }, model: llama-3.1-8b }]
`);
    try {
      await scraped();
      const before = counts();
      for (let i = 0; i < 9; i++) await ok('chat-lo');
      expect(delta(before)).toEqual([3, 3, 3]);
    } finally {
      apply();
    }
  });

  it('spills over to the hosted target when every pod is saturated, and comes back when load drops', async () => {
    for (const p of pods) p.set({ queue: 50 });
    await scraped();
    const hostedBefore = hosted.requests.length;
    let before = counts();
    const res = await ok('spill');
    expect(res.headers.get('x-tollgate-provider')).toBe('default/hosted');
    expect(delta(before)).toEqual([0, 0, 0]);
    expect(hosted.requests.length).toBe(hostedBefore + 1);
    const rec = gateway.usage.records.at(-1);
    expect(rec?.providerId).toBe('default/hosted');
    expect(rec?.routeId).toBe('default/spill');
    expect(rec?.costUsd).toBeCloseTo((10 * 1000 + 5 * 2000) / 1e6, 8);

    for (const p of pods) p.set({ queue: 0 });
    await scraped();
    before = counts();
    const back = await ok('spill');
    expect(back.headers.get('x-tollgate-provider')).toBe('default/llama');
    expect(delta(before).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('spills over when the pods answer 503, and keeps away from them while they cool down', async () => {
    for (const p of pods) p.set({ reject: { status: 503 } });
    const res = await ok('spill');
    expect(res.headers.get('x-tollgate-provider')).toBe('default/hosted');
    const again = await ok('spill');
    expect(again.headers.get('x-tollgate-provider')).toBe('default/hosted');
    for (const p of pods) p.set({ reject: undefined });
    await vi.waitFor(async () => expect((await ok('spill')).headers.get('x-tollgate-provider')).toBe('default/llama'), { timeout: 5000, interval: 100 });
  });

  it('keeps traffic away from a pod that fails fast with 500 while its /health passes', async () => {
    // A broken engine answers 500 at once: with nothing in flight it has the best score, so without
    // a cool-down on repeated 5xx it drew most requests (87% of them failed with one attempt each).
    for (const p of pods) p.set({ latencyMs: 150 });
    pods[0]?.set({ reject: { status: 500 } });
    const statuses: number[] = [];
    let sent = 0;
    const client = async (): Promise<void> => {
      while (sent < 60) {
        sent++;
        const res = await chat('chat-once');
        await res.text();
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: 6 }, client));
    expect(statuses.length).toBe(60);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(50);
  });

  it('answers 503 with retry-after when every pod is saturated and the route has no spill-over target', async () => {
    for (const p of pods) p.set({ queue: 50 });
    await scraped();
    const before = counts();
    const res = await chat('chat');
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.code).toBe('pods_saturated');
    expect(body.error.type).toBe('service_unavailable_error');
    expect(body.error.message).toContain('saturated');
    expect(delta(before)).toEqual([0, 0, 0]);
  });

  it('meters GPU-seconds for vLLM requests, JSON and streamed', async () => {
    for (const p of pods) p.set({ latencyMs: 200 });
    const res = await ok('chat');
    const rec = gateway.usage.records.at(-1);
    expect(rec?.providerId).toBe('default/llama');
    // Token prices are 0: the cost is the pod time alone, at 0.5 USD per GPU-second × 2 GPUs, for at least ~0.2 s alone on the pod.
    expect(rec?.costUsd).toBeGreaterThan(0.15);
    expect(res.headers.get('x-tollgate-cost-usd')).toBe(rec?.costUsd.toFixed(8));

    await ok('chat', { stream: true });
    const streamed = gateway.usage.records.at(-1);
    expect(streamed?.stream).toBe(true);
    expect(streamed?.estimated).toBe(false);
    expect(streamed?.costUsd).toBeGreaterThan(0.15);
  });

  it("sends vLLM only what its request model takes: chat, Anthropic and Responses clients' requests, translated, are not refused (400)", async () => {
    for (const p of pods) p.set({ latencyMs: 0, queue: 0, kvCacheUsage: 0.1, reject: undefined });
    const post = (path: string, body: unknown): Promise<Response> => fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const answers = [
      await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools, tool_choice: 'auto', stream: true, stream_options: { include_usage: true } }),
      await post('/v1/messages', { model: 'chat', max_tokens: 50, system: 'Be brief.', tools: [{ name: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }], tool_choice: { type: 'auto' }, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }),
      await post('/v1/messages', { model: 'chat', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      await post('/v1/responses', { model: 'chat', instructions: 'Be brief.', input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], max_output_tokens: 50 }),
    ];
    const refused = pods.flatMap((p) => p.refused);
    expect(refused).toEqual([]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // A field of vLLM's own the gateway does not read (top_k) goes as it came; vLLM's 400 reaches the client, as its words.
    const bad = await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'hi' }], top_k: 'five' });
    expect(pods.flatMap((p) => p.refused)).toEqual(['top_k: Input should be a valid integer']);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/top_k/);
  });
});
