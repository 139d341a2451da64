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
  conditions: { type: string; status: string; reason: string; message?: string }[];
  status: Record<string, unknown>;
}

/** A reconciler over in-memory caches; the API server refuses status writes of the objects named in `refuse`. */
function setup(routes: KubeObject[], options: { snapshotBudgetBytes?: number; secrets?: SecretObject[]; apiKeyHashKey?: string } = {}) {
  const caches: Caches = {
    providers: new Map([['default/openai', openai as KubeObject]]),
    routes: new Map(routes.map((r) => [`default/${r.metadata.name}`, r])),
    budgets: new Map(),
    dataPolicies: new Map(),
    guardrails: new Map(),
    secrets: new Map<string, SecretObject>((options.secrets ?? []).map((sec) => [`${sec.metadata.namespace}/${sec.metadata.name}`, sec])),
    namespaces: new Map(),
    services: new Map(),
    slices: new Map(),
  };
  const refuse = new Set<string>();
  const patches: Patch[] = [];
  let published = 0;
  let acked = 0;
  let holdAcks = false;
  let ready = 1;
  let clock = 1_000;
  const events: { kind: string | undefined; name: string; reason: string; message: string }[] = [];
  const logged: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
  const reconciler = new Reconciler({
    caches,
    client: {
      request: async <T>(method: string, path: string, body?: unknown): Promise<T> => {
        const name = /modelroutes\/([^/]+)\/status$/.exec(path)?.[1];
        if (method === 'PATCH' && name !== undefined && refuse.has(name)) throw new KubeError(422, `status of ${name} refused`);
        const status = (body as { status: Patch['status'] & { conditions: Patch['conditions'] } }).status;
        patches.push({ path, conditions: status.conditions, status });
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
      progress: (generation) => ({ ready, acked: generation <= acked ? ready : 0 }),
    },
    events: { record: async (object, _type, reason, message) => void events.push({ kind: object.kind, name: object.metadata.name, reason, message }) },
    logger,
    ...(options.snapshotBudgetBytes === undefined ? {} : { snapshotBudgetBytes: options.snapshotBudgetBytes }),
    ...(options.apiKeyHashKey === undefined ? {} : { apiKeyHashKey: () => options.apiKeyHashKey }),
    dataplane: { namespace: 'tollgate-system', service: 'tollgate', adminPortName: 'admin' },
    now: () => (clock += 1_000),
  });
  const programmed = (name: string): string | undefined =>
    patches.filter((p) => p.path.endsWith(`/modelroutes/${name}/status`)).at(-1)?.conditions.find((c) => c.type === 'Programmed')?.reason;
  return { reconciler, caches, refuse, patches, programmed, events, logged, hold: (on: boolean) => (holdAcks = on), published: () => published, setReady: (n: number) => (ready = n) };
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

describe('Reconciler and data-plane scaling', () => {
  it('writes no status when data-plane pods are added, removed or blip unready', async () => {
    const { reconciler, patches, setReady, caches } = setup([chatRoute('a'), chatRoute('b')]);
    await reconciler.reconcile(true);
    // The watch brings the written status back into the cache.
    const echo = () => {
      for (const p of patches.splice(0)) {
        const [, plural, name] = /\/(modelroutes|providers)\/([^/]+)\/status$/.exec(p.path) ?? [];
        const cache = plural === 'providers' ? caches.providers : caches.routes;
        const cached = cache.get(`default/${name}`);
        if (cached !== undefined) cache.set(`default/${name}`, { ...cached, status: p.status } as KubeObject);
      }
    };
    echo();
    for (const n of [3, 2, 1, 2]) {
      setReady(n);
      await reconciler.reconcile(true);
      expect(patches).toHaveLength(0);
    }
  });

  it('keeps a Pending message the same while pods come and go', async () => {
    const { reconciler, patches, setReady, hold, programmed } = setup([chatRoute('a')]);
    hold(true);
    setReady(2);
    await reconciler.reconcile(true);
    expect(programmed('a')).toBe('Pending');
    const message = () => patches.at(-1)?.conditions.find((c) => c.type === 'Programmed')?.message;
    const first = message();
    expect(first).toMatch(/^published in snapshot generation \d+; not every ready data-plane pod serves it yet$/);
    setReady(3);
    await reconciler.reconcile(true);
    expect(message()).toBe(first);
  });
});

describe('Reconciler and the snapshot budget', () => {
  const apiKey = (name: string): SecretObject =>
    ({ metadata: { name, namespace: 'evil', labels: { 'tollgate.dev/api-key': 'true', pad: 'z'.repeat(60) } }, data: { key: Buffer.from(`key-${name}`).toString('base64') } }) as SecretObject;

  it('warns on the Secret of each API key left out, once, and publishes the snapshot that fits', async () => {
    const secrets = Array.from({ length: 40 }, (_, i) => apiKey(`k${i}`));
    const { reconciler, events, published } = setup([chatRoute('a')], { snapshotBudgetBytes: 6_000, secrets, apiKeyHashKey: 'h'.repeat(32) });
    await reconciler.reconcile(true);
    expect(published()).toBeGreaterThan(0);
    const warned = () => events.filter((e) => e.reason === 'SnapshotTooLarge');
    expect(warned().length).toBeGreaterThan(10);
    expect(warned().length).toBeLessThan(40);
    expect(warned().every((e) => e.kind === 'Secret' && /namespace evil held the most/.test(e.message))).toBe(true);
    const first = warned().length;
    await reconciler.reconcile(true);
    expect(warned()).toHaveLength(first);
  });

  it('does not publish, and logs why, when the platform alone does not fit', async () => {
    const { reconciler, logged, published } = setup([chatRoute('a')], { snapshotBudgetBytes: 100 });
    await reconciler.reconcile(true);
    expect(published()).toBe(0);
    expect(logged.join('')).toMatch(/snapshot not published: .*no tenant's object is left out/);
  });
});
