import { describe, expect, it } from 'vitest';
import { ModelRouteSchema } from '../../operator/api/model-route.js';
import { ProviderSchema } from '../../operator/api/provider.js';
import { compile } from '../../operator/compile/compile.js';
import { provider, route } from '../support/objects.js';

const secret = { namespace: 'default', name: 'k', data: { apiKey: 'sk-1' } };
const creds = { secretRef: { name: 'k', key: 'apiKey' } };
const cheap = provider('cheap', { type: 'openai', credentials: creds, models: [{ name: 'mini', contextWindow: 16000, pricing: { input: 0.1, output: 0.4 } }] });
const strong = provider(
  'strong',
  { type: 'openai', credentials: creds, models: [{ name: 'big', contextWindow: 128000 }], outlierDetection: { consecutiveFailures: 3, errorRate: { threshold: 0.5 }, baseEjectionTime: '10s' } },
  { labels: { approved: 'true', region: 'eu' } },
);
const ref = (name: string, model: string) => ({ providerRef: { name }, model });

const routeSpec = (rules: unknown[], extra: Record<string, unknown> = {}) => ({ model: 'chat', rules, ...extra });
const errorsOf = (spec: unknown): string[] => {
  const r = ModelRouteSchema.safeParse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'ModelRoute', metadata: { name: 'r', namespace: 'default' }, spec });
  return r.success ? [] : r.error.issues.map((i) => i.message);
};

describe('ModelRoute rules: validation (the same rules as the CRD CEL)', () => {
  const catchAll = { name: 'rest', targets: [ref('strong', 'big')] };
  const classify = { name: 'classify', when: { headers: [{ name: 'x-task-type', value: 'classification' }] }, targets: [ref('cheap', 'mini')] };
  it.each([
    [routeSpec([classify, catchAll]), []],
    [{ model: 'chat' }, ['set exactly one of targets and rules']],
    [routeSpec([catchAll], { targets: [ref('cheap', 'mini')] }), ['set exactly one of targets and rules']],
    [routeSpec([catchAll, classify]), ['the last rule must be a catch-all (no when)']],
    [routeSpec([classify]), ['the last rule must be a catch-all (no when)']],
    [routeSpec([catchAll, { ...catchAll, name: 'other' }]), ['only the last rule may be a catch-all (no when)']],
    [routeSpec([{ ...classify, name: 'rest' }, catchAll]), ['rule names must be unique']],
    [routeSpec([{ ...classify, when: {} }, catchAll]), ['when needs at least one condition; leave when out for a catch-all rule']],
    [routeSpec([{ ...classify, when: { promptTokens: { min: 10, max: 5 } } }, catchAll]), ['min must not exceed max']],
    [routeSpec([{ ...catchAll, targets: [{ ...ref('strong', 'big'), weight: 2 }] }]), ['target weights are only allowed in rules whose strategy is weighted']],
    [routeSpec([{ ...catchAll, strategy: 'weighted' }]), ['a rule with strategy weighted needs at least one target with a weight above 0']],
    [routeSpec([{ ...catchAll, name: 'Bad_Name' }]), ['must be a DNS label (lower-case letters, digits and -)']],
  ])('%j → %j', (spec, expected) => {
    expect(errorsOf(spec)).toEqual(expected);
  });

  it('refuses outlierDetection whose base cooldown exceeds the maximum', () => {
    const r = ProviderSchema.safeParse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'Provider', metadata: { name: 'p' }, spec: { type: 'openai', outlierDetection: { baseEjectionTime: '10m', maxEjectionTime: '1m' } } });
    expect(r.error?.issues.map((i) => i.message)).toEqual(['baseEjectionTime must not exceed maxEjectionTime']);
  });
});

describe('compile: rules, provider labels, outlier detection', () => {
  it('compiles rules into indexes over the route targets, with conditions normalised', () => {
    const r = route('chat', routeSpec([
      { name: 'classify', when: { headers: [{ name: 'X-Task-Type', value: 'classification' }], serviceAccounts: [{ namespace: 'b', name: 'x' }, { namespace: 'a', name: 'y' }], tools: false }, strategy: 'least-cost', targets: [ref('cheap', 'mini'), ref('strong', 'big')] },
      { name: 'regulated', when: { namespaceSelector: { matchLabels: { 'data-class': 'regulated' } } }, providerSelector: { matchLabels: { approved: 'true' } }, targets: [ref('strong', 'big')] },
      { name: 'rest', targets: [ref('strong', 'big'), ref('cheap', 'mini')] },
    ]));
    const { snapshot, statuses } = compile({ providers: [cheap, strong], routes: [r], budgets: [], secrets: [secret] });
    const config = snapshot.routes[0];
    expect(config?.targets.map((t) => `${t.providerId} ${t.model} ${t.contextWindow}`)).toEqual([
      'default/cheap mini 16000', 'default/strong big 128000', 'default/strong big 128000', 'default/strong big 128000', 'default/cheap mini 16000',
    ]);
    expect(config?.rules).toEqual([
      { name: 'classify', strategy: 'least-cost', targets: [0, 1], when: { headers: [{ name: 'x-task-type', value: 'classification', type: 'Exact' }], serviceAccounts: ['a/y', 'b/x'], tools: false } },
      { name: 'regulated', strategy: 'failover', targets: [2], when: { namespaceSelector: { matchLabels: { 'data-class': 'regulated' } } }, providerSelector: { matchLabels: { approved: 'true' } } },
      { name: 'rest', strategy: 'failover', targets: [3, 4] },
    ]);
    // strong's model has no prices: the route is accepted, and its Priced condition names it once (three rules name it).
    const conditions = statuses.find((s) => s.kind === 'ModelRoute')?.conditions;
    expect(conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'ResolvedRefs=True', 'Priced=False']);
    expect(conditions?.[2]).toMatchObject({ reason: 'Unpriced', message: expect.stringContaining('charged $0 (USD Budgets never count them): default/strong big;') as unknown });
    const strongConfig = snapshot.providers.find((p) => p.id === 'default/strong');
    expect(strongConfig?.labels).toEqual({ approved: 'true', region: 'eu' });
    expect(strongConfig?.outlierDetection).toEqual({ consecutiveFailures: 3, errorRateThreshold: 0.5, errorRateMinRequests: 20, windowMs: 30000, baseEjectionMs: 10000, maxEjectionMs: 300000 });
    expect(snapshot.providers.find((p) => p.id === 'default/cheap')?.labels).toBeUndefined();
  });

  it('names the rule of an unresolved target and keeps the others', () => {
    const r = route('chat', routeSpec([{ name: 'only', targets: [ref('missing', 'x'), ref('cheap', 'mini')] }]));
    const { snapshot, statuses } = compile({ providers: [cheap], routes: [r], budgets: [], secrets: [secret] });
    expect(snapshot.routes[0]?.rules).toEqual([{ name: 'only', strategy: 'failover', targets: [0] }]);
    expect(snapshot.routes[0]?.unresolved).toEqual(["rule only: ProviderNotFound (default/missing); the ModelRoute's ResolvedRefs condition says why"]);
    expect(statuses.find((s) => s.kind === 'ModelRoute')?.conditions[1]).toMatchObject({ status: 'False', reason: 'ProviderNotFound' });
  });

  it('a route with targets only compiles as before (no rules field)', () => {
    const r = route('chat', { model: 'chat', targets: [ref('cheap', 'mini')] });
    expect(compile({ providers: [cheap], routes: [r], budgets: [], secrets: [secret] }).snapshot.routes[0]?.rules).toBeUndefined();
  });
});
