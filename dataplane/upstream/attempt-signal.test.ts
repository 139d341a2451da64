import { describe, expect, it } from 'vitest';
import { AttemptSignal, asAbortSignal } from './attempt-signal.js';

describe('AttemptSignal', () => {
  it('keeps the first reason, and an AbortSignal made from it follows it', () => {
    const signal = new AttemptSignal();
    const follower = asAbortSignal(signal);
    const first = new Error('first');
    signal.abort(first);
    signal.abort(new Error('second'));
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(first);
    expect(follower.aborted).toBe(true);
    expect(follower.reason).toBe(first);
    expect(asAbortSignal(signal).reason).toBe(first);
  });

  it("runs each 'abort' listener once, in order, and none that was removed or came after the abort (what undici and the transport use)", () => {
    const signal = new AttemptSignal();
    const calls: string[] = [];
    const a = (): void => void calls.push('a');
    const b = (): void => void calls.push('b');
    const c = (): void => void calls.push('c');
    const d = (): void => void calls.push('d');
    signal.once('abort', a).on('abort', b).once('abort', c).once('abort', d);
    signal.removeListener('abort', a);
    signal.off('abort', c);
    signal.abort(new Error('timeout'));
    signal.abort(new Error('again'));
    signal.once('abort', a);
    expect(calls).toEqual(['b', 'd']);
    // Removing what is not there (undici's cleanup after the abort) is harmless.
    signal.removeListener('abort', b);
    expect(calls).toEqual(['b', 'd']);
  });
});
