import type { Admission, Settlement } from '../../governance/types.js';
import type { RequestContext } from '../request-context.js';

/** What a request that never reached an upstream (refused, cached, client gone first) settles with. */
export const NOTHING_USED: Settlement = { usage: undefined, costUsd: 0 };

/** How the stages after one ended: completed, or failed with what they threw. */
export type Ending = { failed: false } | { failed: true; error: unknown };
const COMPLETED: Ending = Object.freeze({ failed: false });

/**
 * Runs the stages after this one, then `release(ending)` however they ended: what
 * `try { await next() } finally { release() }` does in an async stage (the release told whether they
 * completed or what they threw), without an async function's frame and promises per request (for a
 * stage that decided without waiting). Never throws: a failure comes as the returned promise's
 * rejection, as from an async function.
 */
export function thenRelease(next: () => Promise<void>, release: (ending: Ending) => void): Promise<void> {
  let running: Promise<void>;
  try {
    running = next();
  } catch (err) {
    try {
      release({ failed: true, error: err });
    } catch (releaseErr) {
      return Promise.reject(releaseErr);
    }
    return Promise.reject(err);
  }
  return running.then(
    () => release(COMPLETED),
    (err: unknown) => {
      release({ failed: true, error: err });
      throw err;
    },
  );
}

/**
 * An admission's headers go on the response, and it settles with what was used however the later
 * stages end: thenRelease's order and error rules, written out so that the two callbacks close over
 * `ctx` and `admission` themselves. A release closure would be a closure and a context more that a
 * held stream keeps per admission stage (~0.1 KB each) until it ends.
 */
export function runAdmitted(ctx: RequestContext, next: () => Promise<void>, admission: Admission): Promise<void> {
  Object.assign(ctx.headers, admission.headers);
  let running: Promise<void>;
  try {
    running = next();
  } catch (err) {
    try {
      admission.settle(ctx.settlement ?? NOTHING_USED);
    } catch (settleErr) {
      return Promise.reject(settleErr);
    }
    return Promise.reject(err);
  }
  return running.then(
    () => {
      admission.settle(ctx.settlement ?? NOTHING_USED);
    },
    (err: unknown) => {
      admission.settle(ctx.settlement ?? NOTHING_USED);
      throw err;
    },
  );
}
