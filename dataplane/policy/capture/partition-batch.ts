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
  for (const r of batch) {
    // "2026-12-05T03": the partition's date and hour. Policy ids and namespaces hold no newline.
    const id = `${r.policyId}\n${r.namespace}\n${r.time.slice(0, 13)}`;
    let group = groups.get(id);
    if (group === undefined) groups.set(id, (group = { policyId: r.policyId, namespace: r.namespace, time: r.time, metadata: [], content: [] }));
    group.metadata.push(r.metadata);
    if (r.content !== undefined) group.content.push(r.content);
  }
  return groups.values();
}
