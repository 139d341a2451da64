import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/support/seeded-random.js';
import type { SerialisedRecord } from './capture-record.js';
import { partitions } from './partition-batch.js';

/** The grouping by key alone (one Map lookup per record), as partitions did before its same-as-before path. */
function byKey(batch: readonly SerialisedRecord[]): { policyId: string; namespace: string; time: string; metadata: string[]; content: string[] }[] {
  const groups = new Map<string, { policyId: string; namespace: string; time: string; metadata: string[]; content: string[] }>();
  for (const r of batch) {
    const id = `${r.policyId}\n${r.namespace}\n${r.time.slice(0, 13)}`;
    let group = groups.get(id);
    if (group === undefined) groups.set(id, (group = { policyId: r.policyId, namespace: r.namespace, time: r.time, metadata: [], content: [] }));
    group.metadata.push(r.metadata.toString());
    if (r.content !== undefined) group.content.push(r.content.toString());
  }
  return [...groups.values()];
}

describe('partitions', () => {
  it('groups by policy, namespace and hour in arrival order, runs of the same partition and interleaved ones alike', () => {
    const next = seededRandom(5);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const times = ['2026-12-05T03:59:59.999Z', '2026-12-05T03:00:00.000Z', '2026-12-05T04:00:00.000Z', '2026-12-06T03:10:00.000Z', '2026-12-05T03'];
    for (let round = 0; round < 300; round++) {
      const batch: SerialisedRecord[] = [];
      let previous: SerialisedRecord | undefined;
      for (let i = Math.floor(next() * 40); i > 0; i--) {
        // Runs: most records repeat the partition of the one before, as a batch does.
        const same = previous !== undefined && next() < 0.7;
        const r: SerialisedRecord = {
          policyId: same ? previous!.policyId : pick(['team-a/p', 'team-b/p']),
          namespace: same ? previous!.namespace : pick(['team-a', 'team-b', 'none']),
          time: same && next() < 0.8 ? previous!.time : pick(times),
          metadata: Buffer.from(`m${round}.${i}\n`),
          ...(next() < 0.8 ? { content: Buffer.from(`c${round}.${i}\n`) } : {}),
        };
        batch.push(r);
        previous = r;
      }
      const grouped = [...partitions(batch)].map((g) => ({ ...g, metadata: g.metadata.map(String), content: g.content.map(String) }));
      expect(grouped, `round ${round}`).toEqual(byKey(batch));
    }
  });
});
