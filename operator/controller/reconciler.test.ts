import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { provider, route } from '../../test/support/objects.js';
import { KubeError, type KubeObject } from '../kube/kube-client.js';
import type { SecretObject } from './kube-types.js';
import { type Caches, Reconciler } from './reconciler.js';

const openai = provider('openai', { type: 'openai-compatible', url: 'http://10.0.0.1/v1' });
const chatRoute = (name: string, model = 'm'): KubeObject => route(name, { model: name, targets: [{ providerRef: { name: 'openai' }, model }] }) as KubeObject;

interface Patch {
  path: string;
  conditions: { type: string; status: string; reason: string }[];
}

/** A reconciler over in-memory caches; the API server refuses status writes of the objects named in `refuse`. */
function setup(routes: KubeObject[]) {
  const caches: Caches = {
    providers: new Map([['default/openai', openai as KubeObject]]),
    routes: new Map(routes.map((r) => [`default/${r.metadata.name}`, r])),
    budgets: new Map(),
    dataPolicies: new Map(),
    guardrails: new Map(),
    secrets: new Map<string, SecretObject>(),
    namespaces: new Map(),
    services: new Map(),
    slices: new Map(),
  };
  const refuse = new Set<string>();
  const patches: Patch[] = [];
  let published = 0;
  let acked = 0;
  let holdAcks = false;
  let clock = 1_000;
  const reconciler = new Reconciler({
    caches,
    client: {
      request: async <T>(method: string, path: string, body?: unknown): Promise<T> => {
        const name = /modelroutes\/([^/]+)\/status$/.exec(path)?.[1];
        if (method === 'PATCH' && name !== undefined && refuse.has(name)) throw new KubeError(422, `status of ${name} refused`);
        patches.push({ path, conditions: (body as { status: { conditions: Patch['conditions'] } }).status.conditions });
        return {} as T;
      },
    },
    distributor: {
      setEndpoints: () => undefined,
      publish: (envelope) => {
        published = envelope.generation;
        if (!holdAcks) acked = published;
      },
      settled: () => true,
      progress: (generation) => ({ ready: 1, acked: generation <= acked ? 1 : 0 }),
    },
    events: { record: async () => undefined },
    logger: pino({ level: 'silent' }),
    dataplane: { namespace: 'tollgate-system', service: 'tollgate', adminPortName: 'admin' },
    now: () => (clock += 1_000),
  });
  const programmed = (name: string): string | undefined =>
    patches.filter((p) => p.path.endsWith(`/modelroutes/${name}/status`)).at(-1)?.conditions.find((c) => c.type === 'Programmed')?.reason;
  return { reconciler, caches, refuse, patches, programmed, hold: (on: boolean) => (holdAcks = on), published: () => published };
}

describe('Reconciler status writes', () => {
  it('writes every other object when the API server refuses one, then reports the refusal', async () => {
    const { reconciler, refuse, patches } = setup([chatRoute('a'), chatRoute('b'), chatRoute('c')]);
    refuse.add('b');
    await expect(reconciler.reconcile(true)).rejects.toThrow('status of b refused');
    const written = patches.flatMap((p) => /modelroutes\/([^/]+)\/status$/.exec(p.path)?.[1] ?? []).sort();
    expect(written).toEqual(['a', 'c']);
  });

  it("forgets a deleted object's programming while writes fail, so its re-creation waits for the pods", async () => {
    const { reconciler, caches, refuse, programmed, hold } = setup([chatRoute('x'), chatRoute('y')]);
    refuse.add('y');
    await expect(reconciler.reconcile(true)).rejects.toThrow();
    expect(programmed('x')).toBe('Programmed');
    // x is deleted; y's writes keep failing.
    caches.routes.delete('default/x');
    await expect(reconciler.reconcile(true)).rejects.toThrow();
    // x comes back (same name, generation 1, new spec); the pods have not taken the new snapshot yet.
    hold(true);
    caches.routes.set('default/x', chatRoute('x', 'other-model'));
    await expect(reconciler.reconcile(true)).rejects.toThrow();
    expect(programmed('x')).toBe('Pending');
  });
});
