import { describe, expect, it } from 'vitest';
import type { RuntimeProvider } from '../../runtime/runtime-snapshot.js';
import type { OutlierDetectionConfig, RouteConfig, RuleConfig, TargetConfig } from '../../config/snapshot.js';
import { ANONYMOUS, type Caller } from '../../core/caller.js';
import type { JsonObject } from '../../core/canonical.js';
import { GatewayError } from '../../core/gateway-error.js';
import { TargetHealth } from '../health/target-health.js';
import { TargetStats } from '../target-stats.js';
import { requestFeatures } from '../../runtime/request-features.js';
import { type DecisionRequest, decideRoute } from './route-decision.js';
import { compileRules, firstMatchingRule, type RuleInput } from '../../runtime/rule-matcher.js';

const pricing = { inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: 1 };
const t = (providerId: string, model: string, extra: Partial<TargetConfig> = {}): TargetConfig => ({ providerId, model, priority: 0, weight: 1, pricing, ...extra });

function route(targets: TargetConfig[], rules?: RuleConfig[]): RouteConfig {
  return {
    id: 'ns/r', namespace: 'ns', model: 'chat', created: 0, matches: [], strategy: 'failover', targets, unresolved: [],
    ...(rules === undefined ? {} : { rules }),
    retry: { attempts: 1, on: [], initialBackoffMs: 1, maxBackoffMs: 1, maxRetryAfterMs: 1 },
    fallbackOn: ['ServerError'], timeouts: { totalMs: 1000, streamIdleMs: 1000 },
    access: { anonymous: true, namespaces: { from: 'Same' }, serviceAccounts: [], apiKeyNamespaces: ['partners'] },
  };
}

const sa: Caller = { kind: 'serviceaccount', namespace: 'finance', name: 'batch', id: 'sa:finance/batch' };
const key: Caller = { kind: 'apikey', namespace: 'partners', name: 'acme', labels: { tier: 'gold' }, id: 'key:partners/acme' };
const chatBody = (extra: JsonObject = {}): JsonObject => ({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...extra });

function input(over: { headers?: Record<string, string>; caller?: Caller; labels?: Record<string, string>; body?: JsonObject; stream?: boolean; prompt?: number } = {}): RuleInput {
  const headers = over.headers ?? {};
  return {
    header: (name) => headers[name],
    caller: over.caller ?? ANONYMOUS,
    namespaceLabels: over.labels ?? {},
    features: requestFeatures(over.body ?? chatBody(), over.stream ?? false, over.prompt ?? 10),
  };
}

const image = { role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }] };

describe('rule conditions', () => {
  const cases: { name: string; when: NonNullable<RuleConfig['when']>; yes: RuleInput; no: RuleInput }[] = [
    { name: 'header exact', when: { headers: [{ name: 'x-task-type', value: 'classification', type: 'Exact' }] }, yes: input({ headers: { 'x-task-type': 'classification' } }), no: input({ headers: { 'x-task-type': 'summary' } }) },
    { name: 'header regex', when: { headers: [{ name: 'x-task-type', value: 'class.*', type: 'RegularExpression' }] }, yes: input({ headers: { 'x-task-type': 'classify' } }), no: input() },
    { name: 'namespaces', when: { namespaces: ['finance'] }, yes: input({ caller: sa }), no: input({ caller: key }) },
    { name: 'serviceAccounts', when: { serviceAccounts: ['finance/batch'] }, yes: input({ caller: sa }), no: input({ caller: { ...sa, name: 'web', id: 'sa:finance/web' } }) },
    { name: 'namespaceSelector', when: { namespaceSelector: { matchLabels: { 'data-class': 'regulated' } } }, yes: input({ caller: sa, labels: { 'data-class': 'regulated' } }), no: input({ caller: sa, labels: {} }) },
    { name: 'namespaceSelector needs a namespace', when: { namespaceSelector: {} }, yes: input({ caller: sa }), no: input() },
    { name: 'apiKeySelector', when: { apiKeySelector: { matchLabels: { tier: 'gold' } } }, yes: input({ caller: key }), no: input({ caller: sa }) },
    // The same labels on a key of a namespace the route does not trust (access.apiKeys.namespaces).
    { name: 'apiKeySelector, trusted namespaces only', when: { apiKeySelector: { matchLabels: { tier: 'gold' } } }, yes: input({ caller: key }), no: input({ caller: { ...key, namespace: 'elsewhere', id: 'key:elsewhere/acme' } }) },
    { name: 'promptTokens', when: { promptTokens: { min: 1000 } }, yes: input({ prompt: 1000 }), no: input({ prompt: 999 }) },
    { name: 'maxTokens max', when: { maxTokens: { max: 256 } }, yes: input({ body: chatBody({ max_tokens: 256 }) }), no: input() },
    { name: 'maxTokens min, no cap = unbounded', when: { maxTokens: { min: 4000 } }, yes: input(), no: input({ body: chatBody({ max_completion_tokens: 100 }) }) },
    { name: 'tools', when: { tools: true }, yes: input({ body: chatBody({ tools: [{ type: 'function', function: { name: 'f' } }] }) }), no: input({ body: chatBody({ tools: [] }) }) },
    { name: 'no tools', when: { tools: false }, yes: input(), no: input({ body: chatBody({ functions: [{ name: 'f' }] }) }) },
    { name: 'images', when: { images: true }, yes: input({ body: chatBody({ messages: [image] }) }), no: input() },
    { name: 'jsonSchema', when: { jsonSchema: true }, yes: input({ body: chatBody({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }) }), no: input({ body: chatBody({ response_format: { type: 'json_object' } }) }) },
    { name: 'stream', when: { stream: true }, yes: input({ stream: true }), no: input() },
    { name: 'all conditions must hold', when: { stream: true, namespaces: ['finance'] }, yes: input({ stream: true, caller: sa }), no: input({ stream: true }) },
  ];
  it.each(cases)('$name', ({ when, yes, no }) => {
    const [rule] = compileRules(route([t('ns/a', 'a')], [{ name: 'r', when, strategy: 'failover', targets: [0] }]));
    expect(rule?.matches(yes)).toBe(true);
    expect(rule?.matches(no)).toBe(false);
  });

  it('evaluates rules in order; the first that holds wins, the catch-all takes the rest', () => {
    const rules = compileRules(
      route([t('ns/a', 'cheap'), t('ns/b', 'tools'), t('ns/c', 'strong')], [
        { name: 'classification', when: { headers: [{ name: 'x-task-type', value: 'classification', type: 'Exact' }] }, strategy: 'failover', targets: [0] },
        { name: 'tools', when: { tools: true }, strategy: 'failover', targets: [1] },
        { name: 'fallback', strategy: 'failover', targets: [2] },
      ]),
    );
    const withTools = chatBody({ tools: [{ type: 'function', function: { name: 'f' } }] });
    expect(firstMatchingRule(rules, input({ headers: { 'x-task-type': 'classification' }, body: withTools }))?.name).toBe('classification');
    expect(firstMatchingRule(rules, input({ body: withTools }))?.name).toBe('tools');
    expect(firstMatchingRule(rules, input())?.name).toBe('fallback');
    expect(rules.map((r) => r.targets.map((x) => x.model))).toEqual([['cheap'], ['tools'], ['strong']]);
  });

  it('a route without rules has one catch-all rule named default over all its targets', () => {
    const rules = compileRules(route([t('ns/a', 'a'), t('ns/b', 'b')]));
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ name: 'default', catchAll: true, strategy: 'failover' });
    expect(rules[0]?.targets.map((x) => x.model)).toEqual(['a', 'b']);
  });

  it('refuses a bad regular expression when the snapshot is built', () => {
    expect(() => compileRules(route([t('ns/a', 'a')], [{ name: 'r', when: { headers: [{ name: 'x', value: '(', type: 'RegularExpression' }] }, strategy: 'failover', targets: [0] }]))).toThrow();
  });
});

/** Providers by id with their labels, the platform's (trusted for residency) unless listed in `tenants`. */
function providers(labels: Record<string, Record<string, string>>, outlier?: OutlierDetectionConfig, tenants: readonly string[] = []): Map<string, RuntimeProvider> {
  const m = new Map<string, RuntimeProvider>();
  for (const [id, l] of Object.entries(labels)) {
    const trusted = tenants.includes(id) ? {} : { labelsTrusted: true };
    m.set(id, { config: { id, type: 'mock', endpoints: [], headers: {}, connectTimeoutMs: 1, labels: l, ...trusted, ...(outlier ? { outlierDetection: outlier } : {}) } } as unknown as RuntimeProvider);
  }
  return m;
}

function decide(r: RouteConfig, req: Partial<DecisionRequest>, provs = providers({ 'ns/a': {}, 'ns/b': {}, 'ns/c': {} }), health = new TargetHealth()) {
  return decideRoute(r, compileRules(r), {
    caller: ANONYMOUS, header: () => undefined, namespaces: {}, body: chatBody(), stream: false, promptTokens: 10, ...req,
  }, { providers: provs, stats: new TargetStats(), health, random: () => 0.5 });
}

function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('context-window guard', () => {
  const r = route([t('ns/a', 'small', { contextWindow: 8000 }), t('ns/b', 'large', { contextWindow: 128000, priority: 1 }), t('ns/c', 'unknown', { priority: 2 })]);
  it.each([
    { prompt: 100, max: undefined, expected: ['small', 'large', 'unknown'], skipped: [] },
    { prompt: 7000, max: 1000, expected: ['small', 'large', 'unknown'], skipped: [] },
    { prompt: 7000, max: 1001, expected: ['large', 'unknown'], skipped: ['small'] },
    { prompt: 60000, max: undefined, expected: ['large', 'unknown'], skipped: ['small'] },
    { prompt: 200000, max: 10, expected: ['unknown'], skipped: ['small', 'large'] },
  ])('prompt $prompt + max_tokens $max → $expected', ({ prompt, max, expected, skipped }) => {
    const d = decide(r, { promptTokens: prompt, body: chatBody(max === undefined ? {} : { max_tokens: max }) });
    expect(d.candidates.map((x) => x.model)).toEqual(expected);
    expect(d.skipped.map((s) => [s.model, s.reason])).toEqual(skipped.map((m) => [m, 'context-window']));
  });

  it('answers 400 context_length_exceeded when no target fits', () => {
    const small = route([t('ns/a', 'small', { contextWindow: 8000 })]);
    const e = thrown(() => decide(small, { promptTokens: 9000 }));
    expect(e.status).toBe(400);
    expect(e.code).toBe('context_length_exceeded');
  });
});

describe('namespace labels from the snapshot', () => {
  // `constructor` is a valid namespace name: one the snapshot has no labels for has none, not Object.prototype's.
  it('reads a namespace the snapshot has no labels for as unlabelled, whatever its name', () => {
    const r = route([t('ns/a', 'unlabelled'), t('ns/b', 'other')], [
      { name: 'unlabelled', when: { namespaceSelector: { matchExpressions: [{ key: 'name', operator: 'DoesNotExist' }] } }, strategy: 'failover', targets: [0] },
      { name: 'rest', strategy: 'failover', targets: [1] },
    ]);
    const caller = (namespace: string): Caller => ({ kind: 'serviceaccount', namespace, name: 'app', id: `sa:${namespace}/app` });
    expect(decide(r, { caller: caller('team-b') }).rule).toBe('unlabelled');
    expect(decide(r, { caller: caller('constructor') }).rule).toBe('unlabelled');
  });
});

describe('residency', () => {
  const r = route([t('ns/a', 'public'), t('ns/b', 'approved', { priority: 1 })]);
  const provs = providers({ 'ns/a': { region: 'us' }, 'ns/b': { approved: 'true', region: 'eu' } });
  const regulated = { finance: { 'require.tollgate.dev/approved': 'true' } };

  it('a namespace label require.tollgate.dev/<key> keeps its callers on providers labelled <key>', () => {
    const d = decide(r, { caller: sa, namespaces: regulated }, provs);
    expect(d.candidates.map((x) => x.model)).toEqual(['approved']);
    expect(d.skipped).toEqual([{ providerId: 'ns/a', model: 'public', reason: 'residency', detail: 'namespace finance requires providers labelled approved=true' }]);
    expect(d.excludedBy).toEqual(['namespace finance requires providers labelled approved=true']);
    expect(decide(r, { caller: sa }, provs).candidates).toHaveLength(2);
  });

  it('API key labels require the same way', () => {
    const d = decide(r, { caller: { ...key, labels: { 'require.tollgate.dev/region': 'eu' } } }, provs);
    expect(d.candidates.map((x) => x.model)).toEqual(['approved']);
    expect(d.excludedBy[0]).toMatch(/API key partners\/acme requires providers labelled region=eu/);
  });

  it('a rule providerSelector restricts its targets', () => {
    const rr = route(r.targets, [{ name: 'eu-only', strategy: 'failover', targets: [0, 1], providerSelector: { matchLabels: { region: 'eu' } } }]);
    expect(decide(rr, {}, provs).candidates.map((x) => x.model)).toEqual(['approved']);
  });

  it('403 naming the policy when no target is allowed', () => {
    const e = thrown(() => decide(route([t('ns/a', 'public')]), { caller: sa, namespaces: regulated }, provs));
    expect(e.status).toBe(403);
    expect(e.code).toBe('residency_denied');
    expect(e.message).toMatch(/namespace finance requires providers labelled approved=true/);
  });

  it("a tenant's own labels never satisfy a namespace's or API key's requirement; its route's providerSelector still sees them", () => {
    // ns/b is a tenant's Provider that labelled itself approved=true: before, that was enough.
    const selfLabelled = providers({ 'ns/a': { region: 'us' }, 'ns/b': { approved: 'true', region: 'eu' } }, undefined, ['ns/b']);
    const e = thrown(() => decide(r, { caller: sa, namespaces: regulated }, selfLabelled));
    expect(e.code).toBe('residency_denied');
    expect(e.message).toMatch(/namespace finance requires providers labelled approved=true/);
    const euKey = thrown(() => decide(r, { caller: { ...key, labels: { 'require.tollgate.dev/region': 'eu' } } }, selfLabelled));
    expect(euKey.code).toBe('residency_denied');
    const rr = route(r.targets, [{ name: 'eu-only', strategy: 'failover', targets: [0, 1], providerSelector: { matchLabels: { region: 'eu' } } }]);
    expect(decide(rr, {}, selfLabelled).candidates.map((x) => x.model)).toEqual(['approved']);
  });

  it("holds an anonymous caller to the requirements of the route's namespace", () => {
    // The route ns/r lives in namespace ns; before, an anonymous caller had no namespace and no requirement.
    const d = decide(r, { caller: ANONYMOUS, namespaces: { ns: { 'require.tollgate.dev/approved': 'true' } } }, provs);
    expect(d.candidates.map((x) => x.model)).toEqual(['approved']);
    expect(d.excludedBy).toEqual(['namespace ns requires providers labelled approved=true']);
    const bad = thrown(() => decide(route([t('ns/a', 'public')]), { caller: { ...ANONYMOUS, invalidCredential: 'unknown key' }, namespaces: { ns: { 'require.tollgate.dev/approved': 'true' } } }, provs));
    expect(bad.code).toBe('residency_denied');
    // An identified caller from elsewhere is held to its own namespace's requirements, not the route's.
    expect(decide(r, { caller: key, namespaces: { ns: { 'require.tollgate.dev/approved': 'true' } } }, provs).candidates).toHaveLength(2);
  });
});

describe('passive health in the decision', () => {
  const outlier: OutlierDetectionConfig = { consecutiveFailures: 1, errorRateMinRequests: 1, windowMs: 1000, baseEjectionMs: 1000, maxEjectionMs: 1000 };
  it('skips an ejected target, and tries all when every one is ejected (panic)', () => {
    const r = route([t('ns/a', 'a'), t('ns/b', 'b', { priority: 1 })]);
    const provs = providers({ 'ns/a': {}, 'ns/b': {} }, outlier);
    const health = new TargetHealth();
    health.failure(t('ns/a', 'a'), outlier);
    const d = decide(r, {}, provs, health);
    expect(d.candidates.map((x) => x.model)).toEqual(['b']);
    expect(d.skipped[0]).toMatchObject({ model: 'a', reason: 'ejected' });
    health.failure(t('ns/b', 'b'), outlier);
    const all = decide(r, {}, provs, health);
    expect(all.panic).toBe(true);
    expect(all.candidates.map((x) => x.model)).toEqual(['a', 'b']);
  });
});

describe('every check in one decision', () => {
  it('keeps the skipped targets in check order (residency, capability, context window, health) and the rest as candidates', () => {
    const outlier: OutlierDetectionConfig = { consecutiveFailures: 1, errorRateMinRequests: 1, windowMs: 1000, baseEjectionMs: 1000, maxEjectionMs: 1000 };
    const r = route([
      t('ns/a', 'us'),
      t('ns/b', 'no-tools', { priority: 1, lacks: ['tools'] }),
      t('ns/c', 'small', { priority: 2, contextWindow: 50 }),
      t('ns/d', 'ejected', { priority: 3 }),
      t('ns/e', 'ok', { priority: 4 }),
      t('ns/f', 'ok-too', { priority: 5 }),
    ]);
    const eu = { region: 'eu' };
    const provs = providers({ 'ns/a': { region: 'us' }, 'ns/b': eu, 'ns/c': eu, 'ns/d': eu, 'ns/e': eu, 'ns/f': eu }, outlier);
    const health = new TargetHealth();
    health.failure(t('ns/d', 'ejected', { priority: 3 }), outlier);
    const body = chatBody({ tools: [{ type: 'function', function: { name: 'f' } }] });
    const d = decide(r, { caller: sa, namespaces: { finance: { 'require.tollgate.dev/region': 'eu' } }, body, promptTokens: 100 }, provs, health);
    expect(d.candidates.map((x) => x.model)).toEqual(['ok', 'ok-too']);
    expect(d.skipped.map((s) => [s.model, s.reason])).toEqual([['us', 'residency'], ['no-tools', 'capability'], ['small', 'context-window'], ['ejected', 'ejected']]);
    expect(d.excludedBy).toEqual(['namespace finance requires providers labelled region=eu']);
    expect(d.panic).toBe(false);
    // Nothing dropped: the candidates are still a list of their own, not the rule's targets.
    const plain = decide(r, {}, provs);
    expect(plain.candidates.map((x) => x.model)).toEqual(['us', 'no-tools', 'small', 'ejected', 'ok', 'ok-too']);
    expect(plain.candidates).not.toBe(r.targets);
    expect(plain.skipped).toEqual([]);
  });
});
