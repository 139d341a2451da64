import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { budget, provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import { SecretValue, wireJson } from '../../dataplane/config/secret-value.js';
import type { CompileInput, ObjectStatus } from './types.js';

const secret = { namespace: 'default', name: 'openai', data: { apiKey: 'sk-1' } };
const openai = provider('openai', {
  type: 'openai',
  credentials: { secretRef: { name: 'openai', key: 'apiKey' } },
  models: [{ name: 'gpt-4o', pricing: { input: 2.5, output: 10 } }, { name: 'gpt-4o-mini', pricing: { input: 0.15, output: 0.6, cachedInput: 0.075 } }],
});
const chat = route('chat', { model: 'chat', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }] });

function input(partial: Partial<CompileInput>): CompileInput {
  return { providers: [openai], routes: [chat], budgets: [], secrets: [secret], ...partial };
}

function status(statuses: ObjectStatus[], kind: string, name: string, namespace = 'default'): Record<string, { status: string; reason: string; message: string }> {
  const s = statuses.find((x) => x.kind === kind && x.name === name && x.namespace === namespace);
  if (s === undefined) throw new Error(`no status for ${kind} ${namespace}/${name}`);
  return Object.fromEntries(s.conditions.map((c) => [c.type, c]));
}

describe('compile', () => {
  it('resolves a route to its provider with prices, key and defaults', () => {
    const { snapshot, statuses } = compile(input({}));
    expect(snapshot.providers).toEqual([
      { id: 'default/openai', type: 'openai', endpoints: ['https://api.openai.com/v1'], headers: {}, connectTimeoutMs: 5000, apiKey: expect.any(SecretValue), answerIdentity: expect.any(String) },
    ]);
    expect(snapshot.providers[0]?.apiKey?.reveal()).toBe('sk-1');
    expect(snapshot.routes[0]).toMatchObject({
      id: 'default/chat',
      model: 'chat',
      strategy: 'failover',
      targets: [{ providerId: 'default/openai', model: 'gpt-4o', priority: 0, weight: 1, pricing: { inputPerMTok: 2.5, outputPerMTok: 10, cachedInputPerMTok: 2.5 } }],
      retry: { attempts: 2, initialBackoffMs: 100, maxBackoffMs: 2000, maxRetryAfterMs: 10000 },
      timeouts: { totalMs: 300000, streamIdleMs: 120000 },
    });
    expect(status(statuses, 'ModelRoute', 'chat')).toMatchObject({ Accepted: { status: 'True' }, ResolvedRefs: { status: 'True' } });
    expect(statuses.every((s) => s.conditions.every((c) => c.observedGeneration === 1))).toBe(true);
  });

  it("carries a model's audio and image token prices into the snapshot, and leaves them out where unset", () => {
    const voice = provider('voice', {
      type: 'openai',
      credentials: { secretRef: { name: 'openai', key: 'apiKey' } },
      models: [{ name: 'gpt-realtime', pricing: { input: 4, output: 16, cachedInput: 0.4, audioInput: 32, audioOutput: 64, imageInput: 5, imageOutput: 40 } }],
    });
    const r = route('voice', { model: 'voice', targets: [{ providerRef: { name: 'voice' }, model: 'gpt-realtime' }] });
    const { snapshot } = compile(input({ providers: [openai, voice], routes: [chat, r] }));
    expect(snapshot.routes.find((x) => x.id === 'default/voice')?.targets[0]?.pricing).toEqual({
      inputPerMTok: 4,
      outputPerMTok: 16,
      cachedInputPerMTok: 0.4,
      audioInputPerMTok: 32,
      audioOutputPerMTok: 64,
      imageInputPerMTok: 5,
      imageOutputPerMTok: 40,
    });
    expect(snapshot.routes.find((x) => x.id === 'default/chat')?.targets[0]?.pricing).toEqual({ inputPerMTok: 2.5, outputPerMTok: 10, cachedInputPerMTok: 2.5 });
  });

  it("prices Claude's cache writes by default as Claude bills them on anthropic and bedrock Providers, and as the model says where it does", () => {
    const secrets = [secret, { namespace: 'default', name: 'anthropic', data: { apiKey: 'sk-ant' } }];
    const claude = (name: string, pricing: Record<string, unknown>) =>
      provider(name, { type: 'anthropic', credentials: { secretRef: { name: 'anthropic', key: 'apiKey' } }, models: [{ name: 'claude-sonnet-4-5', pricing }] });
    const routes = ['defaults', 'explicit'].map((n) => route(n, { model: n, targets: [{ providerRef: { name: n }, model: 'claude-sonnet-4-5' }] }));
    const { snapshot } = compile(input({ secrets, providers: [openai, claude('defaults', { input: 3, output: 15 }), claude('explicit', { input: 3, output: 15, cacheWrite: 3, cacheWrite1h: 3 })], routes: [chat, ...routes] }));
    const pricing = (id: string) => snapshot.routes.find((x) => x.id === id)?.targets[0]?.pricing;
    expect(pricing('default/defaults')).toMatchObject({ inputPerMTok: 3, cacheWriteInputPerMTok: 3.75, cacheWrite1hInputPerMTok: 6 });
    expect(pricing('default/explicit')).toMatchObject({ cacheWriteInputPerMTok: 3, cacheWrite1hInputPerMTok: 3 });
    // A long-context tier: its cached price defaults to its input price, its cache writes as Claude's.
    const tiered = compile(input({ secrets, providers: [openai, claude('defaults', { input: 3, output: 15, longContext: { above: 200_000, input: 6, output: 22.5 } })], routes: [chat, ...routes.slice(0, 1)] }));
    expect(tiered.snapshot.routes.find((x) => x.id === 'default/defaults')?.targets[0]?.pricing.longContext).toEqual({
      aboveInputTokens: 200_000,
      inputPerMTok: 6,
      outputPerMTok: 22.5,
      cachedInputPerMTok: 6,
      cacheWriteInputPerMTok: 7.5,
      cacheWrite1hInputPerMTok: 12,
    });
    // An OpenAI Provider has no cache-write price unless its model sets one (OpenAI does not bill writes).
    expect(pricing('default/chat')).not.toHaveProperty('cacheWriteInputPerMTok');
  });

  it('says nothing true of targets that did not resolve: Priced=Unknown when none did, True only of the resolved ones', () => {
    const gone = route('gone', { model: 'gone', targets: [{ providerRef: { name: 'deleted' }, model: 'gpt-4o' }] });
    const half = route('half', { model: 'half', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }, { providerRef: { name: 'deleted' }, model: 'gpt-4o' }] });
    const { statuses } = compile(input({ providers: [openai], routes: [gone, half] }));
    expect(status(statuses, 'ModelRoute', 'gone').ResolvedRefs).toMatchObject({ status: 'False', reason: 'ProviderNotFound' });
    expect(status(statuses, 'ModelRoute', 'gone').Priced).toMatchObject({ status: 'Unknown', reason: 'NoResolvedTargets' });
    expect(status(statuses, 'ModelRoute', 'half').Priced).toMatchObject({ status: 'True', reason: 'Priced', message: 'every resolved target has prices; ResolvedRefs lists what did not resolve' });
  });

  it('says, on a route with passThrough, which listed endpoints no target can serve: PassThroughServed=False naming them and the types that do', () => {
    // Before, an Anthropic route listing files loaded silently; every files call on it was a 400.
    const claude = provider('claude', { type: 'anthropic' });
    const listing = route('claude-files', { model: 'claude-files', targets: [{ providerRef: { name: 'claude' }, model: 'claude-sonnet-4' }, { providerRef: { name: 'openai' }, model: 'gpt-4o' }], passThrough: { endpoints: ['files', 'rerank'] } });
    const only = route('claude-only', { model: 'claude-only', targets: [{ providerRef: { name: 'claude' }, model: 'claude-sonnet-4' }], passThrough: { endpoints: ['files', 'moderations'] } });
    const { statuses } = compile(input({ providers: [openai, claude], routes: [chat, listing, only] }));
    expect(status(statuses, 'ModelRoute', 'chat').PassThroughServed).toBeUndefined();
    const some = status(statuses, 'ModelRoute', 'claude-files').PassThroughServed;
    expect(some).toMatchObject({ status: 'False', reason: 'EndpointNotServed' });
    expect(some?.message).toBe('spec.passThrough.endpoints lists endpoints no target of this route can serve, whose calls are answered 400 endpoint_not_supported: rerank (served by Provider types openai-compatible, vllm)');
    expect(status(statuses, 'ModelRoute', 'claude-only').PassThroughServed?.message).toContain(': files (served by Provider types openai, azure-openai, openai-compatible, vllm); moderations (served by Provider types openai, openai-compatible, vllm)');
    // The route still serves.
    expect(status(statuses, 'ModelRoute', 'claude-only').Accepted).toMatchObject({ status: 'True' });
  });

  it('says, on a route listing fine_tuning, which targets cannot price a job: PassThroughServed=False TrainingUnpriced naming them', () => {
    // Before, the route loaded as served; every job on it was refused with 400 training_unpriced.
    const trained = provider('trained', { type: 'openai', credentials: { secretRef: { name: 'openai', key: 'apiKey' } }, models: [{ name: 'gpt-4o-mini', pricing: { input: 0.15, output: 0.6, training: 3 } }] });
    const claude = provider('claude', { type: 'anthropic' });
    const tune = (name: string, targets: { providerRef: { name: string }; model: string }[], endpoints: ('fine_tuning' | 'rerank' | 'files')[]) => route(name, { model: name, targets, passThrough: { endpoints } });
    const { statuses } = compile(input({
      providers: [openai, trained, claude],
      routes: [
        tune('ft-unpriced', [{ providerRef: { name: 'trained' }, model: 'gpt-4o-mini' }, { providerRef: { name: 'openai' }, model: 'gpt-4o' }], ['fine_tuning', 'files']),
        // A target that does not forward fine-tuning calls (Anthropic) is not asked for a training price.
        tune('ft-priced', [{ providerRef: { name: 'trained' }, model: 'gpt-4o-mini' }, { providerRef: { name: 'claude' }, model: 'claude-sonnet-4' }], ['fine_tuning']),
        tune('ft-both', [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }], ['fine_tuning', 'rerank']),
        tune('no-ft', [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }], ['files']),
      ],
    }));
    const unpriced = status(statuses, 'ModelRoute', 'ft-unpriced').PassThroughServed;
    expect(unpriced).toMatchObject({ status: 'False', reason: 'TrainingUnpriced' });
    expect(unpriced?.message).toBe("fine-tuning jobs are refused with 400 training_unpriced, as targets that would run them have no training price (pricing.training, USD per million trained tokens): default/openai gpt-4o; set it on the Provider's model (spec.models[].pricing.training; 0 to fine-tune free of charge)");
    expect(status(statuses, 'ModelRoute', 'ft-priced').PassThroughServed).toMatchObject({ status: 'True', reason: 'Served' });
    const both = status(statuses, 'ModelRoute', 'ft-both').PassThroughServed;
    expect(both).toMatchObject({ status: 'False', reason: 'EndpointNotServed' });
    expect(both?.message).toContain('rerank (served by Provider types openai-compatible, vllm); fine-tuning jobs are refused with 400 training_unpriced');
    expect(status(statuses, 'ModelRoute', 'no-ft').PassThroughServed).toMatchObject({ status: 'True' });
    // The route still serves.
    expect(status(statuses, 'ModelRoute', 'ft-unpriced').Accepted).toMatchObject({ status: 'True' });
  });

  it('says, on the route, which targets have no prices (charged $0): Priced=False Unpriced naming them, True when every target is priced', () => {
    const free = provider('free', { type: 'openai-compatible', url: 'http://127.0.0.1:9/v1', models: [{ name: 'llama' }] });
    const mixed = route('mixed', { model: 'mixed', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }, { providerRef: { name: 'free' }, model: 'llama' }] });
    const { statuses } = compile(input({ providers: [openai, free], routes: [chat, mixed] }));
    expect(status(statuses, 'ModelRoute', 'chat').Priced).toMatchObject({ status: 'True', reason: 'Priced' });
    const priced = status(statuses, 'ModelRoute', 'mixed').Priced;
    expect(priced).toMatchObject({ status: 'False', reason: 'Unpriced' });
    expect(priced?.message).toContain(': default/free llama;');
    expect(priced?.message).not.toContain('gpt-4o');
    // The route still serves.
    expect(status(statuses, 'ModelRoute', 'mixed').Accepted).toMatchObject({ status: 'True' });
  });

  it('counts explicit zero prices as prices: a self-hosted model free on purpose is Priced', () => {
    const vllm = provider('vllm', { type: 'vllm', url: 'http://127.0.0.1:9/v1', models: [{ name: 'llama', pricing: { input: 0, output: 0 } }] });
    const selfHosted = route('self-hosted', { model: 'self-hosted', targets: [{ providerRef: { name: 'vllm' }, model: 'llama' }] });
    const { statuses } = compile(input({ providers: [openai, vllm], routes: [chat, selfHosted] }));
    expect(status(statuses, 'ModelRoute', 'self-hosted').Priced).toMatchObject({ status: 'True', reason: 'Priced' });
  });

  it("keeps a condition's message within the API's 32 KiB however many problems an object has", () => {
    // A Provider of 256 long model names; a route whose 512 targets name one it does not serve.
    const models = Array.from({ length: 256 }, (_, i) => ({ name: `m${i}-`.padEnd(256, 'x') }));
    const big = provider('big', { type: 'openai-compatible', url: 'http://127.0.0.1:9/v1', models });
    const targets = Array.from({ length: 32 }, (_, i) => ({ providerRef: { name: 'big' }, model: 'not-served', priority: i }));
    const rules = Array.from({ length: 16 }, (_, i) => (i === 15 ? { name: `r${i}`, targets } : { name: `r${i}`, when: { stream: true }, targets }));
    const { statuses } = compile(input({ providers: [openai, big], routes: [chat, route('wide', { model: 'wide', rules })] }));
    const refs = status(statuses, 'ModelRoute', 'wide').ResolvedRefs;
    expect(refs).toMatchObject({ status: 'False', reason: 'ModelNotServed' });
    expect(refs?.message.length).toBeLessThanOrEqual(32_768);
    expect(refs?.message).toMatch(/^rule r0: Provider default\/big does not serve model not-served \(it serves m0-x+, .* and 240 more\); .*; and \d+ more$/);
  });

  it("serves third namespaces a platform namespace's route of a public name before a tenant's older one open to all", () => {
    const open = { namespaces: { from: 'All' } };
    const squat = route('squat', { model: 'gpt-4o', access: open, targets: [{ providerRef: { name: 'openai', namespace: 'default' }, model: 'gpt-4o' }] }, { namespace: 'evil', creationTimestamp: '2026-12-01T00:00:00Z' });
    const platform = route('gpt-4o', { model: 'gpt-4o', access: open, targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }] }, { namespace: 'default', creationTimestamp: '2026-12-05T00:00:00Z' });
    const shared = provider('openai', { type: 'openai', credentials: { secretRef: { name: 'openai', key: 'apiKey' } }, allowedRoutes: { namespaces: { from: 'All' } }, models: [{ name: 'gpt-4o' }] });
    const { snapshot } = compile(input({ providers: [shared], routes: [squat, platform], platformNamespaces: ['default'] }));
    expect(snapshot.routes.filter((r) => r.model === 'gpt-4o').map((r) => r.id)).toEqual(['default/gpt-4o', 'evil/squat']);
    // Without platform namespaces (tollgate dev: one author) the oldest comes first, as before.
    const dev = compile(input({ providers: [shared], routes: [squat, platform] }));
    expect(dev.snapshot.routes.filter((r) => r.model === 'gpt-4o').map((r) => r.id)).toEqual(['evil/squat', 'default/gpt-4o']);
  });

  it('is deterministic: any input order gives a byte-identical snapshot', () => {
    const p2 = provider('other', { type: 'openai-compatible', url: 'http://10.0.0.1/v1' });
    const r2 = route('b', { model: 'b', targets: [{ providerRef: { name: 'other' }, model: 'x' }] });
    const a = compile(input({ providers: [openai, p2], routes: [chat, r2] }));
    const b = compile(input({ providers: [p2, openai], routes: [r2, chat] }));
    expect(JSON.stringify(b.snapshot)).toBe(JSON.stringify(a.snapshot));
    expect(b.statuses).toEqual(a.statuses);
    expect(a.snapshot.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('changes the version when content changes (e.g. a rotated key)', () => {
    const a = compile(input({}));
    const b = compile(input({ secrets: [{ ...secret, data: { apiKey: 'sk-2' } }] }));
    expect(b.snapshot.version).not.toBe(a.snapshot.version);
  });

  it.each([
    {
      name: 'missing Provider',
      input: input({ providers: [] }),
      kind: 'ModelRoute', object: 'chat',
      expected: { status: 'False', reason: 'ProviderNotFound', message: 'Provider default/openai not found' },
    },
    {
      name: 'missing Secret',
      input: input({ secrets: [] }),
      kind: 'Provider', object: 'openai',
      expected: { status: 'False', reason: 'SecretNotFound', message: 'Secret default/openai not found' },
    },
    {
      name: 'missing Secret key',
      input: input({ secrets: [{ ...secret, data: { other: 'x' } }] }),
      kind: 'Provider', object: 'openai',
      expected: { status: 'False', reason: 'SecretKeyNotFound', message: 'Secret default/openai has no key apiKey' },
    },
    {
      name: 'route to a provider whose Secret is missing',
      input: input({ secrets: [] }),
      kind: 'ModelRoute', object: 'chat',
      expected: { status: 'False', reason: 'ProviderNotReady', message: 'Provider default/openai is not usable: Secret default/openai not found' },
    },
    {
      name: 'model the provider does not serve',
      input: input({ routes: [route('chat', { model: 'chat', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-5' }] })] }),
      kind: 'ModelRoute', object: 'chat',
      expected: { status: 'False', reason: 'ModelNotServed', message: 'Provider default/openai does not serve model gpt-5 (it serves gpt-4o, gpt-4o-mini)' },
    },
    {
      name: 'cross-namespace reference without allowedRoutes',
      input: input({ routes: [route('chat', { model: 'chat', targets: [{ providerRef: { name: 'openai', namespace: 'default' }, model: 'gpt-4o' }] }, { namespace: 'team-a' })] }),
      kind: 'ModelRoute', object: 'chat', namespace: 'team-a',
      expected: {
        status: 'False',
        reason: 'RefNotPermitted',
        message: 'Provider default/openai does not allow routes from namespace team-a (allowedRoutes.namespaces.from: Same); set it to All, or to Selector with a selector namespace team-a matches',
      },
    },
  ])('ResolvedRefs=False for $name', ({ input: i, kind, object, namespace, expected }) => {
    const { statuses } = compile(i);
    expect(status(statuses, kind, object, namespace).ResolvedRefs).toMatchObject(expected);
  });

  it('keeps a route with unresolved targets in the snapshot so that its requests get a clear error', () => {
    const { snapshot } = compile(input({ providers: [] }));
    expect(snapshot.routes[0]).toMatchObject({ id: 'default/chat', targets: [], unresolved: ["ProviderNotFound (default/openai); the ModelRoute's ResolvedRefs condition says why"] });
    expect(snapshot.providers).toEqual([]);
  });

  it('allows cross-namespace references with allowedRoutes All and a matching Selector', () => {
    const shared = (from: Record<string, unknown>) =>
      provider('openai', { ...openai.spec, allowedRoutes: { namespaces: from } });
    const teamRoute = route('chat', { model: 'chat', targets: [{ providerRef: { name: 'openai', namespace: 'default' }, model: 'gpt-4o' }] }, { namespace: 'team-a' });
    const all = compile(input({ providers: [shared({ from: 'All' })], routes: [teamRoute] }));
    expect(status(all.statuses, 'ModelRoute', 'chat', 'team-a').ResolvedRefs?.status).toBe('True');

    const selector = shared({ from: 'Selector', selector: { matchLabels: { 'tollgate.dev/llm': 'allowed' } } });
    const matching = compile(input({ providers: [selector], routes: [teamRoute], namespaces: [{ name: 'team-a', labels: { 'tollgate.dev/llm': 'allowed' } }] }));
    expect(status(matching.statuses, 'ModelRoute', 'chat', 'team-a').ResolvedRefs?.status).toBe('True');
    const other = compile(input({ providers: [selector], routes: [teamRoute], namespaces: [{ name: 'team-a', labels: {} }] }));
    // The refusal names the label the selector wants and how to add it.
    expect(status(other.statuses, 'ModelRoute', 'chat', 'team-a').ResolvedRefs).toMatchObject({
      reason: 'RefNotPermitted',
      message:
        "Provider default/openai does not allow routes from namespace team-a: allowedRoutes.namespaces.selector wants the label(s) tollgate.dev/llm=allowed on the route's namespace; kubectl label namespace team-a tollgate.dev/llm=allowed",
    });
  });

  it("marks only platform namespaces' Provider labels as trusted for residency (every namespace's without platform namespaces)", () => {
    const labelled = (ns: string) => provider('eu', { type: 'mock', models: [{ name: 'm' }], allowedRoutes: { namespaces: { from: 'All' } } }, { namespace: ns, labels: { approved: 'true' } });
    const unlabelled = provider('plain', { type: 'mock', models: [{ name: 'm' }] }, { namespace: 'team-a' });
    const r = route('chat', { model: 'chat', targets: ['tollgate-system', 'team-a'].map((namespace) => ({ providerRef: { name: 'eu', namespace }, model: 'm' })).concat([{ providerRef: { name: 'plain', namespace: 'team-a' }, model: 'm' }]) }, { namespace: 'team-a' });
    const objects = input({ providers: [labelled('tollgate-system'), labelled('team-a'), unlabelled], routes: [r] });
    const trusted = (platformNamespaces?: string[]) =>
      compile({ ...objects, ...(platformNamespaces === undefined ? {} : { platformNamespaces }) }).snapshot.providers.map((p) => [p.id, p.labelsTrusted]);
    expect(trusted(['tollgate-system'])).toEqual([['team-a/eu', undefined], ['team-a/plain', undefined], ['tollgate-system/eu', true]]);
    expect(trusted()).toEqual([['team-a/eu', true], ['team-a/plain', undefined], ['tollgate-system/eu', true]]);
  });

  it('resolves a conflict on a public model name: the older route wins, the other is Conflicted', () => {
    const older = route('older', { model: 'chat', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }] }, { creationTimestamp: '2026-01-01T00:00:00Z' });
    const newer = route('a-newer', { model: 'chat', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o-mini' }] }, { creationTimestamp: '2026-02-01T00:00:00Z' });
    const { snapshot, statuses } = compile(input({ routes: [newer, older] }));
    expect(snapshot.routes.map((r) => r.id)).toEqual(['default/older']);
    expect(status(statuses, 'ModelRoute', 'older').Accepted?.status).toBe('True');
    expect(status(statuses, 'ModelRoute', 'a-newer').Accepted).toMatchObject({
      status: 'False',
      reason: 'Conflicted',
      message: 'public model chat is already served by ModelRoute default/older in the same namespace; rename spec.model or delete one of them',
    });
    // Losing a conflict is not being invalid: its references are still checked and reported.
    expect(status(statuses, 'ModelRoute', 'a-newer').ResolvedRefs).toMatchObject({ status: 'True', reason: 'ResolvedRefs' });
  });

  it('reports a route in another namespace that could never serve anyone as Conflicted, and keeps one that serves its own namespace', () => {
    const target = [{ providerRef: { name: 'openai', namespace: 'default' }, model: 'gpt-4o' }];
    const open = route('chat', { model: 'chat', targets: target, access: { namespaces: { from: 'All' } } }, { creationTimestamp: '2026-01-01T00:00:00Z' });
    const own = route('chat', { model: 'chat', targets: target }, { namespace: 'team-b', creationTimestamp: '2026-02-01T00:00:00Z' });
    // Admits only callers from team-c, whom the older route (open to all) always serves.
    const elsewhere = route('chat', { model: 'chat', targets: target, access: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'c' } } } } }, {
      namespace: 'team-d',
      creationTimestamp: '2026-03-01T00:00:00Z',
    });
    const shared = provider('openai', { ...openai.spec, allowedRoutes: { namespaces: { from: 'All' } } });
    const { snapshot, statuses } = compile(
      input({ providers: [shared], routes: [open, own, elsewhere], namespaces: [{ name: 'team-c', labels: { team: 'c' } }, { name: 'team-d', labels: {} }] }),
    );
    expect(snapshot.routes.map((r) => r.id)).toEqual(['default/chat', 'team-b/chat']);
    expect(status(statuses, 'ModelRoute', 'chat', 'team-b').Accepted?.status).toBe('True');
    expect(status(statuses, 'ModelRoute', 'chat', 'team-d').Accepted).toMatchObject({ status: 'False', reason: 'Conflicted' });
    expect(status(statuses, 'ModelRoute', 'chat', 'team-d').Accepted?.message).toContain('default/chat');
  });

  it('breaks a creation-time tie by namespace/name, and does not conflict across namespaces', () => {
    const a = route('a', { model: 'chat', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }] });
    const b = route('b', { model: 'chat', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }] });
    const elsewhere = route('c', { model: 'chat', targets: [{ providerRef: { name: 'x' }, model: 'y' }] }, { namespace: 'team-b' });
    const { statuses } = compile(input({ routes: [b, elsewhere, a] }));
    expect(status(statuses, 'ModelRoute', 'a').Accepted?.status).toBe('True');
    expect(status(statuses, 'ModelRoute', 'b').Accepted?.reason).toBe('Conflicted');
    expect(status(statuses, 'ModelRoute', 'c', 'team-b').Accepted?.status).toBe('True');
  });

  it('refuses provider types this build has no adapter for', () => {
    const bedrock = provider('bedrock', { type: 'bedrock' });
    const { statuses } = compile(input({ providers: [openai, bedrock] }));
    const accepted = status(statuses, 'Provider', 'bedrock').Accepted;
    // The provider-adapter work adds types; whichever are still missing must say so.
    if (accepted?.status === 'False') expect(accepted.reason).toBe('UnsupportedType');
    else expect(accepted?.status).toBe('True');
  });

  it('gives a hosted Provider without url its public endpoint, regional ones from their settings', () => {
    const hosted = [
      provider('anthropic', { type: 'anthropic' }),
      provider('gemini', { type: 'gemini' }),
      provider('bedrock', { type: 'bedrock' }),
      provider('bedrock-eu', { type: 'bedrock', bedrock: { region: 'eu-west-1' } }),
      provider('vertex', { type: 'vertex', vertex: { project: 'p', location: 'europe-west4' } }),
      provider('vertex-global', { type: 'vertex', vertex: { project: 'p', location: 'global' } }),
    ];
    const all = route('all', { model: 'all', targets: hosted.map((p) => ({ providerRef: { name: p.metadata.name }, model: 'm' })) });
    const { snapshot } = compile(input({ providers: [openai, ...hosted], routes: [chat, all] }));
    expect(Object.fromEntries(snapshot.providers.map((p) => [p.id, p.endpoints]))).toEqual({
      'default/openai': ['https://api.openai.com/v1'],
      'default/anthropic': ['https://api.anthropic.com'],
      'default/gemini': ['https://generativelanguage.googleapis.com'],
      'default/bedrock': ['https://bedrock-runtime.us-east-1.amazonaws.com'],
      'default/bedrock-eu': ['https://bedrock-runtime.eu-west-1.amazonaws.com'],
      'default/vertex': ['https://europe-west4-aiplatform.googleapis.com'],
      'default/vertex-global': ['https://aiplatform.googleapis.com'],
    });
  });

  it('resolves serviceRef providers to ready pod addresses only', () => {
    const vllm = provider('vllm', { type: 'vllm', serviceRef: { name: 'vllm', port: 8000 } });
    const r = route('local', { model: 'local', targets: [{ providerRef: { name: 'vllm' }, model: 'llama' }] });
    const endpoints = [
      { namespace: 'default', service: 'vllm', port: 8000, addresses: [{ ip: '10.0.0.2', port: 8080, ready: true }, { ip: '10.0.0.3', port: 8080, ready: false }, { ip: 'fd00::1', port: 8080, ready: true }] },
    ];
    const { snapshot, statuses } = compile(input({ providers: [vllm], routes: [r], endpoints }));
    expect(snapshot.providers[0]?.endpoints).toEqual(['http://10.0.0.2:8080/v1', 'http://[fd00::1]:8080/v1']);
    expect(statuses.find((s) => s.name === 'vllm')?.endpoints).toBe(2);
    // Named in the 503 a route gives when the Provider has no ready endpoints.
    expect(snapshot.providers[0]?.service).toBe('default/vllm port 8000');
    // An address listed twice (input not de-duplicated by the operator: tollgate dev, tests) is one pod, not two shares of picks.
    const twice = compile(input({ providers: [vllm], routes: [r], endpoints: [{ ...endpoints[0], addresses: [{ ip: '10.0.0.2', port: 8080, ready: true }, { ip: '10.0.0.2', port: 8080, ready: true }] }] as typeof endpoints }));
    expect(twice.snapshot.providers[0]?.endpoints).toEqual(['http://10.0.0.2:8080/v1']);
    expect(twice.statuses.find((s) => s.name === 'vllm')?.endpoints).toBe(1);
    const none = compile(input({ providers: [vllm], routes: [r], endpoints: [] }));
    expect(status(none.statuses, 'Provider', 'vllm').ResolvedRefs).toMatchObject({
      status: 'False',
      reason: 'ServiceNotFound',
      message: 'Service default/vllm not found: create it or fix spec.serviceRef.name',
    });
    // A Service that exists but has no ready endpoint says so, not "not found".
    const idle = compile(input({ providers: [vllm], routes: [r], endpoints: [{ ...endpoints[0], addresses: [{ ip: '10.0.0.3', port: 8080, ready: false }] }] as typeof endpoints }));
    expect(status(idle.statuses, 'Provider', 'vllm').ResolvedRefs).toMatchObject({
      reason: 'NoReadyEndpoints',
      message: "Service default/vllm port 8000 has no ready endpoints: 0 of 1 endpoints are ready (check the pods' readiness)",
    });
    const wrongPort = compile(input({ providers: [vllm], routes: [r], endpoints: [{ namespace: 'default', service: 'vllm', port: 8000, addresses: [], servicePorts: [80] }] }));
    expect(status(wrongPort.statuses, 'Provider', 'vllm').ResolvedRefs).toMatchObject({ reason: 'ServicePortNotFound', message: 'Service default/vllm has no port 8000 (its ports: 80): fix spec.serviceRef.port' });
    // Still routable, so that failover works and recovery needs no config change.
    expect(none.snapshot.providers[0]?.endpoints).toEqual([]);
  });

  it('checks Budget references to routes and downgrade targets', () => {
    const ok = budget('b', { limit: { amount: 10 }, subjects: { routes: [{ name: 'chat' }] } });
    const bad = budget('bad', { limit: { amount: 10 }, subjects: { namespaces: ['x'] }, action: { type: 'Downgrade', downgradeTo: 'cheap' } });
    const { statuses } = compile(input({ budgets: [ok, bad] }));
    expect(status(statuses, 'Budget', 'b').ResolvedRefs?.status).toBe('True');
    expect(status(statuses, 'Budget', 'bad').ResolvedRefs).toMatchObject({ status: 'False', reason: 'RouteNotFound' });
  });

  it('ships API keys from labelled Secrets as keyed hashes only (HMAC under the installation key), and compiles route access', () => {
    const key = { namespace: 'team-a', name: 'ci-key', data: { key: 'tg-secret-123' }, labels: { 'tollgate.dev/api-key': 'true', team: 'ci' } };
    const unlabelled = { namespace: 'team-a', name: 'other', data: { key: 'nope' } };
    const open = route('open', { model: 'open', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }], access: { anonymous: true, serviceAccounts: [{ namespace: 'x', name: 'y' }], apiKeys: { selector: { matchLabels: { team: 'ci' } } } } });
    const { snapshot } = compile(input({ secrets: [secret, key, unlabelled], routes: [chat, open], apiKeyHashKey: 'install-key' }));
    expect(snapshot.apiKeys).toEqual([{ hmacSha256: expect.any(SecretValue), namespace: 'team-a', name: 'ci-key', labels: { team: 'ci', 'tollgate.dev/api-key': 'true' } }]);
    expect(snapshot.apiKeys[0]?.hmacSha256.reveal()).toBe(createHmac('sha256', 'install-key').update('tg-secret-123').digest('hex'));
    expect(snapshot.apiKeys[0]?.hmacSha256.reveal()).not.toBe(createHash('sha256').update('tg-secret-123').digest('hex'));
    expect(snapshot.apiKeyHashKey?.reveal()).toBe('install-key');
    expect(wireJson(snapshot)).not.toContain('tg-secret-123');
    // Without the installation's key no API key compiles (a plain hash is never the fallback).
    expect(compile(input({ secrets: [secret, key] })).snapshot.apiKeys).toEqual([]);
    expect(snapshot.routes.find((r) => r.id === 'default/chat')?.access).toEqual({ anonymous: false, namespaces: { from: 'Same' }, serviceAccounts: [] });
    expect(snapshot.routes.find((r) => r.id === 'default/open')?.access).toEqual({
      anonymous: true,
      namespaces: { from: 'Same' },
      serviceAccounts: ['x/y'],
      apiKeySelector: { matchLabels: { team: 'ci' } },
    });
  });

  it('only ships providers that some route uses (credentials stay where they are needed)', () => {
    const unused = provider('unused', { type: 'openai-compatible', url: 'http://10.0.0.9/v1' });
    const { snapshot } = compile(input({ providers: [openai, unused] }));
    expect(snapshot.providers.map((p) => p.id)).toEqual(['default/openai']);
  });
});
