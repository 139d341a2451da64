import { describe, expect, it } from 'vitest';
import { budget, guardrail, provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import type { CompileInput, CompileResult } from './types.js';

// What team-b's objects' statuses (and so their Events) may tell team-b about team-a: nothing it
// could not learn by calling the gateway. The tenancy audit's repros /tmp/tenancy/t1 and /tmp/tenancy/leak.
const openai = provider('openai', { type: 'openai-compatible', url: 'http://127.0.0.1:9/v1', models: [{ name: 'gpt-4o', pricing: { input: 1, output: 2 } }] }, { namespace: 'team-a' });
const gold = provider(
  'sel',
  { type: 'openai', allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'secret-tier': 'gold-7731' } } } }, models: [{ name: 'gpt-4o', pricing: { input: 1, output: 2 } }] },
  { namespace: 'team-a' },
);
const claude = provider('claude', { type: 'anthropic', url: 'http://127.0.0.1:9/v1', models: [{ name: 'c' }] }, { namespace: 'team-a' });
const aChat = route('a-chat', { model: 'a-chat', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }] }, { namespace: 'team-a' });
const aSecret = route('secret', { model: 'some-secret-project-model', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }] }, { namespace: 'team-a' });
const aOpen = route('open', { model: 'open-model', access: { namespaces: { from: 'All' } }, targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }] }, { namespace: 'team-a' });

const ref = (name: string) => ({ providerRef: { name, namespace: 'team-a' }, model: 'gpt-4o' });
const moderation = (rule: string, name: string) => ({ name: rule, phase: 'Request', action: 'Block', detector: { moderation: { providerRef: { name, namespace: 'team-a' }, timeout: '1s', failureMode: 'Open' } } });

function world(extra: Partial<CompileInput>): CompileResult {
  return compile({
    providers: [openai, gold, claude],
    routes: [aChat, aSecret, aOpen, ...(extra.routes ?? [])],
    budgets: extra.budgets ?? [],
    guardrails: extra.guardrails ?? [],
    secrets: [],
    namespaces: [{ name: 'team-a', labels: {} }, { name: 'team-b', labels: {} }],
    platformNamespaces: ['tollgate-system'],
  });
}
const resolved = (r: CompileResult, kind: string, ns: string, name: string) =>
  r.statuses.find((s) => s.kind === kind && s.namespace === ns && s.name === name)?.conditions.find((c) => c.type === 'ResolvedRefs');
/** The message with the Provider's and rule's names taken out: what is left must be the same for each. */
const shape = (message: string | undefined, names: string[]) => names.reduce((m, n) => m.replaceAll(n, '<name>'), message ?? '');

describe("a tenant's statuses tell nothing of another tenant's configuration", () => {
  it("a route's target in another namespace: the same answer whether the Provider is absent or refuses, and not its selector", () => {
    const one = (name: string) => world({ routes: [route('steal', { model: 'steal', targets: [ref(name)] }, { namespace: 'team-b' })] });
    const [absent, same, selector] = ['nosuch', 'openai', 'sel'].map((n) => resolved(one(n), 'ModelRoute', 'team-b', 'steal'));
    expect(selector?.message).not.toMatch(/secret-tier|gold-7731|Selector|kubectl label/);
    expect(new Set([absent, same, selector].map((c) => c?.reason))).toEqual(new Set(['RefNotPermitted']));
    expect(shape(absent?.message, ['nosuch'])).toBe(shape(selector?.message, ['sel']));
    expect(shape(absent?.message, ['nosuch'])).toBe(shape(same?.message, ['openai']));
    expect(selector?.message).toMatch(/not found, or it does not admit namespace team-b/);
  });

  it("a moderation Provider in another namespace: neither its type nor its existence", () => {
    const r = world({ guardrails: [guardrail('probe', { subjects: { namespaces: ['team-b'] }, rules: [moderation('m', 'claude'), moderation('n', 'absent')] }, { namespace: 'team-b' })] });
    const c = resolved(r, 'GuardrailPolicy', 'team-b', 'probe');
    expect(c?.message).not.toMatch(/anthropic|of type/);
    expect(c?.reason).toBe('RefNotPermitted');
    const [m, n] = (c?.message ?? '').split('; ');
    expect(shape(m, ['rule m', 'claude'])).toBe(shape(n, ['rule n', 'absent']));
  });

  it("another namespace's routes named as subjects: whether they exist is not said", () => {
    const subjects = { namespaces: ['team-b'], routes: [{ name: 'a-chat', namespace: 'team-a' }, { name: 'nope', namespace: 'team-a' }] };
    const r = world({
      budgets: [budget('b', { limit: { amount: 1, unit: 'USD' }, period: 'Day', subjects }, { namespace: 'team-b' })],
      guardrails: [guardrail('g', { subjects, rules: [{ name: 'd', phase: 'Request', action: 'Block', detector: { denyList: { phrases: ['x'] } } }] }, { namespace: 'team-b' })],
    });
    for (const [kind, name] of [['Budget', 'b'], ['GuardrailPolicy', 'g']] as const) {
      const c = resolved(r, kind, 'team-b', name);
      expect(c?.reason).toBe('RefNotPermitted');
      expect(c?.message).not.toMatch(/not found/);
      expect(c?.message).toMatch(/not applied to ModelRoute team-a\/a-chat, ModelRoute team-a\/nope/);
    }
  });

  it("a Budget's downgrade: only the models its namespace's callers may use are checked", () => {
    const cap = (to: string) => budget(`to-${to}`, { limit: { amount: 1, unit: 'USD' }, period: 'Day', subjects: { namespaces: ['team-b'] }, action: { type: 'Downgrade', downgradeTo: to } }, { namespace: 'team-b' });
    const r = world({ budgets: [cap('some-secret-project-model'), cap('no-such-model'), cap('open-model')] });
    const secret = resolved(r, 'Budget', 'team-b', 'to-some-secret-project-model');
    const none = resolved(r, 'Budget', 'team-b', 'to-no-such-model');
    expect(shape(secret?.message, ['some-secret-project-model'])).toBe(shape(none?.message, ['no-such-model']));
    expect(resolved(r, 'Budget', 'team-b', 'to-open-model')?.status).toBe('True');
    const actions = Object.fromEntries(r.snapshot.budgets.map((b) => [b.id, b.action.type]));
    expect(actions).toEqual({ 'team-b/to-some-secret-project-model': 'Reject', 'team-b/to-no-such-model': 'Reject', 'team-b/to-open-model': 'Downgrade' });
  });

  it("the platform's own objects still say why: the selector's labels, and that a Provider refuses it", () => {
    const r = world({
      routes: [route('p', { model: 'p', targets: [ref('sel')] }, { namespace: 'tollgate-system' })],
      guardrails: [guardrail('g', { subjects: { namespaces: ['tollgate-system'] }, rules: [moderation('m', 'claude')] }, { namespace: 'tollgate-system' })],
    });
    expect(resolved(r, 'ModelRoute', 'tollgate-system', 'p')?.message).toMatch(/selector wants the label\(s\) secret-tier=gold-7731/);
    expect(resolved(r, 'GuardrailPolicy', 'tollgate-system', 'g')?.message).toMatch(/does not admit namespace tollgate-system/);
  });
});
