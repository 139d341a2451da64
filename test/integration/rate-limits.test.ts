import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTestServer } from '../redis/redis-server.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { dataplaneService, eventually, POD_NET, type Proc, startDataplane, startOperator, startTestCluster, type TestCluster } from './harness.js';

const IPS = [`${POD_NET}.21`, `${POD_NET}.22`, `${POD_NET}.23`];
const OPERATOR_PORT = 19291;
const LIMIT = 30;

let k: TestCluster;
let upstream: OpenAiUpstream;
let redis: RedisTestServer;
let operator: Proc;
let pods: Proc[] = [];

const route = (name: string) => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: team-a }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: m }]
  access: { anonymous: true }
  rateLimits: [{ per: Route, requestsPerMinute: ${LIMIT} }]
`;

async function startPods(env: Record<string, string>): Promise<void> {
  for (const p of pods) await p.kill('SIGTERM');
  pods = IPS.map((ip) => startDataplane(ip, { operatorUrl: `http://127.0.0.1:${OPERATOR_PORT}`, env }));
  for (const ip of IPS) await eventually(() => post(ip, 'warmup').then((s) => expect(s).toBe(200)), `pod ${ip}`, 30_000);
  // Usage reports tell each pod how many replicas share the per-pod limits.
  await new Promise((r) => setTimeout(r, 1000));
}

async function post(ip: string, model: string): Promise<number> {
  try {
    const res = await fetch(`http://${ip}:8080/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** `total` requests spread over the three pods, `concurrency` at a time; how many were admitted. */
async function burst(model: string, total: number, concurrency: number): Promise<{ admitted: number; limited: number }> {
  let next = 0;
  let admitted = 0;
  let limited = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const status = await post(IPS[i % IPS.length] ?? '', model);
        if (status === 200) admitted++;
        else if (status === 429) limited++;
        else throw new Error(`unexpected status ${status}`);
      }
    }),
  );
  return { admitted, limited };
}

beforeAll(async () => {
  k = await startTestCluster();
  upstream = await startOpenAiUpstream();
  redis = await RedisTestServer.start();
  k.kubectl(['create', 'namespace', 'team-a']);
  k.apply(`apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: up, namespace: team-a }
spec:
  type: openai-compatible
  url: ${upstream.baseUrl}
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: warmup, namespace: team-a }
spec:
  model: warmup
  targets: [{ providerRef: { name: up }, model: m }]
  access: { anonymous: true }
---
${route('per-pod')}---
${route('shared')}`);
  k.apply(dataplaneService(IPS));
  operator = startOperator(k.operatorKubeconfig, { port: OPERATOR_PORT, identity: 'rl-operator' });
}, 120_000);

afterAll(async () => {
  for (const p of pods) await p.kill();
  await operator?.kill();
  await redis?.stop();
  await upstream?.close();
  await k?.stop();
});

describe('cluster-wide rate limits with three data-plane processes', () => {
  it('per-pod buckets: each pod enforces its share, so the cluster holds the limit within a tolerance', async () => {
    await startPods({});
    const { admitted, limited } = await burst('per-pod', 3 * LIMIT, 9);
    // Round-robin spreads the load evenly: 3 × 10. Refill during the burst and rounding of shares
    // allow a little more; without shares it would be 3 × 30.
    expect(admitted).toBeGreaterThanOrEqual(LIMIT - 3);
    expect(admitted).toBeLessThanOrEqual(LIMIT + 3);
    expect(limited).toBe(3 * LIMIT - admitted);
  });

  it('Redis backend: the limit holds exactly across pods', async () => {
    await startPods({ TOLLGATE_REDIS_URL: redis.url });
    const { admitted } = await burst('shared', 3 * LIMIT, 9);
    // One refill (a request every 2 s) can land during the burst.
    expect(admitted).toBeGreaterThanOrEqual(LIMIT);
    expect(admitted).toBeLessThanOrEqual(LIMIT + 1);
  });
});
