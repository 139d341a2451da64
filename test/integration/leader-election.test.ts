// Leader election against a real kube-apiserver, with the operator's RBAC: a release's Lease renamed
// (`<name>-operator`, chart 0.2.0) while replicas of the older chart still campaign for the old name
// (`tollgate-operator`) during a rolling upgrade, and two releases in one namespace.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../operator/kube/kube-client.js';
import { CO_HOLD_ANNOTATION, LeaderElector } from '../../operator/kube/leader-election.js';
import { eventually, startTestCluster, type TestCluster } from './harness.js';

let k: TestCluster;
const NS = 'tollgate-system';
const timing = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 200 };

/** A client whose calls can be cut off, as a replica's are when its pod dies (no release of the Lease). */
class CuttableClient extends KubeClient {
  cut = false;
  override request<T>(...args: Parameters<KubeClient['request']>): Promise<T> {
    return this.cut ? Promise.reject(new Error('pod gone')) : super.request<T>(...args);
  }
}

interface Replica {
  id: string;
  elector: LeaderElector;
  client: CuttableClient;
}

const replicas: Replica[] = [];
function replica(id: string, name: string, legacyName?: string): Replica {
  const kc = new KubeConfig();
  kc.loadFromFile(k.operatorKubeconfig);
  const client = new CuttableClient(kc);
  const elector = new LeaderElector(
    client,
    { namespace: NS, name, identity: id, ...timing, ...(legacyName === undefined ? {} : { legacyName }) },
    { onStartedLeading: () => undefined, onStoppedLeading: () => undefined },
    pino({ level: 'silent' }),
  );
  const r = { id, elector, client };
  replicas.push(r);
  elector.start();
  return r;
}

/** Samples who leads every 20 ms; fails the test when two replicas of one release lead at once. */
function watchExclusive(release: Replica[]): { stop(): string[] } {
  const overlaps: string[] = [];
  const timer = setInterval(() => {
    const leaders = release.filter((r) => r.elector.isLeader).map((r) => r.id);
    if (leaders.length > 1) overlaps.push(leaders.join(' + '));
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return overlaps;
    },
  };
}

interface Lease {
  metadata: { annotations?: Record<string, string> };
  spec: { holderIdentity?: string | null; leaseTransitions?: number };
}
const lease = (name: string): Lease => k.get<Lease>('lease', name, NS);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  k = await startTestCluster();
}, 120_000);
afterAll(async () => {
  await k?.stop();
});
afterEach(async () => {
  for (const r of replicas.splice(0)) {
    r.client.cut = false;
    await r.elector.stop();
    await r.client.close();
  }
  k.kubectl(['delete', 'lease', '--all', '-n', NS]);
});

describe('a renamed Lease during a rolling upgrade', () => {
  it('new replicas do not lead while an old replica of the release holds the old Lease, and take over without overlap', async () => {
    // The old chart: every replica campaigns for `tollgate-operator`.
    const old1 = replica('team-operator-6d4f8-aaaaa', 'tollgate-operator');
    await eventually(() => expect(old1.elector.isLeader).toBe(true), 'the old replica to lead');
    const old2 = replica('team-operator-6d4f8-bbbbb', 'tollgate-operator');
    const oldTerm = old1.elector.term;
    // The rollout: new replicas under `team-operator`, the old name as legacy.
    const new1 = replica('team-operator-7c9b2-ccccc', 'team-operator', 'tollgate-operator');
    const release = [old1, old2, new1];
    const watch = watchExclusive(release);
    await sleep(3 * timing.leaseDurationMs);
    expect(new1.elector.isLeader).toBe(false);
    expect(old1.elector.isLeader).toBe(true);

    // The old leader's pod is deleted (graceful: it releases the Lease); the old standby and the new
    // replica race for it: exactly one wins, and when the old one wins the new one keeps waiting.
    await old1.elector.stop();
    await eventually(() => expect(old2.elector.isLeader || new1.elector.isLeader).toBe(true), 'a successor');
    if (old2.elector.isLeader) {
      await old2.elector.stop();
      await eventually(() => expect(new1.elector.isLeader).toBe(true), 'the new replica to lead');
    }
    // Old replicas still running see the old Lease held and wait; a new leader's term is above the old one's.
    const old3 = replica('team-operator-6d4f8-ddddd', 'tollgate-operator');
    release.push(old3);
    await sleep(3 * timing.leaseDurationMs);
    expect(new1.elector.isLeader).toBe(true);
    expect(old3.elector.isLeader).toBe(false);
    expect(new1.elector.term).toBeGreaterThan(oldTerm);
    expect(lease('tollgate-operator').spec.holderIdentity).toBe(new1.id);
    expect(lease('tollgate-operator').metadata.annotations?.[CO_HOLD_ANNOTATION]).toBe('team-operator');
    expect(watch.stop()).toEqual([]);
  }, 60_000);

  it('a new leader whose pod dies (no release) is succeeded by one replica only, old or new', async () => {
    const old1 = replica('team-operator-6d4f8-aaaaa', 'tollgate-operator');
    await eventually(() => expect(old1.elector.isLeader).toBe(true), 'the old replica to lead');
    await old1.elector.stop();
    const new1 = replica('team-operator-7c9b2-ccccc', 'team-operator', 'tollgate-operator');
    await eventually(() => expect(new1.elector.isLeader).toBe(true), 'the new replica to lead');
    const old2 = replica('team-operator-6d4f8-bbbbb', 'tollgate-operator');
    const new2 = replica('team-operator-7c9b2-eeeee', 'team-operator', 'tollgate-operator');
    const release = [old2, new1, new2];
    const watch = watchExclusive(release);
    await sleep(2 * timing.leaseDurationMs);
    expect(release.filter((r) => r.elector.isLeader).map((r) => r.id)).toEqual([new1.id]);
    new1.client.cut = true;
    await eventually(() => expect(old2.elector.isLeader || new2.elector.isLeader).toBe(true), 'a successor', 15_000);
    await sleep(2 * timing.leaseDurationMs);
    expect(release.filter((r) => r.elector.isLeader)).toHaveLength(1);
    expect(watch.stop()).toEqual([]);
  }, 60_000);
});

describe('two releases in one namespace', () => {
  it('each leads under its own Lease; the default-named one takes the old Lease over from the renamed one', async () => {
    // Left from the old chart of `team`: the old Lease exists, free.
    const old = replica('team-operator-6d4f8-aaaaa', 'tollgate-operator');
    await eventually(() => expect(old.elector.isLeader).toBe(true), 'the old replica to lead');
    await old.elector.stop();
    const team = replica('team-operator-7c9b2-ccccc', 'team-operator', 'tollgate-operator');
    await eventually(() => expect(team.elector.isLeader).toBe(true), 'team to lead');
    await eventually(() => expect(lease('tollgate-operator').spec.holderIdentity).toBe(team.id), 'team to co-hold the old Lease');
    // A release with the default name: its own Lease is `tollgate-operator`.
    const main = replica('tollgate-operator-5b7d9-fffff', 'tollgate-operator');
    await eventually(() => expect(main.elector.isLeader).toBe(true), 'the default-named release to lead');
    await sleep(3 * timing.leaseDurationMs);
    expect(team.elector.isLeader).toBe(true);
    expect(main.elector.isLeader).toBe(true);
    expect(lease('tollgate-operator').spec.holderIdentity).toBe(main.id);
    expect(lease('tollgate-operator').metadata.annotations?.[CO_HOLD_ANNOTATION]).toBeUndefined();
    expect(lease('team-operator').spec.holderIdentity).toBe(team.id);
  }, 60_000);
});
