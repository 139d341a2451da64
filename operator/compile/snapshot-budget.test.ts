import { describe, expect, it } from 'vitest';
import { provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import { withinSnapshotBudget } from './snapshot-budget.js';

const up = (namespace: string) => provider('up', { type: 'openai-compatible', url: 'http://127.0.0.1:9/v1' }, { namespace });
// A route made large by its header rules (each rule a header match with a long value).
const wide = (name: string, namespace: string, rules: number) =>
  route(
    name,
    {
      model: name,
      rules: Array.from({ length: rules }, (_, i) =>
        // The last rule is the catch-all a route with rules must end with.
        i === rules - 1 ? { name: `r${i}`, targets: [{ providerRef: { name: 'up' }, model: 'm' }] } : { name: `r${i}`, when: { headers: [{ name: 'x-team', value: `v${i}-`.padEnd(200, 'x') }] }, targets: [{ providerRef: { name: 'up' }, model: 'm' }] },
      ),
    },
    { namespace },
  );

describe('the snapshot budget', () => {
  it('leaves out the largest routes of the namespace whose routes take the most bytes, until they fit; other namespaces keep theirs', () => {
    const input = {
      providers: [up('team-a'), up('big')],
      routes: [wide('small', 'team-a', 2), wide('b1', 'big', 16), wide('b2', 'big', 12), wide('b3', 'big', 2)],
      budgets: [],
      secrets: [],
    };
    const { snapshot, statuses } = compile(input);
    const bytes = (id: string) => Buffer.byteLength(JSON.stringify(snapshot.routes.find((r) => r.id === id)));
    // Room for all but big's largest route.
    const budget = bytes('team-a/small') + bytes('big/b2') + bytes('big/b3') + 100;
    const kept = withinSnapshotBudget(snapshot.routes, 100, statuses, budget);
    expect(kept.map((r) => r.id).sort()).toEqual(['big/b2', 'big/b3', 'team-a/small']);
    const refused = statuses.find((s) => s.name === 'b1')?.conditions.find((c) => c.type === 'Accepted');
    expect(refused).toMatchObject({ status: 'False', reason: 'SnapshotTooLarge' });
    expect(refused?.message).toMatch(/namespace big's routes are its largest part .* so this route .* is left out, largest first/);
    expect(statuses.find((s) => s.name === 'small')?.conditions.find((c) => c.type === 'Accepted')?.status).toBe('True');
    // Within budget nothing changes.
    expect(withinSnapshotBudget(snapshot.routes, 0, statuses, 10 * 2 ** 20)).toHaveLength(4);
  });
});
