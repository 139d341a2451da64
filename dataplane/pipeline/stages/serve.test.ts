import { describe, expect, it } from 'vitest';
import { type RouteOutcome, type Router } from '../../routing/router.js';
import type { UsageSink } from '../../metering/usage-record.js';
import type { RequestContext } from '../request-context.js';
import { serve } from './serve.js';

/** The serve stage with a router that answers `outcome`, on a context holding only what the stage reads. */
function served(outcome: RouteOutcome): { run: (next: () => Promise<void>) => Promise<void> } {
  const router = { serve: () => Promise.resolve(outcome) } as unknown as Router;
  const ctx = { routeConfig: { id: 'r' }, headers: {}, requestId: 'id', events: { emit: () => undefined } } as unknown as RequestContext;
  const stage = serve(router, { record: () => undefined } as unknown as UsageSink);
  return { run: (next) => stage.run(ctx, next) };
}

const response = (release: () => void): RouteOutcome =>
  ({ kind: 'response', target: { providerId: 'p', model: 'm' }, attempts: [], release, body: {} }) as unknown as RouteOutcome;

describe('serve: a large answer’s bytes of the process-wide budget', () => {
  it('are given back once the later stages (the reply written) are done, however they ended: not when the answer is parsed', async () => {
    let released = 0;
    const stage = served(response(() => void released++));
    let atWrite = -1;
    await stage.run(async () => {
      await Promise.resolve();
      atWrite = released;
    });
    // Before, nothing gave them back: the answer held them for good (or, released when parsed, two more 60 MiB answers got in while it was still being written).
    expect([atWrite, released]).toEqual([0, 1]);
    const failed = new Error('guardrail');
    await expect(stage.run(() => Promise.reject(failed))).rejects.toBe(failed);
    expect(released).toBe(2);
  });

});
