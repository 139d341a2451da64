import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { budget, provider, route } from '../../test/support/objects.js';
import { KubeError, type KubeObject } from '../kube/kube-client.js';
import type { SecretObject } from './kube-types.js';
import { type Caches, Reconciler } from './reconciler.js';
import type { SliceOptions } from '../../dataplane/config/sliced.js';
import type { WireBodies } from '../../dataplane/config/snapshot-lines.js';
import { wireJson } from '../../dataplane/config/secret-value.js';

/** One reconcile and the status writes it hands over. */
async function reconcileAll(reconciler: Reconciler, isLeader: () => boolean = () => true): Promise<void> {
  await reconciler.reconcile(isLeader);
  await reconciler.statusesWritten();
}

const openai = provider('openai', { type: 'openai-compatible', url: 'http://10.0.0.1/v1' });
const chatRoute = (name: string, model = 'm'): KubeObject => route(name, { model: name, targets: [{ providerRef: { name: 'openai' }, model }] }) as KubeObject;

interface Patch {
  path: string;
  conditions: { type: string; status: string; reason: string; message?: string }[];
  status: Record<string, unknown>;
}

/** A reconciler over in-memory caches; the API server refuses status writes of the objects named in `refuse`. */
function setup(routes: KubeObject[], options: { snapshotBudgetBytes?: number; secrets?: SecretObject[]; apiKeyHashKey?: string; slices?: SliceOptions; installation?: string } = {}) {
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
  let bodies: WireBodies | undefined;
  let acked = 0;
  let holdAcks = false;
  let ready = 1;
  let gate: Promise<void> | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  let onPatch = (): void => undefined;
  let clock = 1_000;
  const events: { kind: string | undefined; name: string; reason: string; message: string }[] = [];
  const logged: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
  let leading = true;
  const reconciler = new Reconciler({
    caches,
    client: {
      request: async <T>(method: string, path: string, body?: unknown): Promise<T> => {
        const name = /modelroutes\/([^/]+)\/status$/.exec(path)?.[1];
        if (method === 'PATCH' && name !== undefined && refuse.has(name)) throw new KubeError(422, `status of ${name} refused`);
        onPatch();
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await gate;
        inFlight--;
        const status = (body as { status: Patch['status'] & { conditions: Patch['conditions'] } }).status;
        patches.push({ path, conditions: status.conditions, status });
        return {} as T;
      },
    },
    distributor: {
      setEndpoints: () => undefined,
      publish: (envelope, wire) => {
        published = envelope.generation;
        bodies = wire;
        if (!holdAcks) acked = published;
      },
      settled: () => true,
      progress: (generation) => ({ ready, acked: generation <= acked ? ready : 0 }),
    },
    events: { record: async (object, _type, reason, message) => void events.push({ kind: object.kind, name: object.metadata.name, reason, message }) },
    logger,
    ...(options.snapshotBudgetBytes === undefined ? {} : { snapshotBudgetBytes: options.snapshotBudgetBytes }),
    ...(options.slices === undefined ? {} : { slices: options.slices }),
    ...(options.apiKeyHashKey === undefined ? {} : { apiKeyHashKey: () => options.apiKeyHashKey }),
    ...(options.installation === undefined ? {} : { installation: options.installation }),
    dataplane: { namespace: 'tollgate-system', service: 'tollgate', adminPortName: 'admin' },
    now: () => (clock += 1_000),
  });
  const programmed = (name: string): string | undefined =>
    patches.filter((p) => p.path.endsWith(`/modelroutes/${name}/status`)).at(-1)?.conditions.find((c) => c.type === 'Programmed')?.reason;
  return { reconciler, caches, refuse, patches, programmed, events, logged, hold: (on: boolean) => (holdAcks = on), published: () => published, bodies: () => bodies, setReady: (n: number) => (ready = n),
    /** Status writes wait until the returned function is called. */
    holdWrites: () => {
      let release = () => undefined as void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    maxInFlight: () => maxInFlight,
    setLeading: (on: boolean) => (leading = on),
    onPatch: (f: () => void) => (onPatch = f),
    leading: () => leading,
    /** Moves the reconciler's clock on. */
    advance: (ms: number) => (clock += ms),
  };
}

describe('Reconciler status writes', () => {
  // Two installations watching one namespace both wrote every object's status, each over the other's.
  it("names its installation in every status it writes, and leaves alone (with one Event) an object another installation's status names", async () => {
    const claimed = { ...chatRoute('theirs'), status: { installation: 'team-b/team-b-operator', conditions: [] } } as KubeObject;
    const { reconciler, patches, events, logged } = setup([chatRoute('mine'), claimed], { installation: 'tollgate-system/tollgate-operator' });
    await reconcileAll(reconciler);
    await reconcileAll(reconciler);
    const written = patches.flatMap((p) => /modelroutes\/([^/]+)\/status$/.exec(p.path)?.[1] ?? []);
    expect(written).toEqual(['mine']);
    for (const p of patches) expect(p.status.installation, p.path).toBe('tollgate-system/tollgate-operator');
    expect(events.filter((e) => e.reason === 'OwnedByAnotherInstallation')).toEqual([
      expect.objectContaining({ name: 'theirs', message: expect.stringContaining('team-b/team-b-operator') }),
    ]);
    expect(logged.join('')).toContain('object claimed by another installation');
  });

  // Another installation that serves an exact Budget marks it SharedWithAnotherInstallation (its
  // spend is not in status.spent); the owner's writes rebuilt the conditions from its own and took
  // that one off at each change, and the other put it back at its next pass.
  it("keeps another installation's SharedWithAnotherInstallation in the Budget status it writes; drops one naming itself (handed over)", async () => {
    const own = 'tollgate-system/tollgate-operator';
    const sharedBy = (installation: string) => ({
      type: 'SharedWithAnotherInstallation',
      status: 'True',
      reason: 'SpendNotInStatus',
      message: `the installation ${installation} also serves this Budget (exact mode) and keeps its data planes' spend in its own Redis ledger`,
      observedGeneration: 1,
      lastTransitionTime: '2026-11-01T00:00:00Z',
    });
    const { reconciler, caches, patches } = setup([chatRoute('mine')], { installation: own });
    const capped = (name: string, installation: string) =>
      ({ ...budget(name, { limit: { amount: 10 }, subjects: { namespaces: ['default'] } }), status: { installation: own, conditions: [sharedBy(installation)] } }) as KubeObject;
    caches.budgets.set('default/theirs', capped('theirs', 'team-b/b-operator'));
    caches.budgets.set('default/handed', capped('handed', own));
    await reconcileAll(reconciler);
    const written = (name: string) => patches.filter((p) => p.path.endsWith(`/budgets/${name}/status`)).at(-1)?.conditions.map((c) => c.type);
    expect(written('theirs')).toContain('Accepted');
    expect(written('theirs')?.at(-1)).toBe('SharedWithAnotherInstallation');
    expect(patches.find((p) => p.path.endsWith('/budgets/theirs/status'))?.conditions.at(-1)).toEqual(sharedBy('team-b/b-operator'));
    expect(written('handed')).toContain('Accepted');
    expect(written('handed')).not.toContain('SharedWithAnotherInstallation');
  });

  it('writes every other object when the API server refuses one, then reports the refusal', async () => {
    const { reconciler, refuse, patches } = setup([chatRoute('a'), chatRoute('b'), chatRoute('c')]);
    refuse.add('b');
    await expect(reconcileAll(reconciler)).rejects.toThrow('status of b refused');
    const written = patches.flatMap((p) => /modelroutes\/([^/]+)\/status$/.exec(p.path)?.[1] ?? []).sort();
    expect(written).toEqual(['a', 'c']);
  });

  it("forgets a deleted object's programming while writes fail, so its re-creation waits for the pods", async () => {
    const { reconciler, caches, refuse, programmed, hold } = setup([chatRoute('x'), chatRoute('y')]);
    refuse.add('y');
    await expect(reconcileAll(reconciler)).rejects.toThrow();
    expect(programmed('x')).toBe('Programmed');
    // x is deleted; y's writes keep failing.
    caches.routes.delete('default/x');
    await expect(reconcileAll(reconciler)).rejects.toThrow();
    // x comes back (same name, generation 1, new spec); the pods have not taken the new snapshot yet.
    hold(true);
    caches.routes.set('default/x', chatRoute('x', 'other-model'));
    await expect(reconcileAll(reconciler)).rejects.toThrow();
    expect(programmed('x')).toBe('Pending');
  });
});

/** Settles within `ms`, or fails the test saying what it waited for (a reconcile that awaits writes hangs). */
async function within<T>(promise: Promise<T>, what: string, ms = 1_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const generationOf = (patches: Patch[], name: string): unknown[] =>
  patches.filter((p) => p.path.endsWith(`/modelroutes/${name}/status`)).map((p) => p.status['observedGeneration']);

describe('Reconciler status writes off the publish path', () => {
  const routes = () => Array.from({ length: 20 }, (_, i) => chatRoute(`r${i}`));

  it('publishes the next change while the status writes of the last reconcile are in flight, eight at a time', async () => {
    const { reconciler, caches, holdWrites, maxInFlight, published, leading } = setup(routes());
    const release = holdWrites();
    await within(reconciler.reconcile(leading), 'first reconcile');
    const first = published();
    caches.routes.set('default/r3', route('r3', { model: 'r3', targets: [{ providerRef: { name: 'openai' }, model: 'other' }] }, { generation: 2 }) as KubeObject);
    await within(reconciler.reconcile(leading), 'reconcile of the change');
    expect(published()).toBeGreaterThan(first);
    expect(maxInFlight()).toBe(8);
    release();
    await reconciler.statusesWritten();
    expect(maxInFlight()).toBe(8);
  });

  it("writes each object's latest status, never an older one after it", async () => {
    const { reconciler, caches, holdWrites, patches, leading } = setup(routes());
    const release = holdWrites();
    await within(reconciler.reconcile(leading), 'reconcile');
    // r0 is being written (generation 1); r9 waits for a slot.
    for (const generation of [2, 3]) {
      for (const name of ['r0', 'r9']) {
        caches.routes.set(`default/${name}`, route(name, { model: name, targets: [{ providerRef: { name: 'openai' }, model: `m${generation}` }] }, { generation }) as KubeObject);
      }
      await within(reconciler.reconcile(leading), `reconcile of generation ${generation}`);
    }
    release();
    await reconciler.statusesWritten();
    expect(generationOf(patches, 'r0')).toEqual([1, 3]);
    expect(generationOf(patches, 'r9')).toEqual([3]);
  });

  it('writes nothing more once this replica stops leading', async () => {
    const { reconciler, patches, setLeading, leading, onPatch } = setup(routes());
    let sent = 0;
    // Leadership ends (the renew deadline passed) while the third write is on its way.
    onPatch(() => {
      if (++sent === 3) setLeading(false);
    });
    await reconcileAll(reconciler, leading);
    // The eight in flight when leadership ended, of the 21 objects.
    expect(patches).toHaveLength(8);
  });
});

describe('Reconciler and data-plane scaling', () => {
  it('writes no status when data-plane pods are added, removed or blip unready', async () => {
    const { reconciler, patches, setReady, caches } = setup([chatRoute('a'), chatRoute('b')]);
    await reconcileAll(reconciler);
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
      await reconcileAll(reconciler);
      expect(patches).toHaveLength(0);
    }
  });

  it('keeps a Pending message the same while pods come and go', async () => {
    const { reconciler, patches, setReady, hold, programmed } = setup([chatRoute('a')]);
    hold(true);
    setReady(2);
    await reconcileAll(reconciler);
    expect(programmed('a')).toBe('Pending');
    const message = () => patches.at(-1)?.conditions.find((c) => c.type === 'Programmed')?.message;
    const first = message();
    expect(first).toMatch(/^published in snapshot generation \d+; not every ready data-plane pod serves it yet$/);
    setReady(3);
    await reconcileAll(reconciler);
    expect(message()).toBe(first);
  });
});

describe('Reconciler and the snapshot budget', () => {
  const apiKey = (name: string): SecretObject =>
    ({ metadata: { name, namespace: 'evil', labels: { 'tollgate.dev/api-key': 'true', pad: 'z'.repeat(60) } }, data: { key: Buffer.from(`key-${name}`).toString('base64') } }) as SecretObject;

  it('warns on the Secret of each API key left out, once, and publishes the snapshot that fits', async () => {
    const secrets = Array.from({ length: 40 }, (_, i) => apiKey(`k${i}`));
    const { reconciler, events, published } = setup([chatRoute('a')], { snapshotBudgetBytes: 6_000, secrets, apiKeyHashKey: 'h'.repeat(32) });
    await reconcileAll(reconciler);
    expect(published()).toBeGreaterThan(0);
    const warned = () => events.filter((e) => e.reason === 'SnapshotTooLarge');
    expect(warned().length).toBeGreaterThan(10);
    expect(warned().length).toBeLessThan(40);
    expect(warned().every((e) => e.kind === 'Secret' && /namespace evil held the most/.test(e.message))).toBe(true);
    const first = warned().length;
    await reconcileAll(reconciler);
    expect(warned()).toHaveLength(first);
  });

  it('does not publish, and logs why, when the platform alone does not fit', async () => {
    const { reconciler, logged, published, programmed } = setup([chatRoute('a')], { snapshotBudgetBytes: 100 });
    await reconcileAll(reconciler);
    expect(published()).toBe(0);
    expect(logged.join('')).toMatch(/snapshot not published: .*no tenant's object is left out/);
    // Nothing published carries it: its status says why, not that the pods serve it.
    expect(programmed('a')).toBe('SnapshotTooLarge');
  });
});

describe('Reconciler and API keys held by more than one Secret', () => {
  const labelled = (namespace: string, name: string, creationTimestamp: string): SecretObject =>
    ({ metadata: { name, namespace, creationTimestamp, labels: { 'tollgate.dev/api-key': 'true' } }, data: { key: Buffer.from('tg-team-a-key').toString('base64') } }) as SecretObject;

  it("warns on the later copy's Secret (DuplicateApiKey, naming the keeper, never the key), once, logs it, and publishes the oldest holder's key only", async () => {
    const { reconciler, events, logged, caches } = setup([chatRoute('a')], {
      secrets: [labelled('team-a', 'caller', '2024-01-01T00:00:00Z'), labelled('team-b', 'zz', '2024-06-01T00:00:00Z')],
      apiKeyHashKey: 'h'.repeat(32),
    });
    await reconcileAll(reconciler);
    const warned = () => events.filter((e) => e.reason === 'DuplicateApiKey' && e.name === 'zz');
    expect(warned()).toEqual([{ kind: 'Secret', name: 'zz', reason: 'DuplicateApiKey', message: expect.stringContaining('Secret team-a/caller holds the same key and keeps it') }]);
    expect(logged.join('')).toMatch(/"secret":"team-b\/zz".*API key not served: Secret team-a\/caller holds the same key/);
    expect(JSON.stringify(events) + logged.join('')).not.toContain('tg-team-a-key');
    await reconcileAll(reconciler);
    expect(warned()).toHaveLength(1);
    // The keeper's Secret goes: the copy holds the key alone and is no longer warned about.
    caches.secrets.delete('team-a/caller');
    await reconcileAll(reconciler);
    expect(warned()).toHaveLength(1);
  });

  it("warns the keeper's Secret too (its owner learns the key was copied, never the key nor the other tenant's namespace), once, however often the copy comes and goes within an hour", async () => {
    const copy = labelled('team-b', 'zz', '2024-06-01T00:00:00Z');
    const { reconciler, events, logged, caches, advance } = setup([chatRoute('a')], {
      secrets: [labelled('team-a', 'caller', '2024-01-01T00:00:00Z'), copy],
      apiKeyHashKey: 'h'.repeat(32),
    });
    await reconcileAll(reconciler);
    const toOwner = () => events.filter((e) => e.reason === 'DuplicateApiKey' && e.name === 'caller');
    expect(toOwner()).toEqual([{ kind: 'Secret', name: 'caller', reason: 'DuplicateApiKey', message: expect.stringContaining('API key copied: a Secret in another namespace holds the same key; this Secret keeps it') }]);
    expect(toOwner()[0]?.message).toMatch(/rotate it/);
    expect(JSON.stringify(toOwner())).not.toMatch(/team-b|zz|tg-team-a-key/);
    // The platform team's log says which Secret holds the copy, never the key.
    expect(logged.join('')).toMatch(/"secret":"team-a\/caller".*"copies":\["team-b\/zz"\].*API key copied/);
    expect(logged.join('')).not.toContain('tg-team-a-key');
    await reconcileAll(reconciler);
    expect(toOwner()).toHaveLength(1);
    // The copier deletes and re-creates its copy: the owner's namespace gets no Event per toggle.
    for (let i = 0; i < 3; i++) {
      caches.secrets.delete('team-b/zz');
      await reconcileAll(reconciler);
      caches.secrets.set('team-b/zz', copy);
      await reconcileAll(reconciler);
    }
    expect(toOwner()).toHaveLength(1);
    // An hour on (an Event's lifetime), a copy that came back is told again.
    caches.secrets.delete('team-b/zz');
    advance(60 * 60 * 1000);
    await reconcileAll(reconciler);
    caches.secrets.set('team-b/zz', copy);
    await reconcileAll(reconciler);
    expect(toOwner()).toHaveLength(2);
  });
});

// The operator's loop renews the Lease and answers pulls and probes: a compile of 5,000 routes held
// it 0.4–1.0 s in one piece, and serialising the snapshot ~100 ms more. Both now run in slices.
describe('Reconciler compiles and serialises in slices', () => {
  it('gives the loop back at least once per route while compiling and serialising, and publishes both wire forms', async () => {
    let pauses = 0;
    const routes = Array.from({ length: 40 }, (_, i) => chatRoute(`r${i}`));
    const { reconciler, published, bodies } = setup(routes, { slices: { sliceMs: 0, pause: async () => void pauses++ } });
    await reconcileAll(reconciler);
    expect(published()).toBeGreaterThan(0);
    // Routes compiled, sized, hashed and serialised one at a time.
    expect(pauses).toBeGreaterThanOrEqual(4 * 40);
    const wire = bodies();
    expect(wire?.lines.split('\n').length).toBeGreaterThan(40);
    expect(JSON.parse(wire?.json ?? '')).toMatchObject({ generation: published(), snapshot: { routes: expect.any(Array) } });
    expect(wire?.json).toBe(wireJson(JSON.parse(wire?.json ?? '')));
  });

  it('publishes nothing when leadership goes while it compiles', async () => {
    let leading = true;
    const { reconciler, published } = setup([chatRoute('a'), chatRoute('b')], { slices: { sliceMs: 0, pause: async () => void (leading = false) } });
    await reconcileAll(reconciler, () => leading);
    expect(published()).toBe(0);
  });
});
