import { describe, expect, it } from 'vitest';
import type { RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import { ClientLink } from '../routing/client-link.js';
import { RequestContext } from './request-context.js';
import type { UsageSink } from '../metering/usage-record.js';
import type { Router } from '../routing/router.js';
import { runStages, type Stage, StageChain } from './stage.js';
import { requestStages } from './stage-list.js';

function context(log: string[], runtime = {} as RuntimeSnapshot): RequestContext {
  return new RequestContext({
    runtime,
    readRequest: () => Promise.resolve({ op: 'chat', body: { model: 'm' }, stream: false, clientWantsUsage: false }),
    requestId: 'r',
    header: () => undefined,
    client: new ClientLink(),
    respond: () => {
      log.push('respond');
      return Promise.resolve();
    },
  });
}

/** A stage that logs when it runs and when its cleanup runs. */
const logging = (name: string, log: string[], behave: 'next' | 'answer' | 'refuse' = 'next'): Stage => ({
  name,
  async run(ctx, next) {
    log.push(name);
    try {
      if (behave === 'answer') return await ctx.respond();
      if (behave === 'refuse') throw new Error(`${name} refused`);
      await next();
    } finally {
      log.push(`${name} done`);
    }
  },
});

describe('runStages', () => {
  it('runs the stages in order, writes the reply after the last, and cleans up inside out after it was written', async () => {
    const log: string[] = [];
    await runStages([logging('a', log), logging('b', log)], context(log));
    expect(log).toEqual(['a', 'b', 'respond', 'b done', 'a done']);
  });

  it('stops at a stage that answers itself; the stages before it still clean up', async () => {
    const log: string[] = [];
    await runStages([logging('a', log), logging('cache', log, 'answer'), logging('c', log)], context(log));
    expect(log).toEqual(['a', 'cache', 'respond', 'cache done', 'a done']);
  });

  it('propagates a refusal after every earlier stage cleaned up, and writes nothing', async () => {
    const log: string[] = [];
    await expect(runStages([logging('a', log), logging('guard', log, 'refuse'), logging('c', log)], context(log))).rejects.toThrow('guard refused');
    expect(log).toEqual(['a', 'guard', 'guard done', 'a done']);
  });
});

describe('StageChain', () => {
  it("leaves out, per snapshot, the stages that say they have nothing to do on it, asking each once per snapshot", async () => {
    const log: string[] = [];
    const asked: string[] = [];
    const withPolicy = { snapshot: { version: 'with' } } as unknown as RuntimeSnapshot;
    const without = { snapshot: { version: 'without' } } as unknown as RuntimeSnapshot;
    const policy: Stage = {
      ...logging('policy', log),
      appliesTo: (runtime) => {
        asked.push(runtime.snapshot.version);
        return runtime === withPolicy;
      },
    };
    const chain = new StageChain([logging('a', log), policy, logging('c', log)]);
    await chain.run(context(log, without));
    await chain.run(context(log, without));
    expect(log).toEqual(['a', 'c', 'respond', 'c done', 'a done', 'a', 'c', 'respond', 'c done', 'a done']);
    log.length = 0;
    await chain.run(context(log, withPolicy));
    expect(log).toEqual(['a', 'policy', 'c', 'respond', 'c done', 'policy done', 'a done']);
    expect(asked).toEqual(['without', 'with']);
  });
});

describe('requestStages', () => {
  it('leaves rate limits and budgets out on a snapshot without any, and keeps each where its policy exists', () => {
    const admitter = { admit: () => Promise.resolve({ headers: {}, settle: () => undefined, charge: () => undefined }) };
    const chain = new StageChain(requestStages({ router: {} as Router, usage: {} as UsageSink, rateLimiter: admitter, admitters: [admitter] }));
    const names = (routes: object[], budgets: object[]): string[] => chain.for({ snapshot: { routes, budgets } } as unknown as RuntimeSnapshot).map((s) => s.name);
    expect(names([{ id: 'a/plain' }], [])).toEqual(['identify', 'parse', 'match-route', 'access', 'serve', 'meter']);
    expect(names([{ id: 'a/plain' }, { id: 'a/limited', rateLimits: [{ per: 'Route', requestsPerMinute: 5 }] }], [])).toContain('rate-limit');
    expect(names([{ id: 'a/plain' }], [{ id: 'a/monthly' }])).toEqual(['identify', 'parse', 'match-route', 'access', 'budget', 'serve', 'meter']);
  });
});
