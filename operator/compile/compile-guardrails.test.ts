import { describe, expect, it } from 'vitest';
import { GuardrailPolicySchema } from '../api/guardrail-policy.js';
import { guardrail, provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import type { CompileInput } from './types.js';

const mock = provider('p', { type: 'mock' });
const openai = provider('mod', { type: 'openai-compatible', url: 'http://127.0.0.1:9/v1' });
const claude = provider('claude', { type: 'anthropic', credentials: { secretRef: { name: 's', key: 'k' } } });
const chat = route('chat', { model: 'chat', targets: [{ providerRef: { name: 'p' }, model: 'm' }] });
const subjects = { routes: [{ name: 'chat' }] };
/** Service default/guard port 8080 with one ready pod, as the operator resolves it. */
const guardService = { namespace: 'default', service: 'guard', port: 8080, addresses: [{ ip: '10.0.0.7', port: 9090, ready: true }] };
const input = (...guardrails: ReturnType<typeof guardrail>[]): CompileInput => ({ providers: [mock, openai, claude], routes: [chat], budgets: [], guardrails, secrets: [], endpoints: [guardService] });
const cond = (statuses: ReturnType<typeof compile>['statuses'], name: string, type: string) =>
  statuses.find((s) => s.kind === 'GuardrailPolicy' && s.name === name)?.conditions.find((c) => c.type === type);

const parse = (spec: unknown) => GuardrailPolicySchema.safeParse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'GuardrailPolicy', metadata: { name: 'g' }, spec });
const messages = (r: ReturnType<typeof parse>): string[] => (r.success ? [] : r.error.issues.map((i) => i.message));

describe('GuardrailPolicy schema', () => {
  const rule = { name: 'r', phase: 'Request', action: 'Block' };
  it.each([
    [{ subjects, rules: [{ ...rule, detector: {} }] }, 'detector needs exactly one of builtin, patterns, denyList, maxPromptTokens, webhook, moderation'],
    [{ subjects, rules: [{ ...rule, detector: { builtin: ['Email'], maxPromptTokens: 5 } }] }, 'detector needs exactly one of builtin, patterns, denyList, maxPromptTokens, webhook, moderation'],
    [{ subjects, rules: [{ ...rule, action: 'Mask', detector: { maxPromptTokens: 5 } }] }, 'action Mask needs a detector that finds spans (builtin, patterns, denyList or webhook)'],
    [{ subjects, rules: [{ ...rule, phase: 'Response', detector: { maxPromptTokens: 5 } }] }, 'maxPromptTokens is only allowed in phase Request'],
    [{ subjects, rules: [{ ...rule, detector: { webhook: { url: 'http://x/', timeout: '1s', serviceRef: { name: 's', port: 80 } } } }] }, 'webhook needs exactly one of url and serviceRef'],
    [{ subjects, rules: [{ ...rule, detector: { webhook: { url: 'http://x/', timeout: '1m' } } }] }, 'webhook timeout must be at most 30s'],
    [{ subjects, rules: [rule, rule].map((r) => ({ ...r, detector: { builtin: ['Email'] } })) }, 'rule name r is used more than once'],
    [{ subjects: {}, rules: [{ ...rule, detector: { builtin: ['Email'] } }] }, 'subjects must name at least one namespace, serviceAccount, apiKey or route'],
  ])('refuses %j', (spec, message) => {
    expect(messages(parse(spec))).toContain(message);
  });

  it('refuses an unknown detector and a webhook without a timeout, naming the field', () => {
    const unknown = parse({ subjects, rules: [{ ...rule, detector: { builtin: ['Passport'] } }] });
    expect(unknown.error?.issues[0]?.path).toEqual(['spec', 'rules', 0, 'detector', 'builtin', 0]);
    const noTimeout = parse({ subjects, rules: [{ ...rule, detector: { webhook: { url: 'http://x/' } } }] });
    expect(noTimeout.error?.issues[0]?.path).toEqual(['spec', 'rules', 0, 'detector', 'webhook', 'timeout']);
  });

  it('defaults failureMode to Closed and the stream window to 128 characters', () => {
    const r = parse({ subjects, rules: [{ ...rule, detector: { webhook: { url: 'http://x/', timeout: '500ms' } } }] });
    expect(r.data?.spec.rules[0]?.detector.webhook?.failureMode).toBe('Closed');
    expect(r.data?.spec.streaming.holdBackChars).toBe(128);
  });

  it('defaults uninspectedEndpoints to Refuse, takes Allow and refuses anything else', () => {
    const spec = { subjects, rules: [{ ...rule, detector: { builtin: ['Email'] } }] };
    expect(parse(spec).data?.spec.uninspectedEndpoints).toBe('Refuse');
    expect(parse({ ...spec, uninspectedEndpoints: 'Allow' }).data?.spec.uninspectedEndpoints).toBe('Allow');
    expect(parse({ ...spec, uninspectedEndpoints: 'Skip' }).error?.issues[0]?.path).toEqual(['spec', 'uninspectedEndpoints']);
  });
});

describe('compile: GuardrailPolicy', () => {
  it('compiles rules in order into the snapshot, a Service webhook by its cluster DNS name', () => {
    const g = guardrail('g', {
      subjects,
      rules: [
        { name: 'cards', phase: 'Request', action: 'Block', detector: { builtin: ['PaymentCard'] } },
        { name: 'hook', phase: 'Response', action: 'Monitor', detector: { webhook: { serviceRef: { name: 'guard', port: 8080, path: '/check' }, timeout: '250ms' } } },
        { name: 'mod', phase: 'Request', action: 'Block', detector: { moderation: { providerRef: { name: 'mod' } } } },
      ],
    });
    const { snapshot, statuses } = compile(input(g));
    expect(snapshot.guardrails?.[0]).toEqual({
      id: 'default/g',
      subjects: { namespaces: [], serviceAccounts: [], apiKeys: [], routes: ['default/chat'] },
      holdBackChars: 128,
      rules: [
        { name: 'cards', phase: 'Request', action: 'Block', detector: { kind: 'builtin', names: ['PaymentCard'] } },
        { name: 'hook', phase: 'Response', action: 'Monitor', detector: { kind: 'webhook', url: 'http://guard.default.svc:8080/check', timeoutMs: 250, failureMode: 'Closed' } },
        { name: 'mod', phase: 'Request', action: 'Block', detector: { kind: 'moderation', providerId: 'default/mod', model: 'omni-moderation-latest', timeoutMs: 5000, failureMode: 'Closed' } },
      ],
    });
    // The moderation Provider travels in the snapshot though no route targets it.
    expect(snapshot.providers.map((p) => p.id)).toContain('default/mod');
    expect(cond(statuses, 'g', 'Accepted')?.status).toBe('True');
    expect(cond(statuses, 'g', 'ResolvedRefs')?.status).toBe('True');
  });

  it('refuses a policy whose patterns are too complex together alone, naming the field; the rest of the snapshot is published', () => {
    // Each pattern passes on its own (RE2 program size 1202 ≤ 2048); together they exceed 8192.
    const patterns = Array.from({ length: 7 }, (_, i) => ({ name: `p${i}`, pattern: `x${i}[0-9]{1,600}` }));
    const bad = guardrail('bad', { subjects, rules: [{ name: 'ids', phase: 'Request', action: 'Mask', detector: { patterns } }] });
    const good = guardrail('good', { subjects, rules: [{ name: 'mail', phase: 'Request', action: 'Mask', detector: { builtin: ['Email'] } }] });
    const { snapshot, statuses } = compile(input(bad, good));
    expect(snapshot.guardrails?.map((g) => g.id)).toEqual(['default/good']);
    expect(snapshot.routes.map((r) => r.id)).toEqual(['default/chat']);
    const accepted = cond(statuses, 'bad', 'Accepted');
    expect(accepted).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(accepted?.message).toBe('spec.rules[0].detector.patterns: too complex together: RE2 program sizes sum to 8421, more than 8192');
  });

  it('refuses a pattern RE2 cannot compile at parse, naming the field', () => {
    const r = parse({ subjects, rules: [{ name: 'ids', phase: 'Request', action: 'Mask', detector: { patterns: [{ name: 'emp', pattern: 'EMP-(\\d' }] } }] });
    expect(r.error?.issues[0]?.path).toEqual(['spec', 'rules', 0, 'detector', 'patterns', 0, 'pattern']);
    expect(r.error?.issues[0]?.message).toMatch(/^pattern must be a valid RE2 regular expression: invalid RE2 pattern/);
    expect(messages(parse({ subjects, rules: [{ name: 'e', phase: 'Request', action: 'Mask', detector: { patterns: [{ name: 'e', pattern: 'a*' }] } }] }))).toEqual([
      'pattern must be a valid RE2 regular expression: pattern matches the empty string',
    ]);
  });

  it('keeps a moderation rule whose Provider cannot serve it in force, with ResolvedRefs=False saying why', () => {
    const g = guardrail('g', { subjects, rules: [{ name: 'harm', phase: 'Request', action: 'Block', detector: { moderation: { providerRef: { name: 'claude' } } } }] });
    const { snapshot, statuses } = compile(input(g));
    expect(snapshot.guardrails?.[0]?.rules[0]?.detector).toMatchObject({ kind: 'moderation', providerId: 'default/claude', unusable: true });
    expect(snapshot.providers.map((p) => p.id)).not.toContain('default/claude');
    expect(cond(statuses, 'g', 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'InvalidKind' });
    const missing = guardrail('m', { subjects, rules: [{ name: 'harm', phase: 'Request', action: 'Block', detector: { moderation: { providerRef: { name: 'nope' } } } }] });
    expect(cond(compile(input(missing)).statuses, 'm', 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'ProviderNotFound' });
  });

  it('checks that a webhook Service exists, has the port and a ready endpoint; the rule stays in force either way', () => {
    const hook = (port: number) =>
      guardrail('g', { subjects, rules: [{ name: 'hook', phase: 'Request', action: 'Block', detector: { webhook: { serviceRef: { name: 'guard', port }, timeout: '1s', failureMode: 'Open' } } }] });
    const refs = (endpoints: CompileInput['endpoints'], port = 8080) => {
      const { snapshot, statuses } = compile({ ...input(hook(port)), endpoints });
      expect(snapshot.guardrails?.[0]?.rules[0]?.detector).toMatchObject({ kind: 'webhook', url: `http://guard.default.svc:${port}/`, failureMode: 'Open' });
      return cond(statuses, 'g', 'ResolvedRefs');
    };
    expect(refs([guardService])).toMatchObject({ status: 'True' });
    expect(refs([])).toMatchObject({
      type: 'ResolvedRefs',
      status: 'False',
      reason: 'ServiceNotFound',
      message: 'rule hook: Service default/guard not found: create it or fix spec.rules[0].detector.webhook.serviceRef.name',
    });
    expect(refs([{ namespace: 'default', service: 'guard', port: 80, addresses: [], servicePorts: [8080] }], 80)).toMatchObject({
      reason: 'ServicePortNotFound',
      message: 'rule hook: Service default/guard has no port 80 (its ports: 8080): fix spec.rules[0].detector.webhook.serviceRef.port',
    });
    expect(refs([{ ...guardService, addresses: [{ ip: '10.0.0.7', port: 9090, ready: false }] }])).toMatchObject({
      reason: 'NoReadyEndpoints',
      message: "rule hook: Service default/guard port 8080 has no ready endpoints: 0 of 1 endpoints are ready (check the pods' readiness)",
    });
    expect(refs([{ ...guardService, addresses: [] }])?.message).toContain('it selects no pods');
  });

  it("never lets a policy use another namespace's moderation Provider that does not admit it, though its own routes keep it in the snapshot", () => {
    const theirs = provider('mod', { type: 'openai-compatible', url: 'http://127.0.0.1:9/v1', credentials: { secretRef: { name: 'key', key: 'apiKey' } } }, { namespace: 'team-b' });
    const theirRoute = route('b-chat', { model: 'b-chat', targets: [{ providerRef: { name: 'mod' }, model: 'm' }] }, { namespace: 'team-b' });
    const g = guardrail('g', { subjects, rules: [{ name: 'harm', phase: 'Request', action: 'Block', detector: { moderation: { providerRef: { namespace: 'team-b', name: 'mod' } } } }] });
    const own = guardrail('own', { subjects: { routes: [{ name: 'b-chat' }] }, rules: [{ name: 'harm', phase: 'Request', action: 'Block', detector: { moderation: { providerRef: { name: 'mod' } } } }] }, { namespace: 'team-b' });
    const { snapshot, statuses } = compile({ ...input(g, own), providers: [mock, theirs], routes: [chat, theirRoute], secrets: [{ namespace: 'team-b', name: 'key', data: { apiKey: 'sk-b' } }] });
    expect(snapshot.providers.map((p) => p.id)).toContain('team-b/mod');
    expect(cond(statuses, 'g', 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
    const detectors = Object.fromEntries((snapshot.guardrails ?? []).map((c) => [c.id, c.rules[0]?.detector]));
    expect(detectors['default/g']).toMatchObject({ kind: 'moderation', providerId: 'team-b/mod', unusable: true });
    expect(detectors['team-b/own']).toMatchObject({ kind: 'moderation', providerId: 'team-b/mod' });
    expect(detectors['team-b/own']).not.toHaveProperty('unusable');
  });

  it("scopes a tenant's policy to its own namespace", () => {
    const g = guardrail('g', { subjects: { namespaces: ['team-a', 'team-b'] }, rules: [{ name: 'r', phase: 'Request', action: 'Block', detector: { builtin: ['Email'] } }] }, { namespace: 'team-a' });
    const { snapshot, statuses } = compile({ ...input(g), platformNamespaces: ['tollgate-system'] });
    expect(snapshot.guardrails?.[0]?.subjects.namespaces).toEqual(['team-a']);
    expect(cond(statuses, 'g', 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
  });

  it("orders the platform's policies before every tenant's, so their masks act before a tenant's rules see the text", () => {
    const mask = guardrail('mask-pii', { subjects: { namespaces: ['team-a'] }, rules: [{ name: 'mail', phase: 'Request', action: 'Mask', detector: { builtin: ['Email'] } }] }, { namespace: 'tollgate-system' });
    const hook = (ns: string) => guardrail('classify', { subjects: { namespaces: [ns] }, rules: [{ name: 'hook', phase: 'Request', action: 'Monitor', detector: { webhook: { url: 'http://127.0.0.1:9/check', timeout: '1s' } } }] }, { namespace: ns });
    const ids = (platformNamespaces?: string[]) =>
      compile({ ...input(hook('zeta'), mask, hook('team-b'), hook('alpha')), ...(platformNamespaces === undefined ? {} : { platformNamespaces }) }).snapshot.guardrails?.map((g) => g.id);
    // Before, namespace/name order: team-b's webhook ran before the platform's mask (team-b < tollgate-system).
    expect(ids(['tollgate-system'])).toEqual(['tollgate-system/mask-pii', 'alpha/classify', 'team-b/classify', 'zeta/classify']);
    // Without platform namespaces (tollgate dev), every policy is the platform's: namespace/name order.
    expect(ids()).toEqual(['alpha/classify', 'team-b/classify', 'tollgate-system/mask-pii', 'zeta/classify']);
  });

  it('leaves a snapshot without policies as it was (no guardrails field)', () => {
    expect('guardrails' in compile(input()).snapshot).toBe(false);
  });

  it("says on a route's PassThroughServed which policies refuse its pass-through calls; Allow is carried in the snapshot and refuses none", () => {
    const open = route('open', { model: 'open', targets: [{ providerRef: { name: 'mod' }, model: 'm' }], passThrough: { endpoints: ['images', 'moderations'] } });
    const served = (g: ReturnType<typeof guardrail>) => {
      const { snapshot, statuses } = compile({ ...input(g), routes: [chat, open] });
      return { snapshot, condition: statuses.find((s) => s.kind === 'ModelRoute' && s.name === 'open')?.conditions.find((c) => c.type === 'PassThroughServed') };
    };
    const rules = [{ name: 'cards', phase: 'Request', action: 'Block', detector: { builtin: ['PaymentCard'] } }];
    const refusing = served(guardrail('g', { subjects: { namespaces: ['default'] }, rules }));
    expect(refusing.condition).toMatchObject({ status: 'False', reason: 'GuardrailRefused' });
    expect(refusing.condition?.message).toBe(
      "calls to its pass-through endpoints (images, moderations) are refused with 403 guardrail_uninspected for the callers that GuardrailPolicy default/g covers: no rule can inspect them (the policy's spec.uninspectedEndpoints: Allow lets them through unchecked)",
    );
    expect('uninspectedEndpoints' in (refusing.snapshot.guardrails?.[0] ?? {})).toBe(false);
    const allowing = served(guardrail('g', { subjects: { routes: [{ name: 'open' }] }, rules, uninspectedEndpoints: 'Allow' }));
    expect(allowing.condition).toMatchObject({ status: 'True', reason: 'Served' });
    expect(allowing.snapshot.guardrails?.[0]?.uninspectedEndpoints).toBe('Allow');
    // A policy of Monitor rules changes no request: it refuses nothing either.
    expect(served(guardrail('g', { subjects: { routes: [{ name: 'open' }] }, rules: [{ ...rules[0], action: 'Monitor' }] })).condition?.status).toBe('True');
  });
});
