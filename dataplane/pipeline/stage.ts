import type { RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import type { RequestContext } from './request-context.js';

/**
 * One step of the request path. A stage reads and sets what it owns on the context, then calls
 * `next()` once to run the stages after it (and, at the end, the write-back), or returns without
 * calling it to stop the request there (having answered, as the cache does on a hit) or throws a
 * GatewayError to refuse it. What a stage holds (a reservation, a lease) it releases in its own
 * `finally` around `next()`: that runs after the response was written, however the request ended.
 */
export interface Stage {
  readonly name: string;
  run(ctx: RequestContext, next: () => Promise<void>): Promise<void>;
  /**
   * False when the stage has nothing to do for any request on `runtime` (the snapshot holds no
   * policy of its kind): the chain leaves it out for every request pinned to that snapshot. Asked
   * once per snapshot; a stage without it always runs.
   */
  appliesTo?(runtime: RuntimeSnapshot): boolean;
}

/** One request's walk down the stages: one object and one `next` per request, not a closure per stage. */
class StageRun {
  private index = 0;

  constructor(
    private readonly stages: readonly Stage[],
    private readonly ctx: RequestContext,
    /** What runs after the last stage; the write-back (ctx.respond) when absent, without a closure per request. */
    private readonly end?: () => Promise<void>,
  ) {}

  readonly next = (): Promise<void> => {
    const stage = this.stages[this.index++];
    if (stage !== undefined) return stage.run(this.ctx, this.next);
    return this.end === undefined ? this.ctx.respond() : this.end();
  };
}

/** Runs `stages` in order; after the last one, the context's reply is written (ctx.respond). */
export function runStages(stages: readonly Stage[], ctx: RequestContext): Promise<void> {
  return new StageRun(stages, ctx).next();
}

/** Runs `stages` in order, then `end` (the rest of an outer chain) in place of the write-back. */
export function runStagesThen(stages: readonly Stage[], ctx: RequestContext, end: () => Promise<void>): Promise<void> {
  return new StageRun(stages, ctx, end).next();
}

/**
 * The request path compiled per snapshot: the stages that apply to it (see Stage.appliesTo), in
 * order, worked out when the first request on a snapshot arrives and kept while it is in use.
 */
export class StageChain {
  private readonly bySnapshot = new WeakMap<RuntimeSnapshot, readonly Stage[]>();

  constructor(readonly stages: readonly Stage[]) {}

  /** The stages a request on `runtime` runs through. */
  for(runtime: RuntimeSnapshot): readonly Stage[] {
    let chain = this.bySnapshot.get(runtime);
    if (chain === undefined) {
      chain = this.stages.filter((s) => s.appliesTo === undefined || s.appliesTo(runtime));
      this.bySnapshot.set(runtime, chain);
    }
    return chain;
  }

  /** Runs the request through its snapshot's stages, then writes the reply. */
  run(ctx: RequestContext): Promise<void> {
    return runStages(this.for(ctx.runtime), ctx);
  }
}
