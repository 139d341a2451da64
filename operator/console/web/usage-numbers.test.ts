import { describe, expect, it } from 'vitest';
import { breakdownRows, days, duration, lastDays, money, packStats, quantile, type Stats, unpackStats, type UsageReportObject, windowOf } from './usage-numbers.js';

const stats = (requests: number, costUsd: number): Stats => ({ requests, outcomes: { ok: requests }, failovers: 0, cacheHits: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, costUsd });
const report = (namespace: string, date: string, s: Stats, latencyMs: number[]): UsageReportObject => ({
  metadata: { name: date, namespace },
  status: { date, totals: s, errors: 0, histogramBoundsMs: [50, 100], hours: [{ hour: 0, totals: s, latencyMs, ttftMs: [], byRoute: {}, byModel: {}, byProvider: { 'x/p': s }, byCaller: {} }] },
});

describe('the numbers the console and tollgate spend share', () => {
  it('formats money for people: cents, four decimals below a dollar, never $0.00 for a cost', () => {
    expect(money(1234.5)).toBe('$1,234.50');
    expect(money(0.0123)).toBe('$0.0123');
    expect(money(0)).toBe('$0.00');
    expect(money(0.00001)).toBe('< $0.0001');
  });

  it('counts the days of a window inclusively, in UTC', () => {
    expect(lastDays(3, Date.parse('2026-03-01T23:30:00Z'))).toEqual({ since: '2026-02-27', today: '2026-03-01' });
    expect(days('2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
  });

  it('sums reports of the window only, and reads percentiles as bucket bounds', () => {
    const reports = [report('a', '2026-03-01', stats(3, 1), [2, 1, 0]), report('b', '2026-03-01', stats(1, 2), [0, 0, 1]), report('a', '2026-02-01', stats(100, 100), [100, 0, 0])];
    const w = windowOf(reports, '2026-02-27', '2026-03-01');
    expect(w.totals.requests).toBe(4);
    expect(w.latency).toEqual([2, 1, 1]);
    expect(quantile(w.latency, w.bounds, 0.5)).toBe(50);
    expect(quantile(w.latency, w.bounds, 0.95)).toBe(Number.POSITIVE_INFINITY);
    expect(duration(Number.POSITIVE_INFINITY)).toBe('> 60 s');
    expect(breakdownRows(reports, 'namespace', '2026-02-27', '2026-03-01').map(([k]) => k)).toEqual(['b', 'a']);
    expect(breakdownRows(reports, 'provider', '2026-02-27', '2026-03-01')).toEqual([['x/p', { ...stats(4, 3), outcomes: { ok: 4 } }]]);
  });

  it('packs stats for the day summary and reads them back the same; anything else is not stats', () => {
    const s: Stats = { requests: 9, outcomes: { ok: 5, upstream_5xx: 3, timeout: 1 }, failovers: 2, cacheHits: 1, inputTokens: 700, outputTokens: 80, cachedInputTokens: 6, costUsd: 0.125 };
    expect(packStats(s)).toEqual([9, 2, 1, 700, 80, 6, 0.125, 5, 0, 0, 0, 0, 0, 3, 1]);
    expect(unpackStats(packStats(s))).toEqual(s);
    expect(unpackStats(packStats(stats(0, 0)))).toEqual({ ...stats(0, 0), outcomes: {} });
    for (const bad of [[1, 2, 3], { requests: 1 }, [1, 2, 3, 4, 5, 6, 'x'], new Array(17).fill(0)]) expect(unpackStats(bad)).toBeUndefined();
  });
});
