import { describe, expect, it } from 'vitest';
import { budget, provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import { withinSnapshotBudget } from './snapshot-budget.js';

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

function compiled() {
  return compile({ providers: [up('team-a'), up('big')], routes: [wide('small', 'team-a', 2), wide('b1', 'big', 16), wide('b2', 'big', 12), wide('b3', 'big', 2)], budgets: [], secrets: [] });
}

describe('the snapshot budget', () => {
  it('leaves out the largest routes of the namespace that takes the most bytes, until the snapshot fits; other namespaces keep theirs', () => {
    const { snapshot, statuses } = compiled();
    const bytes = (id: string) => Buffer.byteLength(JSON.stringify(snapshot.routes.find((r) => r.id === id)));
    // Room for all but big's largest route.
    const budget = bytes('team-a/small') + bytes('big/b2') + bytes('big/b3') + 100;
    const kept = withinSnapshotBudget(snapshot.routes, [], 100, statuses, budget);
    expect(kept.map((r) => r.id).sort()).toEqual(['big/b2', 'big/b3', 'team-a/small']);
    const refused = statuses.find((s) => s.name === 'b1')?.conditions.find((c) => c.type === 'Accepted');
    expect(refused).toMatchObject({ status: 'False', reason: 'SnapshotTooLarge' });
    expect(refused?.message).toMatch(/namespace big takes the most of it .* so its largest routes are left out until it fits/);
    expect(statuses.find((s) => s.name === 'small')?.conditions.find((c) => c.type === 'Accepted')?.status).toBe('True');
    // Within budget nothing changes.
    expect(withinSnapshotBudget(snapshot.routes, [], 0, statuses, 10 * 2 ** 20)).toHaveLength(4);
  });

  it('compiles what names a route left out again without it: a Budget does not downgrade to it', () => {
    const base = compiled();
    const size = (id: string) => Buffer.byteLength(JSON.stringify(base.snapshot.routes.find((r) => r.id === id)));
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

  it("never takes another namespace's routes: when what is over is not routes, routes are not what is given up", () => {
    const { snapshot, statuses } = compiled();
    // Namespace evil's API keys alone are past the budget; it has no route to give up.
    const kept = withinSnapshotBudget(snapshot.routes, [{ namespace: 'evil', bytes: 40 * 2 ** 20 }], 0, statuses, 30 * 2 ** 20);
    expect(kept).toHaveLength(4);
    expect(statuses.every((s) => s.conditions.every((c) => c.reason !== 'SnapshotTooLarge'))).toBe(true);
  });
});
