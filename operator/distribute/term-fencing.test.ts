// Two operator replicas and real data-plane admin apps: a deposed leader that still believes it leads
// cannot overwrite its successor's snapshot, and the leader notices pods that serve something else.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminApp } from '../../dataplane/admin/admin-app.js';
import { SnapshotStore } from '../../dataplane/runtime/snapshot-store.js';
import { HttpTransport } from '../../dataplane/upstream/http-transport.js';
import { provider, route } from '../../test/support/objects.js';
import { CoalescingTrigger } from '../controller/coalescing-trigger.js';
import { type Caches, Reconciler } from '../controller/reconciler.js';
import type { KubeObject } from '../kube/kube-client.js';
import { Distributor } from './distributor.js';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (check: () => boolean, ms = 3_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await sleep(20);
};
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

interface Pod {
  store: SnapshotStore;
  port: number;
  /** A restart at the same address: a new, empty store (what it then pulls is up to the test). */
  restart(): SnapshotStore;
}

async function startPod(clockOffsetMs = 0): Promise<Pod> {
  let app: Express;
  const fresh = (): SnapshotStore => {
    const store = new SnapshotStore(new HttpTransport(), () => Date.now() + clockOffsetMs);
    app = createAdminApp({ store, token: 't', logger, isDraining: () => false });
    return store;
  };
  const pod = { store: fresh(), port: 0, restart: () => (pod.store = fresh()) };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => void app(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  pod.port = (server.address() as AddressInfo).port;
  cleanup.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return pod;
}

const slice = (port: number): KubeObject =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `dp-${port}`, namespace: 'tollgate-system', labels: { 'kubernetes.io/service-name': 'tollgate' } },
    ports: [{ name: 'admin', port }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  }) as unknown as KubeObject;
const prov = provider('p', { type: 'openai-compatible', url: 'http://10.0.0.1/v1' }) as KubeObject;
const rt = (model: string, generation: number) => route('chat', { model, targets: [{ providerRef: { name: 'p' }, model: 'm' }] }, { generation }) as KubeObject;

/** One operator replica, wired as operator/operator.ts wires it (term and leadership are the test's). */
function replica(state: { leader: boolean; term: number }, verifyIntervalMs = 0) {
  const caches: Caches = { providers: new Map([['default/p', prov]]), routes: new Map(), budgets: new Map(), dataPolicies: new Map(), guardrails: new Map(), secrets: new Map(), namespaces: new Map(), services: new Map(), slices: new Map() };
  const refused: string[] = [];
  const deposed: number[] = [];
  const programmed: string[] = [];
  let trigger: CoalescingTrigger | undefined;
  const distributor = new Distributor({
    token: 't',
    logger,
    verifyIntervalMs,
    onAck: () => trigger?.trigger(),
    onRefused: (reason) => refused.push(reason),
    onStale: (pod) => {
      const outcome = reconciler.staleAnswer(pod, state.leader);
      if (outcome === 'publish-above') trigger?.trigger();
      if (outcome === 'deposed') deposed.push(pod.term ?? 0);
    },
  });
  const reconciler: Reconciler = new Reconciler({
    caches,
    distributor,
    logger,
    events: { record: async () => undefined },
    dataplane: { namespace: 'tollgate-system', service: 'tollgate', adminPortName: 'admin' },
    term: () => state.term,
    client: {
      request: async <T>(_method: string, path: string, body?: unknown): Promise<T> => {
        const conditions = (body as { status?: { conditions?: { type: string; status: string }[] } } | undefined)?.status?.conditions ?? [];
        const c = conditions.find((x) => x.type === 'Programmed');
        if (path.includes('modelroutes') && c !== undefined) programmed.push(c.status);
        return {} as T;
      },
    },
  });
  trigger = new CoalescingTrigger(() => reconciler.reconcile(() => state.leader), 10, 50, () => undefined);
  const addPod = (pod: Pod): void => {
    caches.slices.set(`tollgate-system/dp-${pod.port}`, slice(pod.port));
    trigger?.trigger();
  };
  cleanup.push(() => {
    trigger?.stop();
    distributor.stop();
  });
  return { caches, distributor, reconciler, trigger, refused, deposed, programmed, addPod };
}

const models = (pod: Pod): string | undefined => pod.store.current?.models.map((m) => m.id).join(',');

describe('leader-term fencing of snapshot pushes', () => {
  it('a deposed leader that still believes it leads cannot overwrite its successor, and does not publish above it', async () => {
    const p1 = await startPod();
    const p2 = await startPod();
    const aState = { leader: true, term: 1 };
    const bState = { leader: false, term: 0 };
    const A = replica(aState);
    const B = replica(bState);
    A.distributor.setEnabled(true);

    // A leads at term 1 and publishes route generation 1 (model "old").
    A.caches.routes.set('default/chat', rt('old', 1));
    A.addPod(p1);
    A.addPod(p2);
    await until(() => models(p1) === 'old' && models(p2) === 'old');

    // A's renewals hang (it still believes it leads, its informers are stale); B takes the Lease at term 2.
    bState.leader = true;
    bState.term = 2;
    B.caches.routes.set('default/chat', rt('new', 2));
    B.distributor.setEnabled(true);
    B.addPod(p1);
    B.addPod(p2);
    await until(() => models(p1) === 'new' && models(p2) === 'new');

    // A new pod starts; B pushes first, then A (any push of A's would do).
    const p3 = await startPod();
    B.addPod(p3);
    await until(() => models(p3) === 'new');
    A.addPod(p3);
    await until(() => A.deposed.length > 0);
    await sleep(300);

    expect([models(p1), models(p2), models(p3)]).toEqual(['new', 'new', 'new']);
    expect([p1.store.term, p2.store.term, p3.store.term]).toEqual([2, 2, 2]);
    expect(A.deposed).toEqual([2]);
    expect(A.refused).toContain('stale_term');
    // A did not publish above B's generation.
    expect(A.reconciler.currentGeneration).toBeLessThan(B.reconciler.currentGeneration + 1);
    expect(A.refused.filter((r) => r === 'stale')).toEqual([]);
  });

  it('takes a new term (the replica leads again) to the pods even when the content did not change', async () => {
    const p1 = await startPod();
    const state = { leader: true, term: 1 };
    const A = replica(state);
    A.distributor.setEnabled(true);
    A.caches.routes.set('default/chat', rt('same', 1));
    A.addPod(p1);
    await until(() => p1.store.term === 1);
    state.term = 3;
    A.trigger.trigger();
    await until(() => p1.store.term === 3);
    expect(p1.store.term).toBe(3);
    expect(models(p1)).toBe('same');
  });

  it('pushes again to a pod that serves something other than it acknowledged (restarted, pulled elsewhere)', async () => {
    const p1 = await startPod();
    const state = { leader: true, term: 2 };
    const B = replica(state, 100);
    B.distributor.setEnabled(true);
    B.caches.routes.set('default/chat', rt('current', 1));
    B.addPod(p1);
    await until(() => models(p1) === 'current');
    const ours = { generation: p1.store.generation, term: p1.store.term };

    // The pod restarts at the same address and takes an older snapshot from somewhere else.
    const restarted = p1.restart();
    const other = replica({ leader: true, term: 1 });
    other.caches.routes.set('default/chat', rt('elsewhere', 1));
    await other.reconciler.reconcile(() => true);
    const envelope = other.distributor.envelope;
    if (envelope === undefined) throw new Error('no envelope');
    expect(restarted.applyGeneration(envelope.generation, envelope.snapshot, envelope.term).ok).toBe(true);
    expect(models(p1)).toBe('elsewhere');

    await until(() => models(p1) === 'current');
    expect(models(p1)).toBe('current');
    expect(p1.store.term).toBe(ours.term);
    expect(p1.store.generation).toBe(ours.generation);
  });

  it('counts a push refused as invalid and never publishes a generation beyond the largest safe integer', async () => {
    const p1 = await startPod();
    // A stray push at the largest generation the envelope allows.
    const other = replica({ leader: true, term: 5 });
    other.caches.routes.set('default/chat', rt('stray', 1));
    await other.reconciler.reconcile(() => true);
    const stray = other.distributor.envelope;
    if (stray === undefined) throw new Error('no envelope');
    const res = await fetch(`http://127.0.0.1:${p1.port}/v1/snapshot`, {
      method: 'PUT',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: JSON.stringify({ generation: Number.MAX_SAFE_INTEGER, term: 0, snapshot: stray.snapshot }),
    });
    expect(res.status).toBe(400);

    const A = replica({ leader: true, term: 0 });
    A.reconciler.bumpPast(Number.MAX_SAFE_INTEGER);
    A.caches.routes.set('default/chat', rt('real', 1));
    A.distributor.setEnabled(true);
    A.addPod(p1);
    await until(() => models(p1) === 'real');
    expect(Number.isSafeInteger(A.reconciler.currentGeneration)).toBe(true);
    expect(models(p1)).toBe('real');
    expect(A.reconciler.staleAnswer({ generation: Number.MAX_SAFE_INTEGER, term: 0 }, true)).toBe('out-of-range');

    expect(A.reconciler.bumpPast(Date.now() + 2 * 24 * 60 * 60 * 1000)).toBe(false);

    // A pod that refuses as invalid (here: its clock is two days behind) is counted, and not pushed to again.
    const behind = await startPod(-2 * 24 * 60 * 60 * 1000);
    A.addPod(behind);
    await until(() => A.refused.includes('invalid'));
    expect(A.refused).toEqual(['invalid']);
    expect(behind.store.current).toBeUndefined();
  });
});
