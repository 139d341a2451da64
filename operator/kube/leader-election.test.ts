// Leader election against a fake Lease API (real KubeClient, real HTTP): fenced in time, expiry by the
// local clock only, and a term that rises with every acquisition.
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from './kube-client.js';
import { LeaderElector } from './leader-election.js';

interface FakeLease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string | null; leaseTransitions?: number; renewTime?: string };
}

/** One Lease behind a compare-and-swap PUT; `hang` holds the answers to the clients named in it. */
class LeaseApi {
  lease: FakeLease | undefined;
  private rv = 0;
  readonly hang = new Set<string>();
  private readonly held: ServerResponse[] = [];
  private readonly servers: Server[] = [];

  async client(who: string): Promise<KubeClient> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (this.hang.has(who)) {
          this.held.push(res);
          return;
        }
        res.setHeader('content-type', 'application/json');
        if (req.method === 'GET') {
          if (this.lease === undefined) res.writeHead(404).end('{"message":"not found"}');
          else res.end(JSON.stringify(this.lease));
          return;
        }
        const obj = JSON.parse(body) as FakeLease;
        const conflict = req.method === 'POST' ? this.lease !== undefined : obj.metadata.resourceVersion !== this.lease?.metadata.resourceVersion;
        if (conflict) {
          res.writeHead(409).end('{"message":"conflict"}');
          return;
        }
        this.lease = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
        res.end(JSON.stringify(this.lease));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.servers.push(server);
    const kc = new KubeConfig();
    const server_ = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    kc.loadFromOptions({ clusters: [{ name: 'c', server: server_, skipTLSVerify: true }], users: [{ name: 'u', token: 'x' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    return new KubeClient(kc);
  }

  close(): void {
    for (const res of this.held) res.destroy();
    for (const server of this.servers) {
      server.closeAllConnections();
      server.close();
    }
  }
}

const timing = { leaseDurationMs: 2_000, renewDeadlineMs: 1_000, retryPeriodMs: 100 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(): Promise<{ api: LeaseApi; elector: (who: string, skewMs?: number) => Promise<LeaderElector> }> {
  const api = new LeaseApi();
  cleanup.push(() => api.close());
  const elector = async (who: string, skewMs = 0): Promise<LeaderElector> => {
    const e = new LeaderElector(
      await api.client(who),
      { namespace: 'ns', name: 'lease', identity: who, ...timing },
      { onStartedLeading: () => undefined, onStoppedLeading: () => undefined },
      pino({ level: 'silent' }),
      () => Date.now() + skewMs,
    );
    cleanup.push(() => {
      api.hang.delete(who);
      return e.stop();
    });
    return e;
  };
  return { api, elector };
}

describe('LeaderElector', () => {
  it('stops leading at the renew deadline while its API calls hang, before a standby can take over', async () => {
    const { api, elector } = await setup();
    const a = await elector('A');
    a.start();
    await sleep(300);
    const b = await elector('B');
    b.start();
    await sleep(300);
    expect(a.isLeader).toBe(true);
    const aTerm = a.term;

    api.hang.add('A');
    const hungAt = Date.now();
    let aStoppedAfter: number | undefined;
    let overlapSamples = 0;
    while (Date.now() - hungAt < 3_500) {
      if (!a.isLeader && aStoppedAfter === undefined) aStoppedAfter = Date.now() - hungAt;
      if (a.isLeader && b.isLeader) overlapSamples++;
      await sleep(20);
    }
    expect(aStoppedAfter).toBeDefined();
    expect(aStoppedAfter).toBeLessThanOrEqual(timing.renewDeadlineMs + 150);
    expect(b.isLeader).toBe(true);
    expect(overlapSamples).toBe(0);
    // B's acquisition raised the term: pods refuse A's snapshots from now on.
    expect(aTerm).toBe(1);
    expect(b.term).toBe(2);
    expect(api.lease?.spec.leaseTransitions).toBe(1);
  });

  it('judges expiry by its own clock: a standby whose clock runs ahead does not take a renewed Lease', async () => {
    const { api, elector } = await setup();
    const a = await elector('A');
    a.start();
    await sleep(300);
    const b = await elector('B', 20_000);
    b.start();
    let overlap = 0;
    for (let i = 0; i < 60; i++) {
      if (b.isLeader) overlap++;
      await sleep(25);
    }
    expect(overlap).toBe(0);
    expect(a.isLeader).toBe(true);
    expect(api.lease?.spec.holderIdentity).toBe('A');
    expect(api.lease?.spec.leaseTransitions).toBe(0);
  });

  it('takes a Lease whose record has not changed for the lease duration (holder gone)', async () => {
    const { api, elector } = await setup();
    api.lease = { metadata: { name: 'lease', namespace: 'ns', resourceVersion: '0' }, spec: { holderIdentity: 'gone', leaseTransitions: 4, renewTime: new Date().toISOString() } };
    const b = await elector('B');
    b.start();
    await sleep(timing.leaseDurationMs - 300);
    expect(b.isLeader).toBe(false);
    await sleep(800);
    expect(b.isLeader).toBe(true);
    expect(b.term).toBe(6);
  });

  it('raises the term above a term a pod serves when it still holds the Lease (the Lease was recreated)', async () => {
    const { api, elector } = await setup();
    const a = await elector('A');
    a.start();
    await sleep(300);
    expect(a.term).toBe(1);
    await a.confirm(7);
    expect(a.isLeader).toBe(true);
    expect(a.term).toBe(8);
    expect(api.lease?.spec.leaseTransitions).toBe(7);
  });

  it('stops leading at once when a pod serves a higher term and another replica holds the Lease', async () => {
    const { api, elector } = await setup();
    const a = await elector('A');
    a.start();
    await sleep(300);
    expect(a.isLeader).toBe(true);
    // B took the Lease between two of A's renewals (as a partition would let it): A learns it from a pod.
    const lease = api.lease;
    if (lease === undefined) throw new Error('no lease');
    api.lease = { metadata: { ...lease.metadata, resourceVersion: '999' }, spec: { ...lease.spec, holderIdentity: 'B', leaseTransitions: 1 } };
    await a.confirm(2);
    expect(a.isLeader).toBe(false);
    expect(api.lease.spec.holderIdentity).toBe('B');
  });

  it("tells the operator when its term changes while it leads (a deleted Lease recreated at 0, then raised above a pod's term)", async () => {
    const { api } = await setup();
    const terms: number[] = [];
    const a = new LeaderElector(
      await api.client('A'),
      { namespace: 'ns', name: 'lease', identity: 'A', ...timing },
      { onStartedLeading: () => undefined, onStoppedLeading: () => undefined, onTermChanged: (t) => terms.push(t) },
      pino({ level: 'silent' }),
    );
    cleanup.push(() => a.stop());
    // Other replicas led before: the Lease has seen four transitions and is free.
    api.lease = { metadata: { name: 'lease', namespace: 'ns', resourceVersion: '50' }, spec: { holderIdentity: '', leaseTransitions: 4 } };
    a.start();
    await sleep(300);
    expect(a.isLeader).toBe(true);
    expect(a.term).toBe(6);
    // Becoming leader is told by onStartedLeading, not as a term change.
    expect(terms).toEqual([]);
    api.lease = undefined;
    await sleep(300);
    expect(a.term).toBe(1);
    expect(terms).toEqual([1]);
    await a.confirm(6);
    expect(a.term).toBe(7);
    expect(terms).toEqual([1, 7]);
  });
});
