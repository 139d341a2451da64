import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretsQuery } from '../../operator/kube/secret-watch.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import {
  type Conditioned,
  conditionOf,
  dataplaneService,
  eventually,
  POD_NET,
  type Proc,
  startDataplane,
  startOperator,
  startTestCluster,
  type TestCluster,
  TOKEN,
} from './harness.js';

const withToken = { headers: { authorization: `Bearer ${TOKEN}` } };

const DP1 = `${POD_NET}.2`;
const DP2 = `${POD_NET}.3`;

let k: TestCluster;
let upstream: OpenAiUpstream;
let operator: Proc;
const dataplanes = new Map<string, Proc>();

const provider = (key: string) => `apiVersion: v1
kind: Secret
metadata: { name: upstream-key, namespace: team-a }
stringData: { apiKey: ${key} }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: upstream, namespace: team-a }
spec:
  type: openai-compatible
  url: ${upstream.baseUrl}
  credentials: { secretRef: { name: upstream-key, key: apiKey } }
`;

const route = (name: string, model: string, upstreamModel: string, providerName = 'upstream') => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: team-a }
spec:
  model: ${model}
  targets: [{ providerRef: { name: ${providerName} }, model: ${upstreamModel} }]
  access: { anonymous: true }
`;

const client = (ip = DP1) => new OpenAI({ baseURL: `http://${ip}:8080/v1`, apiKey: 'x', maxRetries: 0 });
const chat = (model: string, ip = DP1) => client(ip).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });

function restartDataplane(ip: string, operatorUrl?: string): Proc {
  const proc = startDataplane(ip, operatorUrl === undefined ? {} : { operatorUrl });
  dataplanes.set(ip, proc);
  return proc;
}

beforeAll(async () => {
  k = await startTestCluster();
  upstream = await startOpenAiUpstream();
  k.kubectl(['create', 'namespace', 'team-a']);
  restartDataplane(DP1);
  k.apply(dataplaneService([DP1]));
  operator = startOperator(k.operatorKubeconfig, { port: 19091, identity: 'operator-a' });
}, 120_000);

afterAll(async () => {
  await operator?.kill();
  for (const p of dataplanes.values()) await p.kill();
  await upstream?.close();
  await k?.stop();
});

describe('CRDs on a real API server', () => {
  it('shows printer columns and kubectl explain descriptions', () => {
    k.apply(route('columns', 'columns-model', 'x'));
    const table = k.kubectl(['get', 'modelroutes', '-n', 'team-a']);
    expect(table.split('\n')[0]).toMatch(/NAME\s+MODEL\s+STRATEGY\s+ACCEPTED\s+RESOLVED\s+AGE/);
    expect(table).toMatch(/columns\s+columns-model\s+failover/);
    expect(k.kubectl(['explain', 'modelroute.spec.fallbackOn'])).toMatch(/Failure classes after which the next target is tried/);
    k.kubectl(['delete', 'modelroute', 'columns', '-n', 'team-a']);
  });

  it('shows PROGRAMMED for Providers, spend columns for Budgets, and explains ThresholdReached', () => {
    k.apply(provider('sk-one'));
    expect(k.kubectl(['get', 'providers', '-n', 'team-a']).split('\n')[0]).toMatch(/NAME\s+TYPE\s+ACCEPTED\s+RESOLVED\s+PROGRAMMED\s+AGE/);
    k.apply('apiVersion: tollgate.dev/v1alpha1\nkind: Budget\nmetadata: { name: columns, namespace: team-a }\nspec:\n  limit: { amount: 5 }\n  subjects: { namespaces: [team-a] }\n');
    expect(k.kubectl(['get', 'budgets', '-n', 'team-a']).split('\n')[0]).toMatch(/NAME\s+LIMIT\s+UNIT\s+PERIOD\s+SPENT\s+REMAINING\s+RESETS-AT\s+ACCEPTED\s+RESOLVED\s+AGE/);
    expect(k.kubectl(['get', 'budgets', '-n', 'team-a', '-o', 'wide']).split('\n')[0]).toMatch(/THRESHOLD/);
    expect(k.kubectl(['explain', 'budget.status.conditions.type'])).toMatch(/ThresholdReached/);
    k.kubectl(['delete', 'budget', 'columns', '-n', 'team-a']);
  });

  it.each([
    ['weights without strategy weighted', 'spec:\n  model: m\n  targets: [{ providerRef: { name: p }, model: m, weight: 2 }]', 'target weights are only allowed with strategy weighted'],
    ['weighted without weights', 'spec:\n  model: m\n  strategy: weighted\n  targets: [{ providerRef: { name: p }, model: m }]', 'strategy weighted needs at least one target with a weight above 0'],
    ['attempt above total', 'spec:\n  model: m\n  targets: [{ providerRef: { name: p }, model: m }]\n  timeouts: { attempt: 5m, total: 1m }', 'attempt must not exceed total'],
    ['neither targets nor rules', 'spec:\n  model: m', 'set exactly one of targets and rules'],
    ['a missing model', 'spec:\n  targets: [{ providerRef: { name: p }, model: m }]', 'spec.model: Required value'],
    ['wrong type', 'spec:\n  model: m\n  targets: [{ providerRef: { name: p }, model: m, priority: high }]', 'spec.targets[0].priority: Invalid value: "string"'],
    ['unknown strategy', 'spec:\n  model: m\n  strategy: fastest\n  targets: [{ providerRef: { name: p }, model: m }]', 'Unsupported value: "fastest"'],
    ['a rate limit without a limit', 'spec:\n  model: m\n  targets: [{ providerRef: { name: p }, model: m }]\n  rateLimits: [{ per: Caller }]', 'set requestsPerMinute or tokensPerMinute'],
    ['a Selector without selector', 'spec:\n  model: m\n  targets: [{ providerRef: { name: p }, model: m }]\n  access: { namespaces: { from: Selector } }', 'selector is required when from is Selector'],
    ['a selector without Selector', 'spec:\n  model: m\n  targets: [{ providerRef: { name: p }, model: m }]\n  access: { namespaces: { from: All, selector: {} } }', 'selector is only allowed when from is Selector'],
  ])('refuses a ModelRoute with %s', (_name, spec, message) => {
    const manifest = `apiVersion: tollgate.dev/v1alpha1\nkind: ModelRoute\nmetadata: { name: bad, namespace: team-a }\n${spec}\n`;
    expect(() => k.apply(manifest)).toThrow(message);
  });

  it.each([
    ['url and serviceRef', 'type: vllm\n  url: http://x/v1\n  serviceRef: { name: s, port: 80 }', 'set at most one of url and serviceRef'],
    ['openai-compatible without an endpoint', 'type: openai-compatible', 'openai-compatible and vllm providers need url or serviceRef'],
    ['a mock with a url', 'type: mock\n  url: http://x/v1', 'a mock provider takes no url, serviceRef or credentials'],
    ['mock settings on another type', 'type: openai\n  mock: { latency: 1s }', 'mock is only allowed with type mock'],
    ['a malformed duration', 'type: openai\n  timeouts: { connect: 5 seconds }', 'spec.timeouts.connect'],
  ])('refuses a Provider with %s', (_name, spec, message) => {
    const manifest = `apiVersion: tollgate.dev/v1alpha1\nkind: Provider\nmetadata: { name: bad, namespace: team-a }\nspec:\n  ${spec}\n`;
    expect(() => k.apply(manifest)).toThrow(message);
  });

  it.each([
    ['a zero amount', 'limit: { amount: 0 }\n  subjects: { namespaces: [a] }', 'limit.amount must be greater than 0'],
    ['no subjects', 'limit: { amount: 5 }\n  subjects: {}', 'subjects must name at least one'],
    ['Downgrade without a target', 'limit: { amount: 5 }\n  subjects: { namespaces: [a] }\n  action: { type: Downgrade }', 'downgradeTo is required with action Downgrade'],
    ['Rolling without a window', 'limit: { amount: 5 }\n  subjects: { namespaces: [a] }\n  period: Rolling', 'window is required with period Rolling and only allowed with it'],
    ['a window on a calendar period', 'limit: { amount: 5 }\n  subjects: { namespaces: [a] }\n  period: Day\n  window: 1h', 'window is required with period Rolling and only allowed with it'],
  ])('refuses a Budget with %s', (_name, spec, message) => {
    const manifest = `apiVersion: tollgate.dev/v1alpha1\nkind: Budget\nmetadata: { name: bad, namespace: team-a }\nspec:\n  ${spec}\n`;
    expect(() => k.apply(manifest)).toThrow(message);
  });

  it("the operator's Secrets query leaves Helm releases and ServiceAccount tokens out, and applies a label selector", () => {
    k.apply(`apiVersion: v1
kind: Secret
metadata: { name: sel-plain, namespace: team-a, labels: { tollgate.dev/use: "true" } }
stringData: { apiKey: a }
---
apiVersion: v1
kind: Secret
metadata: { name: sel-unlabelled, namespace: team-a }
stringData: { apiKey: b }
---
apiVersion: v1
kind: Secret
metadata: { name: sh.helm.release.v1.app.v1, namespace: team-a, labels: { owner: helm } }
type: helm.sh/release.v1
stringData: { release: c }
`);
    const names = (query: string): string[] =>
      (JSON.parse(k.kubectl(['get', '--raw', `/api/v1/namespaces/team-a/secrets?${query}`])) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name).filter((n) => n.startsWith('sel-') || n.startsWith('sh.helm'));
    expect(names('').sort()).toEqual(['sel-plain', 'sel-unlabelled', 'sh.helm.release.v1.app.v1']);
    expect(names(secretsQuery(undefined)).sort()).toEqual(['sel-plain', 'sel-unlabelled']);
    expect(names(secretsQuery('tollgate.dev/use=true'))).toEqual(['sel-plain']);
    expect(names(secretsQuery('tollgate.dev/use in (true, yes)'))).toEqual(['sel-plain']);
    k.kubectl(['delete', 'secret', 'sel-plain', 'sel-unlabelled', 'sh.helm.release.v1.app.v1', '-n', 'team-a']);
  });
});

describe('operator → data plane', () => {
  it('serves a chat completion after kubectl apply of Provider + Secret + ModelRoute, and reports status', async () => {
    k.apply(provider('sk-one'));
    k.apply(route('chat', 'chat', 'model-v1'));
    const response = await eventually(() => chat('chat'), 'the route to be served');
    expect(response.model).toBe('model-v1');
    expect(upstream.requests.at(-1)?.headers.authorization).toBe('Bearer sk-one');
    const obj = await eventually(() => {
      const o = k.get<Conditioned>('modelroute', 'chat', 'team-a');
      if (conditionOf(o, 'Programmed')?.status !== 'True') throw new Error(JSON.stringify(o.status));
      return o;
    }, 'Programmed=True');
    expect(conditionOf(obj, 'Accepted')).toMatchObject({ status: 'True', reason: 'Accepted', observedGeneration: 1 });
    expect(conditionOf(obj, 'ResolvedRefs')).toMatchObject({ status: 'True' });
    expect(conditionOf(obj, 'Programmed')).toMatchObject({ status: 'True', message: 'every ready data-plane pod serves it' });
    expect(obj.status?.observedGeneration).toBe(1);
  });

  it('propagates updates, Secret rotation and deletes', async () => {
    k.apply(route('chat', 'chat', 'model-v2'));
    await eventually(async () => expect((await chat('chat')).model).toBe('model-v2'), 'the update');
    const updated = await eventually(() => {
      const o = k.get<Conditioned>('modelroute', 'chat', 'team-a');
      if (conditionOf(o, 'Programmed')?.observedGeneration !== 2) throw new Error('not yet');
      return o;
    }, 'observedGeneration 2');
    expect(updated.status?.observedGeneration).toBe(2);
    // Each generation bump is kept, dated by the API server's record of the spec write.
    const history = (updated.status as { specHistory?: { generation: number; changedAt: string }[] }).specHistory ?? [];
    expect(history.map((h) => h.generation)).toEqual([1, 2]);
    const raw = k.kubectl(['get', 'modelroute', 'chat', '-n', 'team-a', '-o', 'json', '--show-managed-fields']);
    const writes = (JSON.parse(raw) as { metadata: { managedFields: { time: string; subresource?: string }[] } }).metadata.managedFields;
    expect(history[1]?.changedAt).toBe(writes.filter((w) => w.subresource === undefined).map((w) => w.time).sort().at(-1));

    k.apply(provider('sk-two'));
    await eventually(async () => {
      await chat('chat');
      expect(upstream.requests.at(-1)?.headers.authorization).toBe('Bearer sk-two');
    }, 'the rotated key');

    k.apply(route('temp', 'temp', 'model-t'));
    await eventually(() => chat('temp'), 'temp route');
    k.kubectl(['delete', 'modelroute', 'temp', '-n', 'team-a']);
    await eventually(async () => expect(await chat('temp').catch((e: { status?: number }) => e.status)).toBe(404), 'the delete');
  });

  it('reports a missing Provider as ResolvedRefs=False with an Event, and its requests get a clear error', async () => {
    k.apply(route('orphan', 'orphan', 'x', 'nowhere'));
    const obj = await eventually(() => {
      const o = k.get<Conditioned>('modelroute', 'orphan', 'team-a');
      if (conditionOf(o, 'ResolvedRefs')?.status !== 'False') throw new Error('not yet');
      return o;
    }, 'ResolvedRefs=False');
    expect(conditionOf(obj, 'ResolvedRefs')).toMatchObject({ reason: 'ProviderNotFound', message: 'Provider team-a/nowhere not found' });
    const err = await eventually(async () => {
      const e = (await chat('orphan').catch((x: unknown) => x)) as { status?: number; message?: string };
      if (e.status !== 503) throw new Error(`status ${String(e.status)}`);
      return e;
    }, 'a 503 for the orphan route');
    expect(err.message).toMatch(/ProviderNotFound \(team-a\/nowhere\); the ModelRoute's ResolvedRefs condition says why/);
    const events = await eventually(() => {
      const out = k.kubectl(['get', 'events', '-n', 'team-a', '--field-selector', 'involvedObject.name=orphan', '-o', 'json']);
      const items = (JSON.parse(out) as { items: { reason: string; message: string; type: string }[] }).items;
      if (items.length === 0) throw new Error('no events');
      return items;
    }, 'an Event');
    expect(events[0]).toMatchObject({ type: 'Warning', reason: 'ProviderNotFound' });
  });

  it('marks the newer of two routes with one public model as Conflicted', async () => {
    k.apply(route('chat-dup', 'chat', 'model-dup'));
    const obj = await eventually(() => {
      const o = k.get<Conditioned>('modelroute', 'chat-dup', 'team-a');
      if (conditionOf(o, 'Accepted')?.status !== 'False') throw new Error('not yet');
      return o;
    }, 'Conflicted');
    expect(conditionOf(obj, 'Accepted')).toMatchObject({
      reason: 'Conflicted',
      message: 'public model chat is already served by ModelRoute team-a/chat in the same namespace; rename spec.model or delete one of them',
    });
    // It lost a conflict, it is not invalid: Programmed says so, and its references are still checked.
    await eventually(() => expect(conditionOf(k.get<Conditioned>('modelroute', 'chat-dup', 'team-a'), 'Programmed')).toMatchObject({ status: 'False', reason: 'Conflicted' }), 'Programmed=False Conflicted');
    expect(conditionOf(k.get<Conditioned>('modelroute', 'chat-dup', 'team-a'), 'ResolvedRefs')).toMatchObject({ status: 'True' });
    const events = JSON.parse(k.kubectl(['get', 'events', '-n', 'team-a', '--field-selector', 'involvedObject.name=chat-dup', '-o', 'json'])) as { items: { reason: string }[] };
    expect(events.items.map((e) => e.reason)).toEqual(['Conflicted']);
    expect((await chat('chat')).model).toBe('model-v2');
    k.kubectl(['delete', 'modelroute', 'chat-dup', '-n', 'team-a']);
  });

  it('a route the data plane could not load is refused alone: the rest of the snapshot is still published', async () => {
    // Passes the API server's CEL (it is valid RE2) but exceeds the data plane's program-size limit.
    const heavy = `${route('heavy', 'heavy', 'model-h')}  matches: [{ headers: [{ name: x-team, value: '${'.*a'.repeat(100)}', type: RegularExpression }] }]\n`;
    k.apply(heavy);
    const obj = await eventually(() => {
      const o = k.get<Conditioned>('modelroute', 'heavy', 'team-a');
      if (conditionOf(o, 'Accepted')?.status !== 'False') throw new Error('not yet');
      return o;
    }, 'Accepted=False');
    expect(conditionOf(obj, 'Accepted')).toMatchObject({ reason: 'Invalid', message: expect.stringMatching(/matches\.0\.headers\.0.*too complex: RE2 program size \d+ exceeds 256/) });
    // Another change made after it is served: the snapshot kept flowing.
    k.apply(route('after-heavy', 'after-heavy', 'model-a'));
    expect((await eventually(() => chat('after-heavy'), 'the later route')).model).toBe('model-a');
    expect((await chat('chat')).model).toBe('model-v2');
    k.kubectl(['delete', 'modelroute', 'heavy', 'after-heavy', '-n', 'team-a']);
  });

  it("a tenant's Budget cannot cut off another namespace: outside the platform namespace it caps only its own", async () => {
    k.kubectl(['create', 'namespace', 'team-b']);
    k.apply(`apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: grief, namespace: team-b }
spec:
  limit: { amount: 1, unit: Tokens }
  subjects: { namespaces: [team-a, team-b], routes: [{ namespace: team-a, name: chat }] }
`);
    const obj = await eventually(() => {
      const o = k.get<Conditioned>('budget', 'grief', 'team-b');
      if (conditionOf(o, 'ResolvedRefs')?.status !== 'False') throw new Error('not yet');
      return o;
    }, 'ResolvedRefs=False');
    expect(conditionOf(obj, 'ResolvedRefs')).toMatchObject({ reason: 'RefNotPermitted', message: expect.stringContaining('not applied to namespace team-a, ModelRoute team-a/chat') });
    // A one-token budget would refuse every request; team-a's route keeps serving.
    for (let i = 0; i < 3; i++) expect((await chat('chat')).model).toBe('model-v2');
    k.kubectl(['delete', 'budget', 'grief', '-n', 'team-b']);
  });

  it('coalesces a burst: 100 routes applied at once cost a handful of compiles, not 100', async () => {
    const reconciles = async () => {
      const text = await (await fetch('http://127.0.0.1:19091/metrics', withToken)).text();
      return Number(/tollgate_operator_reconciles_total (\d+)/.exec(text)?.[1] ?? 'NaN');
    };
    const before = await reconciles();
    // kubectl creates the 100 objects one request after another: on a loaded machine they came more
    // than the 100 ms debounce apart, one run each. Frozen meanwhile (well within its Lease, and no
    // other replica), the operator gets the 100 watch events together, as a burst.
    operator.child.kill('SIGSTOP');
    try {
      k.apply(Array.from({ length: 100 }, (_, i) => route(`bulk-${i}`, `bulk-${i}`, 'model-bulk')).join('---\n'));
    } finally {
      operator.child.kill('SIGCONT');
    }
    await eventually(() => chat('bulk-99'), 'the last bulk route', 30_000);
    await eventually(() => chat('bulk-0'), 'the first bulk route');
    // Status writes and acknowledgements add a few runs; one run per object would be 100+.
    expect((await reconciles()) - before).toBeLessThan(15);
    k.kubectl(['delete', 'modelroute', '-n', 'team-a', ...Array.from({ length: 100 }, (_, i) => `bulk-${i}`)]);
  });

  it('does not rewrite status when nothing changed (no write loops)', async () => {
    const before = k.get<Conditioned>('modelroute', 'chat', 'team-a').metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 1500));
    expect(k.get<Conditioned>('modelroute', 'chat', 'team-a').metadata.resourceVersion).toBe(before);
  });
});

describe('faults', () => {
  it('keeps serving while the operator is down; a restarted operator resumes without rewriting status', async () => {
    const before = k.get<Conditioned>('modelroute', 'chat', 'team-a').metadata.resourceVersion;
    await operator.kill();
    expect((await chat('chat')).model).toBe('model-v2');
    operator = startOperator(k.operatorKubeconfig, { port: 19091, identity: 'operator-a' });
    k.apply(route('after-restart', 'after-restart', 'model-r'));
    await eventually(() => chat('after-restart'), 'a route applied after the restart', 30_000);
    expect(k.get<Conditioned>('modelroute', 'chat', 'team-a').metadata.resourceVersion).toBe(before);
  });

  it('recovers its watches when the API server restarts', async () => {
    await k.cluster.restartApiServer();
    k.apply(route('after-apiserver', 'after-apiserver', 'model-s'));
    await eventually(() => chat('after-apiserver'), 'a route applied after the API server restart', 45_000);
  });

  it('a restarted data-plane pod pulls the snapshot from the operator and serves at once', async () => {
    await dataplanes.get(DP1)?.kill();
    restartDataplane(DP1, 'http://127.0.0.1:19091');
    const res = await eventually(() => chat('chat'), 'the restarted pod to serve', 20_000);
    expect(res.model).toBe('model-v2');
  });

  it('with two operator replicas only the leader pushes, and the other takes over when it dies', async () => {
    const standby = startOperator(k.operatorKubeconfig, { port: 19092, identity: 'operator-b' });
    try {
      const ready = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { leader: boolean };
      await eventually(async () => expect((await ready(19092)).leader).toBe(false), 'the standby to be up');
      expect((await ready(19091)).leader).toBe(true);
      // A second pod: only the leader's push reaches it.
      restartDataplane(DP2);
      k.apply(dataplaneService([DP1, DP2]));
      await eventually(() => chat('chat', DP2), 'the new pod to be programmed');
      const pushes = async (port: number) => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, withToken)).text();
        return Number(/tollgate_operator_push_duration_seconds_count (\d+)/.exec(text)?.[1] ?? '0');
      };
      expect(await pushes(19092)).toBe(0);
      expect(await pushes(19091)).toBeGreaterThan(0);

      await operator.kill(); // no graceful release: the standby must wait for the lease to expire
      await eventually(async () => expect((await ready(19092)).leader).toBe(true), 'the standby to take over', 30_000);
      k.apply(route('after-failover', 'after-failover', 'model-f'));
      await eventually(() => chat('after-failover', DP1), 'a change after failover', 20_000);
      await eventually(() => chat('after-failover', DP2), 'a change after failover on the second pod', 20_000);
      expect(await pushes(19092)).toBeGreaterThan(0);
    } finally {
      await standby.kill('SIGTERM');
    }
  });
});
