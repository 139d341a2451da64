import type { SerialisedRecord } from './capture-record.js';

/** A batch's records of one policy, namespace and UTC hour: what goes into one object per stream. */
export interface PartitionGroup {
  policyId: string;
  namespace: string;
  /** The first record's time: the same date and hour as every other record in the group. */
  time: string;
  metadata: Buffer[];
  content: Buffer[];
}

/**
 * Groups a batch by the objects it is written to (config/capture-layout.ts), in arrival order, so
 * that a writer computes each key once per object rather than once per record.
 */
export function partitions(batch: readonly SerialisedRecord[]): Iterable<PartitionGroup> {
  const groups = new Map<string, PartitionGroup>();
  let last: PartitionGroup | undefined;
  for (const r of batch) {
    // Most records go where the one before went: compared field by field, with no key built for them.
    let group = last !== undefined && r.policyId === last.policyId && r.namespace === last.namespace && sameHour(r.time, last.time) ? last : undefined;
    if (group === undefined) {
      // "2026-12-05T03": the partition's date and hour. Policy ids and namespaces hold no newline.
      const id = `${r.policyId}\n${r.namespace}\n${r.time.slice(0, 13)}`;
      group = groups.get(id);
      if (group === undefined) groups.set(id, (group = { policyId: r.policyId, namespace: r.namespace, time: r.time, metadata: [], content: [] }));
    }
    group.metadata.push(r.metadata);
    if (r.content !== undefined) group.content.push(r.content);
    last = group;
  }
  return groups.values();
}

/** Two RFC 3339 times of the same date and hour (their first 13 characters; a shorter time never matches here, the key decides). */
function sameHour(a: string, b: string): boolean {
  if (a.length < 13 || b.length < 13) return false;
  for (let i = 0; i < 13; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return false;
  return true;
}
