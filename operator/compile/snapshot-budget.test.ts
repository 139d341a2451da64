import { describe, expect, it } from 'vitest';
import { budget, dataPolicy, guardrail, provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import { fitSnapshot } from './snapshot-budget.js';
import type { CompileInput, CompileResult } from './types.js';

const up = (namespace: string) => provider('up', { type: 'openai-compatible', url: 'http://127.0.0.1:9/v1' }, { namespace });
// A route made large by its header rules (each rule a header match with a long value; the last the catch-all).
const wide = (name: string, namespace: string, rules: number) =>
  route(
    name,
    {
      model: name,
      rules: Array.from({ length: rules }, (_, i) =>
        i === rules - 1 ? { name: `r${i}`, targets: [{ providerRef: { name: 'up' }, model: 'm' }] } : { name: `r${i}`, when: { headers: [{ name: 'x-team', value: `v${i}-`.padEnd(200, 'x') }] }, targets: [{ providerRef: { name: 'up' }, model: 'm' }] },
      ),
    },
    { namespace },
  );
// A GuardrailPolicy made large by its deny list (its bulk is not routes).
const bulky = (name: string, namespace: string, phrases: number) =>
  guardrail(name, { subjects: { namespaces: [namespace] }, rules: [{ name: 'd', phase: 'Request', action: 'Block', detector: { denyList: { phrases: Array.from({ length: phrases }, (_, i) => `phrase ${i} `.padEnd(60, 'y')) } } }] }, { namespace });

const accepted = (r: CompileResult, kind: string, ns: string, name: string) =>
  r.statuses.find((s) => s.kind === kind && s.namespace === ns && s.name === name)?.conditions.find((c) => c.type === 'Accepted');
const bytes = (entry: unknown) => Buffer.byteLength(JSON.stringify(entry));
/** The snapshot compile published is within the room it was given. */
const within = (r: CompileResult, budgetBytes: number) => expect(bytes(r.snapshot)).toBeLessThanOrEqual(budgetBytes);

function fourRoutes(): CompileInput {
  return { providers: [up('team-a'), up('big')], routes: [wide('small', 'team-a', 2), wide('b1', 'big', 16), wide('b2', 'big', 12), wide('b3', 'big', 2)], budgets: [], secrets: [] };
}

describe('the snapshot budget', () => {
  it('leaves out the largest routes of the namespace that takes the most bytes, until the snapshot fits; other namespaces keep theirs', () => {
    const full = compile(fourRoutes());
    const size = (id: string) => bytes(full.snapshot.routes.find((r) => r.id === id));
    // Room for all but big's largest route.
    const room = bytes(full.snapshot) - size('big/b1') + 512;
    const r = compile({ ...fourRoutes(), snapshotBudgetBytes: room });
    expect(r.snapshot.routes.map((x) => x.id).sort()).toEqual(['big/b2', 'big/b3', 'team-a/small']);
    expect(accepted(r, 'ModelRoute', 'big', 'b1')).toMatchObject({ status: 'False', reason: 'SnapshotTooLarge' });
    expect(accepted(r, 'ModelRoute', 'big', 'b1')?.message).toMatch(/namespace big held the most of it .* so its largest objects are left out, largest first, until the snapshot fits/);
    expect(accepted(r, 'ModelRoute', 'team-a', 'small')?.status).toBe('True');
    within(r, room);
    // Within budget nothing changes.
    expect(compile({ ...fourRoutes(), snapshotBudgetBytes: 10 * 2 ** 20 }).snapshot.routes).toHaveLength(4);
  });

  it('compiles what names a route left out again without it: a Budget does not downgrade to it', () => {
    const base = compile(fourRoutes());
    const size = (id: string) => bytes(base.snapshot.routes.find((r) => r.id === id));
    const input = {
      providers: [up('team-a'), up('big')],
      routes: [wide('small', 'team-a', 2), wide('b1', 'big', 16), wide('cheap', 'big', 12)],
      budgets: [budget('cap', { limit: { amount: 1, unit: 'USD' }, period: 'Day', subjects: { namespaces: ['big'] }, action: { type: 'Downgrade', downgradeTo: 'cheap' } }, { namespace: 'big' })],
      secrets: [],
    };
    // Room for neither of the two large routes of namespace big beside the rest.
    const { snapshot, statuses } = compile({ ...input, snapshotBudgetBytes: size('team-a/small') + size('big/b3') + 4000 });
    expect(snapshot.routes.map((r) => r.id)).toEqual(['team-a/small']);
    expect(statuses.find((s) => s.name === 'cheap')?.conditions[0]).toMatchObject({ reason: 'SnapshotTooLarge' });
    // Compiled against the kept routes: the downgrade target is gone, so the Budget rejects instead.
    expect(snapshot.budgets[0]?.action).toMatchObject({ type: 'Reject' });
  });

  // The tenancy audit's scenario: team-b's GuardrailPolicies (not routes) grow the snapshot past the limit.
  // Before, nothing was left out (team-b had no route to give up) and every data plane refused the push.
  it('leaves out the objects of any kind of the namespace that holds the most: its GuardrailPolicies, not another namespace\'s route', () => {
    const input: CompileInput = { providers: [up('team-a')], routes: [wide('big-a', 'team-a', 16)], budgets: [], guardrails: [bulky('g0', 'team-b', 120), bulky('g1', 'team-b', 120), bulky('g2', 'team-b', 120)], secrets: [] };
    const full = compile(input);
    const routeBytes = bytes(full.snapshot.routes[0]);
    const policyBytes = bytes(full.snapshot.guardrails?.[0]);
    // team-b holds more than team-a, and the room is short of one policy.
    expect(3 * policyBytes).toBeGreaterThan(routeBytes);
    const room = bytes(full.snapshot) - policyBytes + 512;
    const r = compile({ ...input, snapshotBudgetBytes: room });
    expect(r.snapshot.routes.map((x) => x.id)).toEqual(['team-a/big-a']);
    expect(accepted(r, 'ModelRoute', 'team-a', 'big-a')?.status).toBe('True');
    expect(r.snapshot.guardrails?.map((g) => g.id)).toHaveLength(2);
    const refused = ['g0', 'g1', 'g2'].filter((g) => accepted(r, 'GuardrailPolicy', 'team-b', g)?.reason === 'SnapshotTooLarge');
    expect(refused).toHaveLength(1);
    expect(accepted(r, 'GuardrailPolicy', 'team-b', refused[0] as string)?.message).toMatch(/namespace team-b held the most of it/);
    within(r, room);
    expect(r.oversize).toBeUndefined();
  });

  it('every kind carries the refusal in its status: a Budget and a DataPolicy left out say why', () => {
    const sas = Array.from({ length: 150 }, (_, i) => ({ namespace: 'heavy', name: `sa-${i}`.padEnd(40, 's') }));
    const patterns = Array.from({ length: 32 }, (_, i) => ({ name: `p${i}`, pattern: `secret-${i}-[a-z]{8}`.padEnd(120, 'q') }));
    const input: CompileInput = {
      providers: [up('team-a')],
      routes: [wide('small', 'team-a', 2)],
      secrets: [],
      budgets: [budget('many', { limit: { amount: 1, unit: 'USD' }, period: 'Day', subjects: { serviceAccounts: sas } }, { namespace: 'heavy' })],
      dataPolicies: [dataPolicy('audit', { subjects: { namespaces: ['heavy'] }, capture: { mode: 'Redacted' }, redaction: { customPatterns: patterns }, destinations: [{ name: 'c', otlpLogs: { endpoint: 'http://127.0.0.1:4318' } }] }, { namespace: 'heavy' })],
    };
    const full = compile(input);
    const room = bytes(full.snapshot) - bytes(full.snapshot.budgets[0]) - bytes(full.snapshot.dataPolicies?.[0]) + 512;
    const r = compile({ ...input, snapshotBudgetBytes: room });
    expect(accepted(r, 'Budget', 'heavy', 'many')).toMatchObject({ status: 'False', reason: 'SnapshotTooLarge' });
    expect(accepted(r, 'DataPolicy', 'heavy', 'audit')).toMatchObject({ status: 'False', reason: 'SnapshotTooLarge' });
    expect(r.snapshot.budgets).toEqual([]);
    expect(r.snapshot.dataPolicies).toBeUndefined();
    expect(r.snapshot.routes).toHaveLength(1);
    within(r, room);
  });

  it('leaves out API keys when they are the bulk, and says which (a Secret has no status)', () => {
    const keys = Array.from({ length: 200 }, (_, i) => ({ namespace: 'evil', name: `k${i}`, labels: { 'tollgate.dev/api-key': 'true', pad: 'z'.repeat(60) }, data: { key: `secret-${i}` } }));
    const input: CompileInput = { ...fourRoutes(), secrets: keys, apiKeyHashKey: 'h'.repeat(32) };
    const full = compile(input);
    const room = bytes(full.snapshot) - 100 * bytes(full.snapshot.apiKeys[0]);
    const r = compile({ ...input, snapshotBudgetBytes: room });
    expect(r.snapshot.routes).toHaveLength(4);
    expect(r.snapshot.apiKeys.length).toBeLessThan(200);
    expect(r.snapshot.apiKeys.length).toBeGreaterThan(90);
    expect(r.leftOutApiKeys).toHaveLength(200 - r.snapshot.apiKeys.length);
    expect(r.leftOutApiKeys?.[0]?.message).toMatch(/namespace evil held the most of it/);
    expect(r.statuses.every((s) => s.conditions.every((c) => c.reason !== 'SnapshotTooLarge'))).toBe(true);
    within(r, room);
  });

  it('leaves out a Provider that is the bulk; the routes that name it lose that target and say why', () => {
    const fat = provider('fat', { type: 'openai-compatible', url: 'http://127.0.0.1:9/v1', headers: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-h${i}`, 'v'.repeat(100)])) }, { namespace: 'fat' });
    const uses = route('uses', { model: 'uses', targets: [{ providerRef: { name: 'fat' }, model: 'm' }] }, { namespace: 'fat' });
    const input: CompileInput = { ...fourRoutes(), providers: [up('team-a'), up('big'), fat], routes: [...fourRoutes().routes, uses] };
    const full = compile(input);
    const room = bytes(full.snapshot) - 5000;
    const r = compile({ ...input, snapshotBudgetBytes: room });
    expect(accepted(r, 'Provider', 'fat', 'fat')).toMatchObject({ status: 'False', reason: 'SnapshotTooLarge' });
    expect(r.snapshot.providers.map((p) => p.id)).not.toContain('fat/fat');
    expect(r.statuses.find((s) => s.name === 'uses')?.conditions.find((c) => c.type === 'ResolvedRefs')?.message).toMatch(/Provider fat\/fat is not usable: left out of the configuration snapshot/);
    expect(r.snapshot.routes.map((x) => x.id)).toContain('team-a/small');
    within(r, room);
  });
});

describe('fitSnapshot', () => {
  const o = (namespace: string, name: string, bytes: number) => ({ kind: 'ModelRoute' as const, namespace, name, bytes });

  it('takes from whichever namespace holds the most at each step: one within an equal share loses nothing', () => {
    // 100 of room for two tenants: a holds 80, b 45 (within its share of 50).
    const fit = fitSnapshot([o('a', 'a1', 40), o('a', 'a2', 25), o('a', 'a3', 15), o('b', 'b1', 30), o('b', 'b2', 15)], 0, new Set(), 100);
    expect([...fit.refused.keys()]).toEqual(['ModelRoute/a/a1']);
  });

  it('never leaves out a platform namespace\'s objects, even when it holds the most', () => {
    const fit = fitSnapshot([o('tollgate-system', 'p', 70), o('a', 'a1', 20), o('b', 'b1', 30)], 0, new Set(['tollgate-system']), 100);
    expect([...fit.refused.keys()]).toEqual(['ModelRoute/b/b1']);
  });

  it('leaves out nothing, and says so, when the platform alone does not fit', () => {
    const fit = fitSnapshot([o('tollgate-system', 'p', 90), o('a', 'a1', 20)], 20, new Set(['tollgate-system']), 100);
    expect(fit.refused.size).toBe(0);
    expect(fit.oversize).toMatch(/the platform namespaces' objects and the namespace labels alone take .*: no tenant's object is left out for them, the snapshot is not published/);
  });
});
