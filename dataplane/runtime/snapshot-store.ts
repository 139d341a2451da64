import type { Transport } from '../upstream/transport.js';
import { expectedVersion } from '../config/content-hash.js';
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

  /**
   * Applies a snapshot pushed or pulled with a generation. Older generations are refused, and so is
   * the served generation with other content: one generation names one snapshot, so a second
   * publisher (a previous leader) has to publish above it rather than swap content under it.
   */
  applyGeneration(generation: number, snapshot: unknown): ApplyResult {
    if (generation < this.currentGeneration) {
      return { ok: false, stale: true, error: `generation ${generation} is older than the served generation ${this.currentGeneration}` };
    }
    const served = this.runtime?.snapshot.version;
    const result = this.apply(snapshot, (version) =>
      generation === this.currentGeneration && version !== served ? `generation ${generation} is already served with snapshot ${served}, not ${version}` : undefined,
    );
    if (result.ok) this.currentGeneration = generation;
    return result;
  }

  /** Validates, checks that the version is the content's hash (it is never trusted), then swaps. */
  apply(snapshot: unknown, refuse?: (version: string) => string | undefined): ApplyResult {
    const built = buildRuntimeSnapshot(snapshot, this.httpTransport);
    if (!built.ok) return built;
    const version = built.runtime.snapshot.version;
    const actual = expectedVersion(snapshot as Record<string, unknown>);
    if (actual !== version) return { ok: false, error: `snapshot version ${version} does not match its content (hash ${actual})` };
    const refused = refuse?.(version);
    if (refused !== undefined) return { ok: false, stale: true, error: refused };
    if (this.runtime?.snapshot.version === version) return { ok: true, version, changed: false };
    this.runtime = built.runtime;
    for (const listener of this.listeners) listener(built.runtime);
    return { ok: true, version, changed: true };
  }

  onChange(listener: (runtime: RuntimeSnapshot) => void): void {
    this.listeners.push(listener);
  }
}
