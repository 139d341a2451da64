import { MAX_SPEC_HISTORY, type SpecHistory } from '../api/common.js';
import type { KubeObject } from '../kube/kube-client.js';

interface ManagedFieldsEntry {
  time?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

/**
 * When the object's spec was last written: the latest managedFields entry that owns spec fields
 * (not the status subresource). The operator may see a change late (it was down, or the data planes
 * had not answered yet); the API server's record of the write is the time the change was made.
 */
export function specWrittenAt(object: KubeObject): string | undefined {
  const entries = (object.metadata as { managedFields?: ManagedFieldsEntry[] }).managedFields ?? [];
  let latest: string | undefined;
  for (const e of entries) {
    if (e.subresource === 'status' || e.time === undefined || e.fieldsV1?.['f:spec'] === undefined) continue;
    if (latest === undefined || e.time > latest) latest = e.time;
  }
  return latest;
}

/** The history with this generation appended (once), the oldest entries dropped beyond the bound. */
export function withSpecChange(history: SpecHistory | undefined, generation: number | undefined, changedAt: string): SpecHistory | undefined {
  if (generation === undefined) return history;
  const kept = history ?? [];
  if (kept.some((h) => h.generation === generation)) return history;
  return [...kept, { generation, changedAt }].slice(-MAX_SPEC_HISTORY);
}
