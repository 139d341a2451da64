import type { RequestContext } from './request-context.js';

/**
 * One step of the request path. A stage reads and sets what it owns on the context, then calls
 * `next()` to run the stages after it (and, at the end, the write-back), or returns without calling
 * it to stop the request there (having answered, as the cache does on a hit) or throws a
 * GatewayError to refuse it. What a stage holds (a reservation, a lease) it releases in its own
 * `finally` around `next()`: that runs after the response was written, however the request ended.
 */
export interface Stage {
  readonly name: string;
  run(ctx: RequestContext, next: () => Promise<void>): Promise<void>;
}

/** Runs `stages` in order; after the last one, the context's reply is written (ctx.respond). */
export function runStages(stages: readonly Stage[], ctx: RequestContext): Promise<void> {
  const step = (i: number): Promise<void> => {
    const stage = stages[i];
    if (stage === undefined) return ctx.respond();
    return stage.run(ctx, () => step(i + 1));
  };
  return step(0);
}
