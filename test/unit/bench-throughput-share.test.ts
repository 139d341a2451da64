import { describe, expect, it } from 'vitest';
import { shareOf, shareSystems, visitOrder } from '../../bench/lib/throughput-share.js';
import type { SystemDef } from '../../bench/lib/systems.js';

const def = (key: string, id: SystemDef['id']): SystemDef => ({ key, id, label: key, version: () => '0', start: () => Promise.reject(new Error('not started')), notes: [] });

describe('bench throughput share (issue 15 rows measured in turn)', () => {
  it('takes the Node floor and the governance off/on Tollgate rows, and nothing without a floor', () => {
    const defs = [def('direct', 'direct'), def('node-floor', 'node-floor'), def('tollgate-off', 'tollgate'), def('tollgate-on', 'tollgate'), def('tollgate-off-quiet', 'tollgate')];
    expect(shareSystems(defs).map((d) => d.key)).toEqual(['node-floor', 'tollgate-off', 'tollgate-on']);
    expect(shareSystems(defs.filter((d) => d.id !== 'node-floor'))).toEqual([]);
    expect(shareSystems([def('node-floor', 'node-floor')])).toEqual([]);
  });

  it('visits every row once per round, and each row follows each other row within the rounds', () => {
    const rows = ['floor', 'off', 'on'];
    const orders = Array.from({ length: 6 }, (_, r) => visitOrder(rows, r));
    for (const order of orders) expect([...order].sort()).toEqual([...rows].sort());
    expect(orders.slice(0, 4)).toEqual([
      ['floor', 'off', 'on'],
      ['on', 'off', 'floor'],
      ['off', 'on', 'floor'],
      ['floor', 'on', 'off'],
    ]);
    // Over six rounds every ordered pair (a right after b) occurs equally often.
    const pairs = new Map<string, number>();
    for (const o of orders) for (let i = 1; i < o.length; i++) pairs.set(`${o[i - 1]}>${o[i]}`, (pairs.get(`${o[i - 1]}>${o[i]}`) ?? 0) + 1);
    expect(pairs.size).toBe(6);
    expect(new Set(pairs.values())).toEqual(new Set([2]));
  });

  it('quotes the ratio of means over the rounds both rows have, and each round apart', () => {
    const share = shareOf({ rounds: 3, seconds: 5, rps: { floor: [10_000, 12_000, 11_000], off: [7_000, 9_000] } }, 'floor', 'off');
    expect(share?.ofMeans).toBeCloseTo(16_000 / 22_000, 10);
    expect(share?.perRound).toEqual([0.7, 0.75]);
    expect(shareOf({ rounds: 1, seconds: 5, rps: { floor: [10_000] } }, 'floor', 'on')).toBeUndefined();
  });
});
