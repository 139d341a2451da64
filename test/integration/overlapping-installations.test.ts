// Two installations whose watched namespaces overlap (each its own Lease, Service and data planes):
// before, both wrote every object's status over the other's. Now the first to write keeps it
// (status.installation) and the other records an OwnedByAnotherInstallation Event.
import { KubeConfig } from '@kubernetes/client-node';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BudgetConfig } from '../../dataplane/config/snapshot.js';
import type { Condition } from '../../operator/api/common.js';
import { ExactBudgetMirror } from '../../operator/budgets/exact-budget-mirror.js';
import { SHARED_CONDITION } from '../../operator/budgets/shared-condition.js';
import { StaleBudgetStateError, UsageAggregator } from '../../operator/budgets/usage-aggregator.js';
import { KubeClient, type KubeObject } from '../../operator/kube/kube-client.js';
import { UsageHistory } from '../../operator/usage/usage-history.js';
import { conditionOf, type Conditioned, eventually, type Proc, startOperator, startTestCluster, type TestCluster, upstreamProvider } from './harness.js';

let k: TestCluster;
const operators: Proc[] = [];

const route = (model: string) => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: shared, namespace: team-a }
spec:
  model: ${model}
  targets: [{ providerRef: { name: up }, model: m }]
  access: { anonymous: true }
`;

const installation = (args: string[], port: number, identity: string): Proc => {
  const p = startOperator(k.operatorKubeconfig, { port, identity, args });
  operators.push(p);
  return p;
};

beforeAll(async () => {
  k = await startTestCluster();
  k.kubectl(['create', 'namespace', 'team-a']);
}, 120_000);

afterAll(async () => {
  for (const p of operators) await p.kill();
  await k?.stop();
});

describe('two installations watching one namespace', () => {
  it('the first to write a status keeps it; the other records an Event and leaves it alone', async () => {
    k.apply(upstreamProvider('team-a', 'http://127.0.0.1:1'));
    k.apply(route('shared-model'));
    type Owned = Conditioned & { status?: { installation?: string } };
    const shared = () => k.get<Owned>('modelroute', 'shared', 'team-a');
    installation(['--lease-name', 'a-operator', '--dataplane-service', 'a-dataplane'], 19191, 'a-operator-5b7d9-aaaaa');
    await eventually(() => expect(shared().status?.installation).toBe('tollgate-system/a-operator'), 'installation a to write the status', 60_000);

    installation(['--lease-name', 'b-operator', '--dataplane-service', 'b-dataplane', '--api-key-hash-secret', 'b-api-key-hash'], 19192, 'b-operator-6c8e1-bbbbb');
    const events = () =>
      (JSON.parse(k.kubectl(['get', 'events', '-n', 'team-a', '--field-selector', 'reason=OwnedByAnotherInstallation', '-o', 'json'])) as { items: { message: string; involvedObject: { name: string } }[] }).items;
    await eventually(() => expect(events().map((e) => e.involvedObject.name)).toContain('shared'), 'installation b to record the Event', 60_000);
    expect(events().find((e) => e.involvedObject.name === 'shared')?.message).toContain('tollgate-system/a-operator writes');

    // A change: written by a only, still named a.
    k.apply(route('shared-model-2'));
    await eventually(() => expect(conditionOf(shared(), 'Accepted')?.observedGeneration).toBe(2), 'the new generation in the status', 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(shared().status?.installation).toBe('tollgate-system/a-operator');
    expect(events().filter((e) => e.involvedObject.name === 'shared')).toHaveLength(1);
  }, 180_000);
});

// Spend and usage history are not owned like a status: each installation's data planes report only
// to their own operator, so both must count into the one Budget and the one UsageReport of the
// namespace, or the Budget under-reports (and pods enforcing it under-count). Both writers are
// conditional on the resourceVersion and keep a sequence per pod, so their counts add up.
describe('two installations counting spend into one Budget and one UsageReport', () => {
  const client = (): KubeClient => {
    const kc = new KubeConfig();
    kc.loadFromFile(k.operatorKubeconfig);
    return new KubeClient(kc);
  };
  const silent = pino({ level: 'silent' });
  const budget: BudgetConfig = {
    id: 'team-a/shared-spend',
    unit: 'USD',
    amount: 1000,
    period: 'Month',
    timeZone: 'UTC',
    subjects: { namespaces: ['team-a'], serviceAccounts: [], apiKeys: [], routes: [] },
    action: { type: 'Reject', cutStreams: false },
    thresholds: [50, 100],
  };
  const usage = (seq: number, costUsd: number, withRequest: boolean) => ({
    seq,
    at: Date.now(),
    costUsd,
    tokens: 10,
    budgetIds: withRequest ? [] : [budget.id],
    ...(withRequest
      ? {
          request: {
            namespace: 'team-a', route: 'team-a/shared', model: 'm', provider: 'team-a/up', caller: 'anonymous', outcome: 'ok' as const,
            failovers: 0, cacheHit: false, inputTokens: 6, outputTokens: 4, cachedInputTokens: 0, latencyMs: 5,
          },
        }
      : {}),
  });

  it('counts every record of both installations once (conflicting writes are read again and resent)', async () => {
    k.apply(`apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: shared-spend, namespace: team-a }
spec:
  limit: { amount: 1000, unit: USD }
  period: Month
  subjects: { namespaces: [team-a] }
`);
    const objects = new Map<string, KubeObject>([[budget.id, k.get<KubeObject>('budget', 'shared-spend', 'team-a')]]);
    const ROUNDS = 15;
    /** One installation's pod: sends what is not acknowledged, as a data plane does, until all of it is. */
    const pod = async (name: string, cost: number, aggregator: UsageAggregator, history: UsageHistory): Promise<void> => {
      let budgetAcked = 0;
      let historyAcked = 0;
      for (let sent = 1; budgetAcked < ROUNDS || historyAcked < ROUNDS; sent = Math.min(ROUNDS, sent + 1)) {
        const unacked = (from: number, withRequest: boolean) => Array.from({ length: sent - from }, (_, i) => usage(from + i + 1, cost, withRequest));
        try {
          budgetAcked = Math.max(budgetAcked, (await aggregator.handle({ pod: name, records: unacked(budgetAcked, false) })).ackedThrough);
        } catch (err) {
          if (!(err instanceof StaleBudgetStateError)) throw err;
        }
        await history.handle({ pod: name, records: unacked(historyAcked, true) }).catch(() => 0);
        await history.flush().catch(() => undefined);
        historyAcked = Math.max(historyAcked, Math.min(sent, await history.handle({ pod: name, records: [] })));
      }
    };
    const aggregator = () => new UsageAggregator({ client: client(), budgetObjects: () => objects, budgetConfigs: () => [budget], replicas: () => 1, logger: silent });
    const [a, b] = [aggregator(), aggregator()];
    await Promise.all([pod('a-dataplane-1', 1, a, new UsageHistory({ client: client(), logger: silent })), pod('b-dataplane-1', 2, b, new UsageHistory({ client: client(), logger: silent }))]);

    const spent = k.get<{ status?: { spent?: number; appliedThrough?: Record<string, number> } }>('budget', 'shared-spend', 'team-a').status;
    expect(spent?.appliedThrough).toEqual({ 'a-dataplane-1': ROUNDS, 'b-dataplane-1': ROUNDS });
    expect(spent?.spent).toBe(ROUNDS * 1 + ROUNDS * 2);
    const day = new Date().toISOString().slice(0, 10);
    const report = k.get<{ status?: { totals?: { requests?: number; costUsd?: number } } }>('usagereport', day, 'team-a').status;
    expect(report?.totals?.requests).toBe(2 * ROUNDS);

    // Only b's data planes spend now: a's pods, reporting nothing, are answered the spend with b's
    // (before, a kept answering its own last write, and its data planes under-counted the Budget).
    for (;;) {
      const answer = await b.handle({ pod: 'b-dataplane-1', records: [usage(ROUNDS + 1, 2, false)] }).catch((err: unknown) => {
        if (err instanceof StaleBudgetStateError) return undefined;
        throw err;
      });
      if (answer !== undefined) break;
    }
    objects.set(budget.id, k.get<KubeObject>('budget', 'shared-spend', 'team-a')); // as a's informer sees it
    expect((await a.handle({ pod: 'a-dataplane-1', records: [] })).budgets[budget.id]?.spent).toBe(ROUNDS * 3 + 2);
    expect(a.thresholdCondition(budget, undefined)?.event?.message).toContain(`${ROUNDS * 3 + 2} of 1000 USD`);
  }, 120_000);

  // In the exact mode the installation the status does not name keeps its spend out of
  // status.spent, and said so with an Event alone. Now it writes SharedWithAnotherInstallation,
  // the one condition of the status that is not the owner's: the owner (operator a or b, whichever wrote first) must
  // keep it through its own status writes, and the write must hold on a real API server.
  it("marks a Budget SharedWithAnotherInstallation from the other installation's exact mirror; the owner keeps it through its writes", async () => {
    type Owned = KubeObject & { status?: { installation?: string; conditions?: Condition[] } };
    const read = (): Owned => k.get<Owned>('budget', 'shared-spend', 'team-a');
    // Operators a and b both run: whichever wrote the Budget's status first owns it (the test before
    // shows the rule), and the race between them is not this test's subject.
    await eventually(() => expect(['tollgate-system/a-operator', 'tollgate-system/b-operator']).toContain(read().status?.installation), 'an installation to write the Budget status', 60_000);
    const owner = read().status?.installation;
    // The shared path never reads the ledger.
    // Redis's clock is read once a pass (it picks the period the data planes charge).
    const redis = {
      eval: async () => Promise.reject(new Error('the ledger is not read for a shared Budget')),
      time: async () => [String(Math.floor(Date.now() / 1000)), '0'],
      disconnect: () => undefined,
    } as unknown as Redis;
    const mirror = new ExactBudgetMirror({
      redis,
      keyPrefix: 'tollgate:',
      client: client(),
      budgetObjects: () => new Map([[budget.id, read()]]),
      budgetConfigs: () => [budget],
      isLeader: () => true,
      logger: silent,
      installation: 'team-b/b-exact',
    });
    const shared = (): Condition | undefined => read().status?.conditions?.find((c) => c.type === SHARED_CONDITION);
    await mirror.sync();
    expect(shared()).toMatchObject({ status: 'True', reason: 'SpendNotInStatus', observedGeneration: 1 });
    const since = shared()?.lastTransitionTime;
    // The owner writes the Budget's conditions for a new generation: the other installation's stays.
    k.apply(`apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: shared-spend, namespace: team-a }
spec:
  limit: { amount: 2000, unit: USD }
  period: Month
  subjects: { namespaces: [team-a] }
`);
    await eventually(() => expect(read().status?.conditions?.find((c) => c.type === 'Accepted')?.observedGeneration).toBe(2), 'the owner to write generation 2', 30_000);
    expect(shared()).toMatchObject({ status: 'True', observedGeneration: 1 });
    await mirror.sync();
    expect(shared()).toMatchObject({ status: 'True', observedGeneration: 2, lastTransitionTime: since });
    await new Promise((r) => setTimeout(r, 3_000));
    expect(shared()).toMatchObject({ observedGeneration: 2, lastTransitionTime: since });
    expect(read().status?.installation).toBe(owner);
  }, 120_000);
});
