import { describe, expect, it } from 'vitest';
import { buildRuntimeSnapshot } from '../../dataplane/runtime/runtime-snapshot.js';
import { wireJson } from '../../dataplane/config/secret-value.js';
import type { Transport } from '../../dataplane/upstream/transport.js';
import { BudgetSchema, type Budget } from '../api/budget.js';
import { ModelRouteSchema, type ModelRoute } from '../api/model-route.js';
import { ProviderSchema, type Provider } from '../api/provider.js';
import { provider, route } from '../../test/support/objects.js';
import { seededRandom } from '../../test/support/seeded-random.js';
import { compile } from './compile.js';
import type { CompileInput, SecretInput } from './types.js';

const noTransport: Transport = {
  send: () => Promise.reject(new Error('no upstream in this test')),
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const PATTERNS = ['(', ')', '[a-', 'a{2,1}', '(?=x)', '(?<!x)y', '(a)\\1', '\\', '*', '(\\w+\\s?)+', 'prod|staging', '[[:alpha:]]+', '\\pL+', 'a{1001}', '(?i)eu-.*', ''];
const DURATIONS = ['0s', '0ms', '1ms', '250ms', '30s', '1m30s', '99999h'];
const WEIRD: Json[] = ['', '0s', '0ms', 0, -1, 1.5, 1e12, '(', 'a'.repeat(300), null, true, {}, [], 'Selector', 'RegularExpression'];
const VERTEX_KEYS = ['not json', '{}', '{"client_email":"a@b","private_key":"k"}', '[1]', 'null'];
const NAMESPACES = ['default', 'team-a', 'team-b'];
const TYPES = ['openai', 'azure-openai', 'anthropic', 'gemini', 'vertex', 'bedrock', 'openai-compatible', 'vllm', 'mock'];

class Gen {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function providerSpec(g: Gen, type: string): Record<string, Json> {
  const spec: Record<string, Json> = { type };
  if (type === 'openai-compatible' || type === 'vllm' || type === 'azure-openai') spec.url = 'http://127.0.0.1:9/v1';
  if (type === 'vllm' && g.chance(0.5)) {
    delete spec.url;
    spec.serviceRef = { name: 'vllm', port: 8000 };
  }
  if (type === 'vertex') {
    spec.vertex = { project: 'p', location: 'us-central1' };
    spec.credentials = { serviceAccountKeyRef: { name: 'creds', key: g.pick(['sa', 'missing']) } };
  } else if (type === 'bedrock' && g.chance(0.5)) {
    spec.credentials = { aws: { secretName: 'creds' } };
  } else if (type !== 'mock' && g.chance(0.7)) {
    spec.credentials = { secretRef: { name: 'creds', key: 'apiKey' } };
  }
  if (type === 'mock') spec.mock = { latency: g.pick(DURATIONS), chunkInterval: g.pick(DURATIONS) };
  if (g.chance(0.4)) spec.timeouts = { connect: g.pick(DURATIONS) };
  if (g.chance(0.3)) spec.healthCheck = { enabled: true, interval: g.pick(DURATIONS), timeout: g.pick(DURATIONS) };
  if (g.chance(0.3)) spec.outlierDetection = { consecutiveFailures: 1 + g.int(5), baseEjectionTime: g.pick(DURATIONS), maxEjectionTime: g.pick(DURATIONS) };
  if (g.chance(0.4)) spec.allowedRoutes = { namespaces: { from: g.pick(['Same', 'All']) } };
  if (g.chance(0.5)) spec.models = [{ name: 'm1', pricing: { input: g.int(10), output: g.int(10) } }, { name: 'm2' }];
  return spec;
}

function headers(g: Gen): Json[] {
  return Array.from({ length: 1 + g.int(3) }, () =>
    g.chance(0.6) ? { name: 'x-team', value: g.pick(PATTERNS), type: 'RegularExpression' } : { name: 'x-env', value: g.pick(PATTERNS), type: 'Exact' },
  );
}

function routeSpec(g: Gen, providers: { name: string; namespace: string }[]): Record<string, Json> {
  const target = (): Json => {
    const p = g.pick(providers);
    return { providerRef: { name: p.name, namespace: p.namespace }, model: g.pick(['m1', 'm2', 'm3']), priority: g.int(3) };
  };
  const spec: Record<string, Json> = { model: g.pick(['chat', 'fast', 'embed']), strategy: g.pick(['failover', 'weighted', 'least-latency']) };
  if (g.chance(0.5)) {
    spec.targets = Array.from({ length: 1 + g.int(3) }, target);
  } else {
    const conditional = Array.from({ length: g.int(3) }, (_, i): Json => ({ name: `r${i}`, when: { headers: headers(g) }, targets: [target()] }));
    spec.rules = [...conditional, { name: 'rest', targets: [target(), target()] }];
  }
  if (g.chance(0.5)) spec.matches = [{ headers: headers(g) }];
  if (g.chance(0.3)) spec.timeouts = { total: g.pick(DURATIONS), streamIdle: g.pick(DURATIONS) };
  if (g.chance(0.3)) spec.retry = { attempts: 1 + g.int(3), backoff: { initial: g.pick(DURATIONS), max: g.pick(DURATIONS) }, maxRetryAfter: g.pick(DURATIONS) };
  if (g.chance(0.3)) spec.cache = { enabled: true, ttl: g.pick(DURATIONS) };
  if (g.chance(0.3)) spec.access = { anonymous: g.chance(0.5), namespaces: { from: 'All' } };
  return spec;
}

function budgetSpec(g: Gen): Record<string, Json> {
  const spec: Record<string, Json> = { limit: { unit: 'USD', amount: 1 + g.int(100) }, subjects: { namespaces: [g.pick(NAMESPACES)] } };
  if (g.chance(0.5)) {
    spec.period = 'Rolling';
    spec.window = g.pick(DURATIONS);
  }
  return spec;
}

/** Replaces one random leaf (or adds a key) somewhere in the object with a value from WEIRD. */
function mutate(g: Gen, value: Json): Json {
  if (Array.isArray(value)) {
    if (value.length === 0 || g.chance(0.2)) return g.pick(WEIRD);
    const i = g.int(value.length);
    return value.map((v, j) => (j === i ? mutate(g, v) : v));
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0 || g.chance(0.15)) return { ...value, [g.pick(['value', 'type', 'window', 'connect', 'total', 'from'])]: g.pick(WEIRD) };
    const k = g.pick(keys);
    return { ...value, [k]: mutate(g, value[k] as Json) };
  }
  return g.pick(WEIRD);
}

/** Replaces one string or number leaf with another of the same type: what an older, looser CRD could have stored. */
function stale(g: Gen, value: Json): Json {
  if (Array.isArray(value)) {
    if (value.length === 0) return value;
    const i = g.int(value.length);
    return value.map((v, j) => (j === i ? stale(g, v) : v));
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => k !== 'apiVersion' && k !== 'kind');
    if (keys.length === 0) return value;
    const k = g.pick(keys);
    return { ...value, [k]: stale(g, value[k] as Json) };
  }
  if (typeof value === 'string') return g.pick([...PATTERNS, ...DURATIONS]);
  if (typeof value === 'number') return g.pick([0, -1, 0.5, 1e12]);
  return value;
}

/**
 * As the operator does: an object its CRD schema refuses never reaches compile. Some admitted
 * objects are then changed as if stored under an older CRD, so that compile's own checks, not the
 * schema's, must keep the snapshot loadable.
 */
function admitted<T>(g: Gen, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, raw: Json): T[] {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return [];
  return [g.chance(0.4) ? (stale(g, parsed.data as Json) as T) : parsed.data];
}

function world(seed: number): CompileInput {
  const g = new Gen(seededRandom(seed));
  const meta = (name: string, namespace: string): Json => ({ name, namespace, generation: 1, creationTimestamp: `2026-01-0${1 + g.int(9)}T00:00:00Z` });
  const refs: { name: string; namespace: string }[] = [];
  const providers: Provider[] = [];
  const routes: ModelRoute[] = [];
  const budgets: Budget[] = [];
  for (let i = 0; i < 1 + g.int(5); i++) {
    const namespace = g.pick(NAMESPACES);
    const name = `p${i}`;
    refs.push({ name, namespace });
    let raw: Json = { apiVersion: 'tollgate.dev/v1alpha1', kind: 'Provider', metadata: meta(name, namespace), spec: providerSpec(g, g.pick(TYPES)) };
    if (g.chance(0.3)) raw = mutate(g, raw);
    providers.push(...admitted<Provider>(g, ProviderSchema, raw));
  }
  for (let i = 0; i < 1 + g.int(6); i++) {
    let raw: Json = { apiVersion: 'tollgate.dev/v1alpha1', kind: 'ModelRoute', metadata: meta(`r${i}`, g.pick(NAMESPACES)), spec: routeSpec(g, refs) };
    if (g.chance(0.3)) raw = mutate(g, raw);
    routes.push(...admitted<ModelRoute>(g, ModelRouteSchema, raw));
  }
  for (let i = 0; i < g.int(3); i++) {
    let raw: Json = { apiVersion: 'tollgate.dev/v1alpha1', kind: 'Budget', metadata: meta(`b${i}`, g.pick(NAMESPACES)), spec: budgetSpec(g) };
    if (g.chance(0.3)) raw = mutate(g, raw);
    budgets.push(...admitted<Budget>(g, BudgetSchema, raw));
  }
  const secrets: SecretInput[] = NAMESPACES.map((namespace) => ({
    namespace,
    name: 'creds',
    data: { apiKey: 'sk-test', sa: g.pick(VERTEX_KEYS), AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's' },
  }));
  const endpoints = NAMESPACES.map((namespace) => ({ namespace, service: 'vllm', port: 8000, addresses: [{ ip: '127.0.0.1', port: 8000, ready: true }] }));
  return { providers, routes, budgets, secrets, endpoints, namespaces: NAMESPACES.map((name) => ({ name, labels: { name } })) };
}

describe('whatever compile publishes, the data plane can load', () => {
  it('holds for 400 seeded worlds of random and mutated objects', () => {
    const refused = { ModelRoute: 0, Provider: 0, Budget: 0, DataPolicy: 0, GuardrailPolicy: 0 };
    for (let seed = 1; seed <= 400; seed++) {
      const { snapshot, statuses } = compile(world(seed));
      const loaded = buildRuntimeSnapshot(JSON.parse(wireJson(snapshot)), noTransport);
      expect(loaded.ok ? 'loaded' : `seed ${seed}: ${loaded.error}`).toBe('loaded');
      // Refused alone: every accepted route is published, every refused one is not.
      const accepted = statuses
        .filter((s) => s.kind === 'ModelRoute' && s.conditions.some((c) => c.type === 'Accepted' && c.status === 'True'))
        .map((s) => `${s.namespace}/${s.name}`)
        .sort();
      expect(snapshot.routes.map((r) => r.id).sort(), `seed ${seed}`).toEqual(accepted);
      for (const s of statuses) if (s.conditions.some((c) => c.reason === 'Invalid' || c.reason === 'InvalidSecret')) refused[s.kind]++;
    }
    // The generator does reach the refusal path (not only worlds that happen to be valid).
    expect(refused.ModelRoute).toBeGreaterThan(10);
    expect(refused.Provider).toBeGreaterThan(10);
    expect(refused.Budget).toBeGreaterThan(0);
  });
});

describe('compile refuses what the data plane would refuse, one object at a time', () => {
  const p = provider('p', { type: 'mock' });
  const good = route('good', { model: 'good', targets: [{ providerRef: { name: 'p' }, model: 'm' }] });
  const badSpec = { model: 'bad', matches: [{ headers: [{ name: 'x-team', value: '(', type: 'RegularExpression' as const }] }] };

  function statusOf(statuses: ReturnType<typeof compile>['statuses'], name: string) {
    return statuses.find((s) => s.kind === 'ModelRoute' && s.name === name)?.conditions.find((c) => c.type === 'Accepted');
  }

  it('an invalid header regex is Accepted=False naming the field; the other routes are published and load', () => {
    // Built around the schema, as compile's own guarantee must not rest on the CRD schema alone.
    const bad = { ...good, metadata: { ...good.metadata, name: 'bad' }, spec: { ...good.spec, ...badSpec } } as ModelRoute;
    const { snapshot, statuses } = compile({ providers: [p], routes: [good, bad], budgets: [], secrets: [] });
    expect(statusOf(statuses, 'bad')).toMatchObject({ status: 'False', reason: 'Invalid', message: expect.stringContaining('spec.matches[0].headers[0].value') });
    expect(statusOf(statuses, 'good')).toMatchObject({ status: 'True' });
    expect(snapshot.routes.map((r) => r.id)).toEqual(['default/good']);
    expect(buildRuntimeSnapshot(snapshot, noTransport).ok).toBe(true);
  });

  it('a bad regex in a rule names the rule field and does not claim the public name', () => {
    const older = route('older', {
      model: 'chat',
      rules: [{ name: 'eu', when: { headers: [{ name: 'x-r', value: 'eu', type: 'RegularExpression' }] }, targets: [{ providerRef: { name: 'p' }, model: 'm' }] }, { name: 'rest', targets: [{ providerRef: { name: 'p' }, model: 'm' }] }],
    }, { creationTimestamp: '2026-01-01T00:00:00Z' });
    const broken = { ...older, spec: { ...older.spec, rules: older.spec.rules?.map((r, i) => (i === 0 ? { ...r, when: { headers: [{ name: 'x-r', value: 'a{2,1}', type: 'RegularExpression' as const }] } } : r)) } } as ModelRoute;
    const newer = route('newer', { model: 'chat', targets: [{ providerRef: { name: 'p' }, model: 'm' }] }, { creationTimestamp: '2026-02-01T00:00:00Z' });
    const { snapshot, statuses } = compile({ providers: [p], routes: [broken, newer], budgets: [], secrets: [] });
    expect(statusOf(statuses, 'older')).toMatchObject({ status: 'False', reason: 'Invalid', message: expect.stringContaining('spec.rules[0].when.headers[0].value') });
    expect(statusOf(statuses, 'newer')).toMatchObject({ status: 'True' });
    expect(snapshot.routes.map((r) => r.id)).toEqual(['default/newer']);
  });

  it('a vertex key Secret that is not a service-account key makes that Provider not ready, not the snapshot unloadable', () => {
    const vertex = provider('v', { type: 'vertex', vertex: { project: 'p', location: 'us-central1' }, credentials: { serviceAccountKeyRef: { name: 'sa', key: 'json' } } });
    const r = route('v', { model: 'v', targets: [{ providerRef: { name: 'v' }, model: 'gemini' }] });
    const { snapshot, statuses } = compile({ providers: [p, vertex], routes: [good, r], budgets: [], secrets: [{ namespace: 'default', name: 'sa', data: { json: 'not json' } }] });
    const conditions = statuses.find((s) => s.kind === 'Provider' && s.name === 'v')?.conditions;
    expect(conditions?.find((c) => c.type === 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'InvalidSecret', message: expect.stringContaining('not JSON') });
    expect(snapshot.providers.map((x) => x.id)).toEqual(['default/p']);
    expect(buildRuntimeSnapshot(snapshot, noTransport).ok).toBe(true);
  });

  it('the CRD schemas (CEL at kubectl apply, zod for tollgate dev) refuse zero durations the snapshot cannot carry', () => {
    const meta = { name: 'x', namespace: 'default' };
    const refused = (schema: { safeParse(v: unknown): { success: boolean } }, kind: string, spec: Record<string, unknown>) =>
      !schema.safeParse({ apiVersion: 'tollgate.dev/v1alpha1', kind, metadata: meta, spec }).success;
    const target = { providerRef: { name: 'p' }, model: 'm' };
    expect(refused(ProviderSchema, 'Provider', { type: 'openai', timeouts: { connect: '0s' } })).toBe(true);
    expect(refused(ProviderSchema, 'Provider', { type: 'openai', healthCheck: { enabled: true, interval: '0ms' } })).toBe(true);
    expect(refused(ModelRouteSchema, 'ModelRoute', { model: 'm', targets: [target], timeouts: { total: '0s' } })).toBe(true);
    expect(refused(ModelRouteSchema, 'ModelRoute', { model: 'm', targets: [target], timeouts: { streamIdle: '0ms' } })).toBe(true);
    expect(refused(BudgetSchema, 'Budget', { limit: { unit: 'USD', amount: 1 }, period: 'Rolling', window: '0h', subjects: { namespaces: ['a'] } })).toBe(true);
    expect(refused(ProviderSchema, 'Provider', { type: 'openai', timeouts: { connect: '1ms' } })).toBe(false);
    expect(refused(ProviderSchema, 'Provider', { type: 'mock', mock: { latency: '0ms' } })).toBe(false);
  });
});

