import type { Settlement } from '../../governance/types.js';

/** What a request that never reached an upstream (refused, cached, client gone first) settles with. */
export const NOTHING_USED: Settlement = { usage: undefined, costUsd: 0 };

/**
 * Runs the stages after this one, then `release()` however they ended: what
 * `try { await next() } finally { release() }` does in an async stage, without an async
 * function's frame and promises per request (for a stage that decided without waiting). Never
 * throws: a failure comes as the returned promise's rejection, as from an async function.
 */
export function thenRelease(next: () => Promise<void>, release: () => void): Promise<void> {
  let running: Promise<void>;
  try {
    running = next();
  } catch (err) {
    try {
      release();
    } catch (releaseErr) {
      return Promise.reject(releaseErr);
    }
    return Promise.reject(err);
  }
  return running.then(
    () => release(),
    (err: unknown) => {
      release();
      throw err;
    },
  );
}
