import type { Transport } from '../upstream/transport.js';
import { expectedVersionSteps } from '../config/content-hash.js';
import { MAX_GENERATION_AHEAD_MS } from '../config/snapshot-envelope.js';
import { DEFAULT_SLICES, runSliced, runToEnd, type SliceOptions, type Steps } from '../config/sliced.js';
import { buildRuntimeSnapshotSteps, type RuntimeSnapshot } from './runtime-snapshot.js';

type Refused = { ok: false; error: string; stale?: boolean };
export type ApplyResult = { ok: true; version: string; changed: boolean } | Refused;

/**
 * Holds the current snapshot. A swap is one reference assignment: a request reads `current` once
 * and finishes on that snapshot even if a newer one arrives meanwhile.
 */
export class SnapshotStore {
  private runtime: RuntimeSnapshot | undefined;
  private currentGeneration = -1;
  private currentTerm = 0;
  private readonly listeners: ((runtime: RuntimeSnapshot) => void)[] = [];

  constructor(
    private readonly httpTransport: Transport,
    private readonly now: () => number = Date.now,
    private readonly slices: SliceOptions = DEFAULT_SLICES,
  ) {}

  get current(): RuntimeSnapshot | undefined {
    return this.runtime;
  }

  /** The generation of the snapshot being served, -1 before the first. */
  get generation(): number {
    return this.currentGeneration;
  }

  /** The leader term of the snapshot being served, 0 before the first or from a term-less publisher. */
  get term(): number {
    return this.currentTerm;
  }

  /**
   * Applies a snapshot pushed or pulled with a generation and a leader term, ordered by (term,
   * generation). A lower term is refused whatever its generation: its publisher has been deposed,
   * and it must not replace its successor's snapshot. A higher term is taken whatever its generation:
   * the new leader's clock may be behind the old one's. Within a term, older generations are refused,
   * and so is the served generation with other content: one generation names one snapshot, so a
   * second publisher has to publish above it rather than swap content under it.
   */
  applyGeneration(generation: number, snapshot: unknown, term?: number): ApplyResult {
    return runToEnd(this.applyGenerationSteps(generation, snapshot, term));
  }

  /**
   * applyGeneration with the validation, build and hash in slices that give the event loop back
   * between them: a 5,000-route snapshot held the loop, and with it every request of the public
   * port, for about half a second. The ordering is checked again at the swap, which runs in one
   * piece: another snapshot may have been applied meanwhile.
   */
  /** How this store's sliced work gives the loop back (the push and pull parse their bodies in the same slices). */
  get sliceOptions(): SliceOptions {
    return this.slices;
  }

  applyGenerationSliced(generation: number, snapshot: unknown, term?: number): Promise<ApplyResult> {
    return runSliced(this.applyGenerationSteps(generation, snapshot, term), this.slices);
  }

  private *applyGenerationSteps(generation: number, snapshot: unknown, term?: number): Steps<ApplyResult> {
    // Checked before the work (a stale push costs nothing) and again at the swap.
    const early = this.orderProblem(generation, term);
    if (early !== undefined) return early;
    let refusedAtSwap: Refused | undefined;
    const result = yield* this.applySteps(snapshot, (version) => {
      refusedAtSwap = this.orderProblem(generation, term);
      if (refusedAtSwap !== undefined) return refusedAtSwap.error;
      const served = this.runtime?.snapshot.version;
      return (term ?? 0) === this.currentTerm && generation === this.currentGeneration && version !== served
        ? `generation ${generation} is already served with snapshot ${served}, not ${version}`
        : undefined;
    });
    if (refusedAtSwap !== undefined) return refusedAtSwap;
    if (result.ok) {
      this.currentGeneration = generation;
      this.currentTerm = term ?? 0;
    }
    return result;
  }

  private orderProblem(generation: number, term: number | undefined): Refused | undefined {
    const now = this.now();
    if (generation > now + MAX_GENERATION_AHEAD_MS) {
      return { ok: false, error: `generation ${generation} is more than 24 h ahead of this pod's clock (${now}); generations are millisecond timestamps` };
    }
    const pushed = term ?? 0;
    if (pushed < this.currentTerm) {
      // Not stale (409) for a publisher without terms (an operator from before them): it would answer
      // a 409 by publishing above the served generation, refused again, in a loop. It stops at a 400.
      return { ok: false, stale: term !== undefined, error: `leader term ${pushed} is older than the served term ${this.currentTerm} (generation ${generation})` };
    }
    if (pushed === this.currentTerm && generation < this.currentGeneration) {
      return { ok: false, stale: true, error: `generation ${generation} is older than the served generation ${this.currentGeneration}` };
    }
    return undefined;
  }

  /** Validates, checks that the version is the content's hash (it is never trusted), then swaps. */
  apply(snapshot: unknown, refuse?: (version: string) => string | undefined): ApplyResult {
    return runToEnd(this.applySteps(snapshot, refuse));
  }

  /** `apply` in steps; `refuse` and the swap run together after the last step, in one piece. */
  private *applySteps(snapshot: unknown, refuse?: (version: string) => string | undefined): Steps<ApplyResult> {
    const built = yield* buildRuntimeSnapshotSteps(snapshot, this.httpTransport);
    if (!built.ok) return built;
    const version = built.runtime.snapshot.version;
    const actual = yield* expectedVersionSteps(snapshot as Record<string, unknown>);
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
