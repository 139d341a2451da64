import type { Transport } from '../upstream/transport.js';
import { buildRuntimeSnapshot, type RuntimeSnapshot } from './runtime-snapshot.js';

export type ApplyResult = { ok: true; version: string; changed: boolean } | { ok: false; error: string; stale?: boolean };

/**
 * Holds the current snapshot. A swap is one reference assignment: a request reads `current` once
 * and finishes on that snapshot even if a newer one arrives meanwhile.
 */
export class SnapshotStore {
  private runtime: RuntimeSnapshot | undefined;
  private currentGeneration = -1;
  private readonly listeners: ((runtime: RuntimeSnapshot) => void)[] = [];

  constructor(private readonly httpTransport: Transport) {}

  get current(): RuntimeSnapshot | undefined {
    return this.runtime;
  }

  /** The generation of the snapshot being served, -1 before the first. */
  get generation(): number {
    return this.currentGeneration;
  }

  /** Applies a snapshot pushed or pulled with a generation; older generations are refused. */
  applyGeneration(generation: number, snapshot: unknown): ApplyResult {
    if (generation < this.currentGeneration) {
      return { ok: false, stale: true, error: `generation ${generation} is older than the served generation ${this.currentGeneration}` };
    }
    const result = this.apply(snapshot);
    if (result.ok) this.currentGeneration = generation;
    return result;
  }

  apply(snapshot: unknown): ApplyResult {
    const built = buildRuntimeSnapshot(snapshot, this.httpTransport);
    if (!built.ok) return built;
    const version = built.runtime.snapshot.version;
    if (this.runtime?.snapshot.version === version) return { ok: true, version, changed: false };
    this.runtime = built.runtime;
    for (const listener of this.listeners) listener(built.runtime);
    return { ok: true, version, changed: true };
  }

  onChange(listener: (runtime: RuntimeSnapshot) => void): void {
    this.listeners.push(listener);
  }
}
