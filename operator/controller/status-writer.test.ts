import { describe, expect, it } from 'vitest';
import { StatusWriter } from './status-writer.js';

describe('StatusWriter', () => {
  it('tries every write, reports the first failure once when drained, and drops what a newer set does not name', async () => {
    const written: string[] = [];
    const failures: unknown[] = [];
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const writer = new StatusWriter<number>({
      concurrency: 2,
      canWrite: () => true,
      write: async (key, job) => {
        await gate;
        if (key === 'b') throw new Error(`b ${job} refused`);
        written.push(`${key}:${job}`);
      },
      onFailed: (err) => failures.push(err),
    });
    writer.replace(new Map([['a', 1], ['b', 1], ['c', 1], ['d', 1]]));
    // a and b are in flight; c is no longer wanted, d is wanted newer.
    writer.replace(new Map([['d', 2]]));
    release();
    const failure = await writer.idle();
    expect(written.sort()).toEqual(['a:1', 'd:2']);
    expect((failure?.err as Error).message).toBe('b 1 refused');
    expect(failures).toHaveLength(1);
    // The next drain starts clean.
    writer.replace(new Map([['e', 1]]));
    expect(await writer.idle()).toBeUndefined();
    expect(failures).toHaveLength(1);
  });
});
