import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVllmEmulator, type VllmEmulator } from '../emulators/vllm.js';
import { type Conditioned, conditionOf, dataplaneService, eventually, POD_NET, type Proc, startDataplane, startOperator, startTestCluster, type TestCluster } from './harness.js';

// Three vLLM emulator "pods" on pod-network addresses behind one Service port, listed in an
// EndpointSlice written to a real kube-apiserver (no EndpointSlice controller runs, so the test
// writes it as the controller would). The operator resolves the slice into the snapshot; one
// data-plane process balances over the pod addresses by load.
const POD_IPS = [`${POD_NET}.60`, `${POD_NET}.61`, `${POD_NET}.62`];
const POD_PORT = 8000;
const DP = `${POD_NET}.65`;
const OPERATOR_PORT = 19391;
const NS = 'ml';

let k: TestCluster;
let operator: Proc;
let dataplane: Proc;
let pods: VllmEmulator[] = [];

const manifests = `apiVersion: v1
kind: Service
metadata: { name: llama, namespace: ${NS} }
spec:
  ports: [{ name: openai, port: ${POD_PORT}, targetPort: ${POD_PORT} }]
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: llama, namespace: ${NS} }
spec:
  type: vllm
  serviceRef: { name: llama, port: ${POD_PORT} }
  vllm:
    # A generous timeout: with unhealthyThreshold 1, one probe slowed past 500 ms by a loaded machine took a pod out.
    scrape: { interval: 100ms, timeout: 2s, staleAfter: 2s }
    unhealthyThreshold: 1
    saturation: { maxQueueDepth: 20, maxKvCacheUsage: 0.95 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat, namespace: ${NS} }
spec:
  model: chat
  access: { anonymous: true }
  targets: [{ providerRef: { name: llama }, model: llama-3.1-8b }]
`;

/** The EndpointSlice of Service llama as the controller would write it; the port name matches the Service port's. */
function slice(ready: boolean[]): string {
  return yaml.dump({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'llama-abcde', namespace: NS, labels: { 'kubernetes.io/service-name': 'llama' } },
    addressType: 'IPv4',
    endpoints: POD_IPS.map((ip, i) => ({ addresses: [ip], conditions: { ready: ready[i] ?? true } })),
    ports: [{ name: 'openai', port: POD_PORT, protocol: 'TCP' }],
  });
}

interface ProviderObject extends Conditioned {
  status?: Conditioned['status'] & { endpoints?: number };
}

async function chat(): Promise<void> {
  const res = await fetch(`http://${DP}:8080/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`status ${res.status}: ${text}`);
}

const counts = (): number[] => pods.map((p) => p.served.length);
const delta = (before: number[]): number[] => counts().map((n, i) => n - (before[i] ?? 0));

/** Waits until the given pods have been scraped (metrics + health) a few more times, so the gateway has seen a change. */
async function scraped(which: VllmEmulator[] = pods): Promise<void> {
  const before = which.map((p) => p.scrapes + p.healthChecks);
  await eventually(() => expect(which.every((p, i) => p.scrapes + p.healthChecks >= (before[i] ?? 0) + 4)).toBe(true), 'fresh scrapes', 10_000);
}

async function providerWithEndpoints(n: number): Promise<ProviderObject> {
  return eventually(() => {
    const o = k.get<ProviderObject>('provider', 'llama', NS);
    if (o.status?.endpoints !== n) throw new Error(`status ${JSON.stringify(o.status)}`);
    return o;
  }, `Provider status.endpoints = ${n}`);
}

beforeAll(async () => {
  k = await startTestCluster();
  pods = await Promise.all(POD_IPS.map((host) => startVllmEmulator({ host, port: POD_PORT })));
  k.kubectl(['create', 'namespace', NS]);
  k.apply(manifests);
  k.apply(slice([true, true, true]));
  dataplane = startDataplane(DP, { operatorUrl: `http://127.0.0.1:${OPERATOR_PORT}` });
  k.apply(dataplaneService([DP]));
  operator = startOperator(k.operatorKubeconfig, { port: OPERATOR_PORT, identity: 'vllm-operator' });
  await eventually(chat, 'the vLLM route to be served', 30_000);
}, 150_000);

afterAll(async () => {
  await operator?.kill();
  await dataplane?.kill();
  await Promise.all(pods.map((p) => p.close()));
  await k?.stop();
});

describe('vLLM pods from an EndpointSlice in a real API server', () => {
  it('resolves the ready pods into the Provider status (status.endpoints, ResolvedRefs)', async () => {
    const obj = await providerWithEndpoints(3);
    expect(conditionOf(obj, 'ResolvedRefs')).toMatchObject({ status: 'True' });
    // The data plane calls the pod addresses, not a Service IP: every pod is scraped and serves.
    await scraped();
    const before = counts();
    for (let i = 0; i < 9; i++) await chat();
    expect(delta(before).every((n) => n > 0)).toBe(true);
  });

  it('spreads requests by load: a pod with a deep queue gets fewer', async () => {
    for (const p of pods) p.set({ latencyMs: 150 });
    pods[0]?.set({ queue: 6 });
    await scraped();
    const before = counts();
    await Promise.all(Array.from({ length: 12 }, () => chat()));
    const d = delta(before);
    expect(d.reduce((a, b) => a + b, 0)).toBe(12);
    expect(d[0]).toBeLessThan(d[1] ?? 0);
    expect(d[0]).toBeLessThan(d[2] ?? 0);
    for (const p of pods) p.set({ latencyMs: 0, queue: 0 });
    await scraped();
  });

  it('stops sending to a pod the EndpointSlice marks not ready, and resumes when it is ready again', async () => {
    k.apply(slice([true, true, false]));
    const obj = await providerWithEndpoints(2);
    expect(conditionOf(obj, 'ResolvedRefs')).toMatchObject({ status: 'True' });
    // The snapshot reaches the data plane shortly after the status write: wait for a round with none on pod 3.
    await eventually(async () => {
      const b = counts();
      for (let i = 0; i < 6; i++) await chat();
      expect(delta(b)[2]).toBe(0);
    }, 'pod 3 to be left out');
    const before = counts();
    for (let i = 0; i < 12; i++) await chat();
    const d = delta(before);
    expect(d).toEqual([d[0], d[1], 0]);
    expect((d[0] ?? 0) > 0 && (d[1] ?? 0) > 0).toBe(true);
    // A pod that left the snapshot is no longer scraped either.
    const scrapes = pods[2]?.scrapes ?? 0;
    await scraped(pods.slice(0, 2));
    expect(pods[2]?.scrapes ?? 0).toBeLessThanOrEqual(scrapes + 1);

    k.apply(slice([true, true, true]));
    await providerWithEndpoints(3);
    await eventually(async () => {
      const b = counts();
      for (let i = 0; i < 6; i++) await chat();
      expect(delta(b)[2]).toBeGreaterThan(0);
    }, 'pod 3 to serve again');
  });

  it('reports NoReadyEndpoints when no pod is ready', async () => {
    k.apply(slice([false, false, false]));
    const obj = await providerWithEndpoints(0);
    expect(conditionOf(obj, 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'NoReadyEndpoints' });
    k.apply(slice([true, true, true]));
    await providerWithEndpoints(3);
  });
});
