// The usage channel's send window end to end: the data plane's UsageReporter against the operator's
// HTTP intake (term, budgets, usage history) over loopback, with an in-memory API server for the
// UsageReports. A record crosses the wire once while the leader's term holds; a new term (leader
// change, a failed write) gets what is not persisted again, and it is counted once.
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestUsage } from '../../dataplane/config/request-usage.js';
import type { UsageReport } from '../../dataplane/config/usage-report.js';
import { BudgetLedger } from '../../dataplane/governance/budget/budget-ledger.js';
import { UsageReporter } from '../../dataplane/governance/budget/usage-reporter.js';
import { fakeUsageReportsApi } from '../../test/support/fake-usage-reports-api.js';
import { UsageAggregator } from '../budgets/usage-aggregator.js';
import { MAX_TERM_PODS, UsageTerm } from '../budgets/usage-term.js';
import { KubeError } from '../kube/kube-client.js';
import { UsageHistory } from '../usage/usage-history.js';
import type { Distributor } from './distributor.js';
import { createOperatorApp } from './operator-server.js';

const logger = pino({ level: 'silent' });
const request: RequestUsage = { namespace: 'team-a', outcome: 'ok', failovers: 0, cacheHit: false, inputTokens: 10, outputTokens: 5, cachedInputTokens: 0, latencyMs: 100 };

/** One operator replica's intake: what it was sent, and its history writes (called by the test, not a timer). */
function operatorReplica(api: ReturnType<typeof fakeUsageReportsApi>, identity: string) {
  const term = new UsageTerm(identity);
  const history = new UsageHistory({ client: api.client, logger, onLost: () => term.begin() });
  const received: number[] = [];
  const usage = new UsageAggregator({ client: api.client, budgetObjects: () => new Map(), budgetConfigs: () => [], replicas: () => 1, logger });
  const app = createOperatorApp({
    token: 't0ken',
    usage,
    history: {
      flushIntervalMs: history.flushIntervalMs,
      handle: (report: UsageReport) => {
        received.push(...report.records.map((r) => r.seq));
        return history.handle(report);
      },
    },
    term,
    distributor: { envelope: {} } as unknown as Distributor,
    registry: new Registry(),
    isReady: () => true,
    isLeader: () => true,
    logger,
  });
  return { app, term, history, received };
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

/** The operator Service: whichever replica leads now answers. */
async function service(first: RequestListener): Promise<{ url: string; lead: (app: RequestListener) => void }> {
  let leader = first;
  server = createServer((req, res) => leader(req, res)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lead: (app) => (leader = app) };
}

function pod(url: string): UsageReporter {
  return new UsageReporter(new BudgetLedger('pod-1', { standalone: false }), { operatorUrl: url, token: 't0ken', logger });
}

const requests = (api: ReturnType<typeof fakeUsageReportsApi>): number | undefined => [...api.objects.values()][0]?.status?.totals.requests;

describe('usage channel send window', () => {
  it('sends each record once while the term holds; acknowledges it once written', async () => {
    const api = fakeUsageReportsApi();
    const a = operatorReplica(api, 'op-a');
    const reporter = pod((await service(a.app)).url);
    for (let i = 0; i < 5; i++) reporter.reportRequest(request, 0.01);
    for (let round = 0; round < 4; round++) await reporter.flush();
    // Before the window the pod sent its 5 unacknowledged records on each of the 4 reports.
    expect(a.received).toEqual([1, 2, 3, 4, 5]);
    expect(reporter.unacknowledged).toBe(5);
    await a.history.flush();
    await reporter.flush();
    expect(reporter.unacknowledged).toBe(0);
    expect(requests(api)).toBe(5);
    expect(a.received).toHaveLength(5);
  });

  it('a leader change gets what is not acknowledged again and counts it once; nothing persisted is sent again', async () => {
    const api = fakeUsageReportsApi();
    const a = operatorReplica(api, 'op-a');
    const svc = await service(a.app);
    const reporter = pod(svc.url);
    for (let i = 0; i < 4; i++) reporter.reportRequest(request, 0.01);
    await reporter.flush();
    await a.history.flush();
    await reporter.flush(); // 1..4 acknowledged
    for (let i = 0; i < 3; i++) reporter.reportRequest(request, 0.01);
    await reporter.flush(); // 5..7 received by A
    await a.history.flush(); // and written, but A dies before the pod hears it
    for (let i = 0; i < 2; i++) reporter.reportRequest(request, 0.01); // 8..9: not sent yet
    const b = operatorReplica(api, 'op-b');
    svc.lead(b.app);
    await reporter.flush(); // B does not continue A's term: nothing counted, the pod goes back to its durable point
    expect(b.received).toEqual([]);
    await reporter.flush();
    expect(b.received).toEqual([5, 6, 7, 8, 9]);
    await b.history.flush();
    await reporter.flush();
    expect(reporter.unacknowledged).toBe(0);
    // 5..7 were in the report already: counted once.
    expect(requests(api)).toBe(9);
    // 1..7 once each, 8..9 in the report B turned away, then 5..9 again for B.
    expect(reporter.sent).toEqual({ records: 7 + 2 + 5, resends: 1 });
  });

  it('a history write that fails starts a new term: the pods resend, and the report is counted exactly', async () => {
    const api = fakeUsageReportsApi();
    const a = operatorReplica(api, 'op-a');
    const reporter = pod((await service(a.app)).url);
    for (let i = 0; i < 3; i++) reporter.reportRequest(request, 0.01);
    await reporter.flush();
    const epoch = a.term.epoch;
    api.failPut(new KubeError(500, 'etcd timeout'));
    await expect(a.history.flush()).rejects.toThrow('etcd timeout');
    expect(a.term.epoch).not.toBe(epoch);
    await reporter.flush();
    await reporter.flush();
    await a.history.flush();
    await reporter.flush();
    expect(reporter.unacknowledged).toBe(0);
    expect(requests(api)).toBe(3);
    expect(a.received).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it('a pod without the window (rolling upgrade) is answered as before: acknowledged through its report once written', async () => {
    const api = fakeUsageReportsApi();
    const a = operatorReplica(api, 'op-a');
    const { url } = await service(a.app);
    const records = [1, 2].map((seq) => ({ seq, at: Date.now(), costUsd: 0.01, tokens: 15, budgetIds: [], request }));
    const post = async () =>
      (await (await fetch(`${url}/v1/usage`, { method: 'POST', headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' }, body: JSON.stringify({ pod: 'old-pod', records }) })).json()) as Record<string, unknown>;
    expect(await post()).toMatchObject({ ackedThrough: 0 });
    await a.history.flush();
    const answer = await post();
    expect(answer).toMatchObject({ ackedThrough: 2 });
    expect(answer.epoch).toBeUndefined();
    expect(requests(api)).toBe(2);
  });
});

describe('UsageTerm', () => {
  const report = (window: UsageReport['window'], pod = 'p'): UsageReport => ({ pod, records: [], ...(window === undefined ? {} : { window }) });

  it('admits a report that continues its window or starts at the pod durable point, nothing else', () => {
    const term = new UsageTerm('op');
    const epoch = term.epoch;
    const fresh = term.admit(report({ after: 0, durable: 0 }));
    expect(fresh).toBeDefined();
    expect(term.received(fresh!, 'p', 10)).toBe(10);
    expect(term.admit(report({ epoch, after: 10, durable: 0 }))).toBeDefined();
    // Past what this term has, from another term, or a pod it does not know: not admitted.
    expect(term.admit(report({ epoch, after: 11, durable: 0 }))).toBeUndefined();
    expect(term.admit(report({ epoch: 'other', after: 10, durable: 0 }))).toBeUndefined();
    expect(term.admit(report({ epoch, after: 10, durable: 0 }, 'q'))).toBeUndefined();
    expect(term.admit(report({ epoch: 'other', after: 10, durable: 10 }, 'q'))).toBeDefined();
    // A report admitted before the term ended is not acknowledged by it.
    const before = term.admit(report({ epoch, after: 10, durable: 0 }));
    term.begin();
    expect(term.received(before!, 'p', 12)).toBeUndefined();
    expect(term.admit(report({ epoch, after: 10, durable: 0 }))).toBeUndefined();
  });

  // Each report under a new name added a pod for 10 minutes, with no bound on how many: the report
  // token was enough to grow the leader's memory at will. Made-up names also cannot push out the
  // data-plane pods (forgotten, a pod resends what is not persisted).
  it(`keeps at most ${MAX_TERM_PODS} pods, forgetting names no data-plane pod has first`, () => {
    const term = new UsageTerm('op', Date.now, (pod) => (pod.startsWith('dp-') ? 1 : 0));
    const epoch = term.epoch;
    const admission = term.admit(report({ after: 0, durable: 0 }, 'dp-1'));
    expect(term.received(admission!, 'dp-1', 10)).toBe(10);
    for (let i = 0; i < 10_500; i++) term.received(admission!, `fake-${i}`, 1);
    expect(MAX_TERM_PODS).toBe(10_000);
    expect(term.podsHeld).toBe(10_000);
    expect(term.admit(report({ epoch, after: 10, durable: 0 }, 'dp-1'))).toBeDefined();
  });
});
