import { setImmediate as immediate } from 'node:timers/promises';

/**
 * Work written as a generator that yields at points where it may be interrupted (between the items
 * of a large array). One implementation, run two ways: to its end at once (`runToEnd`), or in slices
 * that give the event loop back between them (`runSliced`), so that a large job (a snapshot push)
 * does not hold up the requests of the public port on the same loop for its whole length.
 */
export type Steps<T> = Generator<void, T, void>;

export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** How the slices give the loop back; tests pass a hook they control. */
export interface SliceOptions {
  /** Longest run between two pauses, ms. */
  sliceMs: number;
  /** What runs between slices; by default the next turn of the loop after its I/O (setImmediate). */
  pause: () => Promise<void>;
}

export const DEFAULT_SLICES: SliceOptions = { sliceMs: 10, pause: () => immediate() };

export async function runSliced<T>(steps: Steps<T>, opts: SliceOptions = DEFAULT_SLICES): Promise<T> {
  let started = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    if (performance.now() - started >= opts.sliceMs) {
      await opts.pause();
      started = performance.now();
    }
  }
}
