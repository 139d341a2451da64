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
});
