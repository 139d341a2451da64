import { describe, expect, it } from 'vitest';
import { thenRelease } from './settle.js';

describe('thenRelease', () => {
  it('releases after the later stages, however they ended, as a finally around await next() does', async () => {
    const order: string[] = [];
    const release = (): void => {
      order.push('release');
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
