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

  it('calls onAbort listeners once with the first reason, not after they stop listening, and not once the client has left', () => {
    const link = new ClientLink();
    const heard: string[] = [];
    const a = (r: Error): number => heard.push(`a:${r.message}`);
    const b = (r: Error): number => heard.push(`b:${r.message}`);
    const c = (r: Error): number => heard.push(`c:${r.message}`);
    const d = (r: Error): number => heard.push(`d:${r.message}`);
    link.onAbort(d);
    link.onAbort(a);
    link.onAbort(b);
    link.onAbort(c);
    link.offAbort(d);
    link.offAbort(b);
    link.offAbort(b);
    const signal = link.signal;
    link.abort(new Error('gone'));
    link.abort(new Error('second'));
    expect(heard).toEqual(['a:gone', 'c:gone']);
    expect(signal.reason).toEqual(new Error('gone'));
    link.onAbort((r) => heard.push(`late:${r.message}`));
    link.abort(new Error('third'));
    expect(heard).toEqual(['a:gone', 'c:gone']);
  });
});
