// Two installations whose watched namespaces overlap (each its own Lease, Service and data planes):
// before, both wrote every object's status over the other's. Now the first to write keeps it
// (status.installation) and the other records an OwnedByAnotherInstallation Event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
