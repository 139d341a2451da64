import { describe, expect, it } from 'vitest';
import { ClientLink } from './client-link.js';

describe('ClientLink', () => {
  it('says whether the client left without making a signal, and makes one that fires when it leaves', () => {
    const link = new ClientLink();
    expect(link.aborted).toBe(false);
    const signal = link.signal;
    expect(signal.aborted).toBe(false);
    const reason = new Error('gone');
    link.abort(reason);
    link.abort(new Error('second'));
    expect(link.aborted).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
  });

  it('gives an already aborted signal, with the first reason, when asked after the client left', () => {
    const link = new ClientLink();
    const reason = new Error('gone');
    link.abort(reason);
    expect(link.signal.aborted).toBe(true);
    expect(link.signal.reason).toBe(reason);
  });
});
