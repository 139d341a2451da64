import { once } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BudgetConfig } from '../../dataplane/config/snapshot.js';
import { UsageAggregator } from '../budgets/usage-aggregator.js';
import type { RejectedRecord } from '../budgets/usage-intake.js';
import { ReportingPods } from '../budgets/reporting-pods.js';
import type { EndpointSliceObject } from '../controller/kube-types.js';
import type { KubeObject } from '../kube/kube-client.js';
import type { Distributor } from './distributor.js';
import { createOperatorApp } from './operator-server.js';
import { UsageReportResponseSchema } from '../../dataplane/config/usage-report.js';

const budget: BudgetConfig = {
  id: 'team-a/daily',
  unit: 'USD',
  amount: 10,
  period: 'Day',
  timeZone: 'UTC',
  subjects: { namespaces: ['team-a'], serviceAccounts: [], apiKeys: [], routes: [] },
  action: { type: 'Reject', cutStreams: false },
  thresholds: [],
};

const rejected: { pod: string; records: readonly RejectedRecord[] }[] = [];
let url = '';
let close: () => Promise<void>;

beforeAll(async () => {
  const objects = new Map<string, KubeObject>([[budget.id, { metadata: { name: 'daily', namespace: 'team-a' } } as KubeObject]]);
  const usage = new UsageAggregator({
    // GET: the Budget as the API server lists it (what a new leader reads); PATCH: the status write.
    client: { request: async <T>(method: string): Promise<T> => (method === 'GET' ? { items: [...objects.values()] } : {}) as T },
    budgetObjects: () => objects,
    budgetConfigs: () => [budget],
    replicas: () => 1,
    logger: pino({ level: 'silent' }),
  });
  // The data-plane pods: dp-b is this test's loopback address, dp-a another node's.
  const slice = {
    metadata: { name: 'tollgate-dataplane-x', namespace: 'tollgate-system', labels: { 'kubernetes.io/service-name': 'tollgate-dataplane' } },
    endpoints: [
      { addresses: ['127.0.0.1'], targetRef: { kind: 'Pod', name: 'dp-b' } },
      { addresses: ['10.0.0.1'], targetRef: { kind: 'Pod', name: 'dp-a' } },
    ],
  } as EndpointSliceObject;
  const app = createOperatorApp({
    reporters: new ReportingPods(() => [slice], 'tollgate-system', 'tollgate-dataplane'),
    logger: pino({ level: 'silent' }),
    token: 't0ken',
    usage,
    distributor: { envelope: {} } as unknown as Distributor,
    registry: new Registry(),
    isReady: () => true,
    isLeader: () => true,
    onRejectedUsage: (pod, records) => void rejected.push({ pod, records }),
  });
  const server = createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((r) => server.close(() => r()));
});

afterAll(() => close());

const report = (records: unknown[]) =>
  fetch(`${url}/v1/usage`, { method: 'POST', headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' }, body: JSON.stringify({ pod: 'p1', records }) });

/** A report sent from a local address of our choosing (127.0.0.0/8 is all loopback). */
function reportFrom(localAddress: string, pod: string, records: unknown[]): Promise<{ status: number; body: { budgets?: Record<string, { spent: number; appliedThrough: Record<string, number> }>; error?: string } }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/usage`, { method: 'POST', localAddress, headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as never }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ pod, records }));
  });
}

const rec = (seq: number, costUsd: number, tokens = 10) => ({ seq, at: Date.now(), costUsd, tokens, budgetIds: [budget.id] });

describe('operator usage intake', () => {
  it('drops a record that cannot be counted, acknowledges it, and keeps counting the rest', async () => {
    const first = await report([rec(1, 0.5), rec(2, -115, -1_000_000), rec(3, 0.25, 2.5)]);
    expect(first.status).toBe(200);
    const answer = (await first.json()) as { ackedThrough: number; budgets: Record<string, { spent: number }> };
    // Acknowledged through the bad records too, so the pod drops them instead of resending forever.
    expect(answer.ackedThrough).toBe(3);
    expect(answer.budgets[budget.id]?.spent).toBe(0.5);
    expect(rejected).toEqual([{ pod: 'p1', records: [expect.objectContaining({ seq: 2 }), expect.objectContaining({ seq: 3 })] }]);
    // The channel is not wedged: the next report counts.
    const next = await report([rec(4, 1)]);
    expect(next.status).toBe(200);
    expect(((await next.json()) as { budgets: Record<string, { spent: number }> }).budgets[budget.id]?.spent).toBe(1.5);
  });

  it('still refuses a report that is not a report at all', async () => {
    const res = await fetch(`${url}/v1/usage`, { method: 'POST', headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' }, body: JSON.stringify({ records: 'nope' }) });
    expect(res.status).toBe(400);
  });

  // Every pod's usage answer carries every Budget's state: one state that JSON cannot carry (spent
  // Infinity is sent as null) made every pod of the installation refuse every answer and resend
  // forever. A tenant could get there with two requests at a price of its own Provider
  // (`perRequest: 1.7e308`) charged to a Budget of its own namespace.
  it('keeps a Budget\'s spend a finite number every pod can read, whatever the records cost', async () => {
    const huge = (seq: number) => ({ seq, at: Date.now(), costUsd: 1.7e308, tokens: 10, budgetIds: [budget.id] });
    for (const seq of [10, 11]) {
      const res = await report([huge(seq)]);
      expect(res.status).toBe(200);
      const answer: unknown = await res.json();
      expect(UsageReportResponseSchema.safeParse(answer).success).toBe(true);
      const spent = (answer as { budgets: Record<string, { spent: number }> }).budgets[budget.id]?.spent;
      // Still far over the Budget: the clamp does not let the spend through.
      expect(spent).toBeGreaterThan(budget.amount);
      expect(Number.isFinite(spent)).toBe(true);
    }
  });

  // A time no Date can hold: the late-record log line threw, so the report was answered 503 (and
  // UsageHistory's day of it threw on every resend, wedging the pod's channel for good).
  it('drops and acknowledges a record timed outside what a date can hold', async () => {
    rejected.length = 0;
    const res = await report([{ seq: 20, at: -1e16, costUsd: 0.01, tokens: 1, budgetIds: [budget.id] }, { seq: 21, at: 1e16, costUsd: 0.01, tokens: 1, budgetIds: [budget.id] }]);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ackedThrough: number }).ackedThrough).toBe(21);
    expect(rejected).toEqual([{ pod: 'p1', records: [expect.objectContaining({ seq: 20 }), expect.objectContaining({ seq: 21 })] }]);
  });

  // The pod's name is a key of every Budget's status.appliedThrough it charges: a megabyte name
  // made each of those status writes too large for the API server, for every tenant's Budget.
  it('refuses a report whose pod name no pod can have', async () => {
    const res = await fetch(`${url}/v1/usage`, { method: 'POST', headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' }, body: JSON.stringify({ pod: 'p'.repeat(300_000), records: [rec(30, 0.01)] }) });
    expect(res.status).toBe(400);
  });

  // Every pod holds the report token, and a report named any pod: one under a live pod's name with a
  // high seq moved that pod's appliedThrough[pod] past its records, which were then skipped (spend
  // lost); a pod's reports are now bound to its address as the data-plane EndpointSlices show it.
  it("refuses a report under another data-plane pod's name, from that pod's or any other address", async () => {
    const first = await reportFrom('127.0.0.1', 'dp-b-0a1b2c3d', [rec(1, 0.5)]);
    expect(first.status).toBe(200);
    const spent = first.body.budgets?.[budget.id]?.spent ?? Number.NaN;
    // From an address that is not dp-b's (dp-b has reported from its own), with a seq far ahead.
    const forged = await reportFrom('127.0.0.2', 'dp-b-0a1b2c3d', [rec(1000, 0)]);
    expect(forged.status).toBe(403);
    // From dp-b's address, naming dp-a.
    expect((await reportFrom('127.0.0.1', 'dp-a-0a1b2c3d', [rec(1000, 0)])).status).toBe(403);
    // dp-b's next record still counts.
    const next = await reportFrom('127.0.0.1', 'dp-b-0a1b2c3d', [rec(2, 0.25)]);
    expect(next.status).toBe(200);
    expect(next.body.budgets?.[budget.id]).toMatchObject({ spent: spent + 0.25, appliedThrough: { 'dp-b-0a1b2c3d': 2 } });
  });

  // UsageHistory keys its reports "<namespace>/<day>" and splits the key on "/": a namespace with a
  // slash made it create a UsageReport named after the rest (any name) in another namespace.
  it('drops a usage-history record whose namespace is not a namespace name', async () => {
    rejected.length = 0;
    const request = { outcome: 'ok', failovers: 0, cacheHit: false, inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, latencyMs: 5 };
    const res = await report([
      { seq: 40, at: Date.now(), costUsd: 0, tokens: 0, budgetIds: [], request: { ...request, namespace: 'team-a/not-a-day' } },
      { seq: 41, at: Date.now(), costUsd: 0, tokens: 0, budgetIds: [], request: { ...request, namespace: 'Team_A' } },
      { seq: 42, at: Date.now(), costUsd: 0, tokens: 0, budgetIds: [], request: { ...request, namespace: 'team-a' } },
    ]);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ackedThrough: number }).ackedThrough).toBe(42);
    expect(rejected).toEqual([{ pod: 'p1', records: [expect.objectContaining({ seq: 40 }), expect.objectContaining({ seq: 41 })] }]);
  });

  // The report body is read with the public port's bounds before JSON.parse: before, any JSON up to
  // 4 MB was parsed, and 4 MB of nested arrays held the leader's event loop (every pod's usage
  // answers, the snapshot pushes) for about a second.
  it('refuses a report nested deeper than any report is, before parsing it', async () => {
    const depth = 1_000_000;
    const body = `{"pod":"p1","records":[],"extra":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const res = await fetch(`${url}/v1/usage`, { method: 'POST', headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/deeper than 16 levels/);
  });
});

