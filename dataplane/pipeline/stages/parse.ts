import type { Stage } from '../stage.js';

/** Reads the body (bounded) and parses it, in the client's dialect, into the canonical request. */
export const parse: Stage = {
  name: 'parse',
  async run(ctx, next) {
    ctx.request = await ctx.readRequest();
    return next();
  },
};
