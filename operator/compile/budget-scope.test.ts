import { describe, expect, it } from 'vitest';
import { applicableBudgets } from '../../dataplane/governance/budget/budget-admitter.js';
import type { Caller } from '../../dataplane/core/caller.js';
import { budget, provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import type { CompileInput } from './types.js';

// One team's Budget must not be able to cut off another team: a tenant's Budget caps only its own
// namespace; platform-wide Budgets live in the installation's namespace.

const mock = provider('p', { type: 'mock', allowedRoutes: { namespaces: { from: 'All' } } }, { namespace: 'shared' });
const teamARoute = route('chat', { model: 'chat', targets: [{ providerRef: { name: 'p', namespace: 'shared' }, model: 'm' }] }, { namespace: 'team-a' });
const app: Caller = { kind: 'serviceaccount', namespace: 'team-a', name: 'app', id: 'sa:team-a/app' };
const tiny = (namespace: string) =>
  budget(
    'tiny',
    {
      limit: { unit: 'USD', amount: 0.000001 },
      subjects: { namespaces: ['team-a', namespace], serviceAccounts: [{ namespace: 'team-a', name: 'app' }], routes: [{ namespace: 'team-a', name: 'chat' }] },
    },
    { namespace },
  );
const input = (b: ReturnType<typeof tiny>, platformNamespaces?: string[]): CompileInput => ({
  providers: [mock],
  routes: [teamARoute],
  budgets: [b],
  secrets: [],
  ...(platformNamespaces === undefined ? {} : { platformNamespaces }),
});

function budgetsFor(result: ReturnType<typeof compile>, caller: Caller): string[] {
  const r = result.snapshot.routes.find((x) => x.id === 'team-a/chat');
  if (r === undefined) throw new Error('route missing');
  return applicableBudgets(result.snapshot.budgets, caller, r).map((b) => b.id);
}

describe('Budget scope', () => {
  it("a Budget in team-b does not apply to team-a's callers or routes, and says why", () => {
    const result = compile(input(tiny('team-b'), ['tollgate-system']));
    expect(budgetsFor(result, app)).toEqual([]);
    expect(result.snapshot.budgets[0]?.subjects).toEqual({ namespaces: ['team-b'], serviceAccounts: [], apiKeys: [], routes: [] });
    const refs = result.statuses.find((s) => s.kind === 'Budget')?.conditions.find((c) => c.type === 'ResolvedRefs');
    expect(refs).toMatchObject({ status: 'False', reason: 'RefNotPermitted', message: expect.stringContaining('namespace team-a, ServiceAccount team-a/app, ModelRoute team-a/chat') });
  });

  it('a Budget in the platform namespace may cap any namespace', () => {
    expect(budgetsFor(compile(input(tiny('tollgate-system'), ['tollgate-system'])), app)).toEqual(['tollgate-system/tiny']);
  });

  it('a Budget in team-a caps team-a', () => {
    expect(budgetsFor(compile(input(tiny('team-a'), ['tollgate-system'])), app)).toEqual(['team-a/tiny']);
  });

  it('manifests on disk (no platform namespaces given) trust every namespace', () => {
    expect(budgetsFor(compile(input(tiny('team-b'))), app)).toEqual(['team-b/tiny']);
  });
});
