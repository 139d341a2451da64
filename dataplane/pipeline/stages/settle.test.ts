import { describe, expect, it } from 'vitest';
import type { Admission, Settlement } from '../../governance/types.js';
import type { RequestContext } from '../request-context.js';
import { type Ending, NOTHING_USED, runAdmitted, thenRelease } from './settle.js';

describe('thenRelease', () => {
  it('releases after the later stages, however they ended, as a finally around await next() does', async () => {
    const order: string[] = [];
    const endings: Ending[] = [];
    const release = (ending: Ending): void => {
      order.push('release');
      endings.push(ending);
    };
    await thenRelease(async () => {
      await Promise.resolve();
      order.push('next');
    }, release);
    const failed = new Error('upstream');
    await expect(thenRelease(() => Promise.reject(failed), release)).rejects.toBe(failed);
    // A stage after it that throws at once still makes a rejection, never a synchronous throw.
    let result: Promise<void> | undefined;
    expect(() => {
      result = thenRelease(() => {
        throw failed;
      }, release);
    }).not.toThrow();
    await expect(result).rejects.toBe(failed);
    expect(order).toEqual(['next', 'release', 'release', 'release']);
    // Each release is told how the later stages ended, a throw at once included.
    expect(endings).toEqual([{ failed: false }, { failed: true, error: failed }, { failed: true, error: failed }]);
    // A release that fails replaces the outcome, as an exception in a finally block does.
    const broken = new Error('release');
    await expect(thenRelease(() => Promise.resolve(), () => {
      throw broken;
    })).rejects.toBe(broken);
    await expect(thenRelease(() => Promise.reject(failed), () => {
      throw broken;
    })).rejects.toBe(broken);
  });
});

describe('runAdmitted', () => {
  function admitted(settled: (Settlement | 'threw')[], fails?: Error): Admission {
    return {
      headers: { 'x-ratelimit-limit-requests': '10' },
      charge: () => undefined,
      settle(result) {
        settled.push(result);
        if (fails !== undefined) throw fails;
      },
    };
  }
  const used: Settlement = { usage: { inputTokens: 3, outputTokens: 4, cachedInputTokens: 0 }, costUsd: 0.5 };

  it("puts the headers on, then settles once with the request's settlement after the later stages, as thenRelease does", async () => {
    const settled: (Settlement | 'threw')[] = [];
    const ctx = { headers: { a: '1' }, settlement: undefined as Settlement | undefined } as unknown as RequestContext;
    const order: string[] = [];
    const done = runAdmitted(ctx, async () => {
      await Promise.resolve();
      order.push(`next ${settled.length}`);
      ctx.settlement = used;
    }, admitted(settled));
    expect(ctx.headers).toEqual({ a: '1', 'x-ratelimit-limit-requests': '10' });
    await expect(done).resolves.toBeUndefined();
    expect(order).toEqual(['next 0']);
    expect(settled).toEqual([used]);
    expect(settled[0]).toBe(used);

    // Nothing used: settled with NOTHING_USED, and the failure goes on.
    const failed = new Error('upstream');
    const none: (Settlement | 'threw')[] = [];
    const ctx2 = { headers: {}, settlement: undefined } as unknown as RequestContext;
    await expect(runAdmitted(ctx2, () => Promise.reject(failed), admitted(none))).rejects.toBe(failed);
    expect(none).toEqual([NOTHING_USED]);
    expect(none[0]).toBe(NOTHING_USED);

    // A later stage that throws at once: settled at once, and a rejection, never a synchronous throw.
    const sync: (Settlement | 'threw')[] = [];
    let result: Promise<void> | undefined;
    expect(() => {
      result = runAdmitted({ headers: {}, settlement: undefined } as unknown as RequestContext, () => {
        throw failed;
      }, admitted(sync));
    }).not.toThrow();
    expect(sync).toEqual([NOTHING_USED]);
    await expect(result).rejects.toBe(failed);
  });

  it('lets a settle that throws replace the outcome, as an exception in a finally block does', async () => {
    const broken = new Error('settle');
    const failed = new Error('upstream');
    const ctx = (): RequestContext => ({ headers: {}, settlement: undefined }) as unknown as RequestContext;
    await expect(runAdmitted(ctx(), () => Promise.resolve(), admitted([], broken))).rejects.toBe(broken);
    await expect(runAdmitted(ctx(), () => Promise.reject(failed), admitted([], broken))).rejects.toBe(broken);
    await expect(runAdmitted(ctx(), () => {
      throw failed;
    }, admitted([], broken))).rejects.toBe(broken);
  });
});
