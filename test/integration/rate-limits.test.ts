import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTestServer } from '../redis/redis-server.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import {
  anonymousRoute,
  dataplaneService,
  eventually,
  POD_NET,
  postChat as post,
  type Proc,
  startDataplane,
  startOperator,
  startTestCluster,
  type TestCluster,
  upstreamProvider,
} from './harness.js';

const IPS = [`${POD_NET}.21`, `${POD_NET}.22`, `${POD_NET}.23`];
const OPERATOR_PORT = 19291;
const LIMIT = 30;

let k: TestCluster;
let upstream: OpenAiUpstream;
let redis: RedisTestServer;
let operator: Proc;
let pods: Proc[] = [];

const route = (name: string, limit = LIMIT) => anonymousRoute('team-a', name, `  rateLimits: [{ per: Route, requestsPerMinute: ${limit} }]\n`);
/** A per-pod limit only to read the pod's share from: its x-ratelimit-remaining-requests is the cluster-wide estimate. */
const PROBE_LIMIT = 6000;

/** What a pod's per-pod bucket of route `probe` reports left after one more request: (its share - 1) × the replicas it knows of. */
async function probeRemaining(ip: string): Promise<number> {
  const res = await fetch(`http://${ip}:8080/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'probe', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return Number(res.headers.get('x-ratelimit-remaining-requests'));
}

async function startPods(env: Record<string, string>, perPod: boolean): Promise<void> {
  // SIGKILL, all at once: each SIGTERM drain would wait ~20 s for its keep-alive clients, and
  // nothing here checks the drain.
  await Promise.all(pods.map((p) => p.kill()));
  pods = IPS.map((ip) => startDataplane(ip, { operatorUrl: `http://127.0.0.1:${OPERATOR_PORT}`, env }));
  for (const ip of IPS) await eventually(() => post(ip, 'warmup').then((s) => expect(s).toBe(200)), `pod ${ip}`, 30_000);
  // Usage reports tell each pod how many replicas share the per-pod limits: wait until every pod
  // knows of all three (a fixed 1 s was too short under load: a pod still enforcing the whole limit
  // alone let the burst through). One replica leaves PROBE_LIMIT - 1, three (PROBE_LIMIT / 3 - 1) × 3.
  if (perPod) {
    for (const ip of IPS) {
      await eventually(async () => expect(await probeRemaining(ip)).toBeLessThanOrEqual(PROBE_LIMIT - IPS.length), `pod ${ip} to know ${IPS.length} replicas`, 30_000);
    }
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
  k.apply([upstreamProvider('team-a', upstream.baseUrl), anonymousRoute('team-a', 'warmup'), route('per-pod'), route('shared'), route('probe', PROBE_LIMIT)].join('---\n'));
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
    await startPods({}, true);
    const started = Date.now();
    const { admitted, limited } = await burst('per-pod', 3 * LIMIT, 9);
    // Round-robin spreads the load evenly: 3 × 10. Rounding of shares allows a little more, and so
    // does the refill, one request every 2 s across the pods for as long as the burst takes on a
    // loaded machine; without shares it would be 3 × 30.
    const refills = Math.floor((Date.now() - started) / (60_000 / LIMIT));
    expect(admitted).toBeGreaterThanOrEqual(LIMIT - 3);
    expect(admitted).toBeLessThanOrEqual(LIMIT + 3 + refills);
    expect(limited).toBe(3 * LIMIT - admitted);
  });

  it('Redis backend: the limit holds exactly across pods', async () => {
    await startPods({ TOLLGATE_REDIS_URL: redis.url }, false);
    const started = Date.now();
    const { admitted } = await burst('shared', 3 * LIMIT, 9);
    // The bucket refills a request every 2 s: one refill can land during a burst of under 2 s, one
    // more for every further 2 s the burst takes on a loaded machine.
    const refills = 1 + Math.floor((Date.now() - started) / (60_000 / LIMIT));
    expect(admitted).toBeGreaterThanOrEqual(LIMIT);
    expect(admitted).toBeLessThanOrEqual(LIMIT + refills);
  });
});
