import { describe, expect, it } from 'vitest';
import type { Stats, UsageReportObject } from '../operator/console/web/usage-numbers.js';
import { explainRefusal, listUsageReports, parseBy, parseSince, ReadRefused, renderJson, renderTable, spendRows } from './spend-command.js';

const NOW = Date.parse('2026-12-05T10:00:00Z');

function stats(requests: number, ok: number, costUsd: number): Stats {
  return { requests, outcomes: { ok, ...(requests > ok ? { upstream_5xx: requests - ok } : {}) }, failovers: 0, cacheHits: 1, inputTokens: 10 * requests, outputTokens: 5 * requests, cachedInputTokens: 0, costUsd };
}

function report(namespace: string, date: string, byRoute: Record<string, Stats>): UsageReportObject {
  const totals = Object.values(byRoute).reduce(
    (t, s) => ({ ...t, requests: t.requests + s.requests, outcomes: { ok: (t.outcomes.ok ?? 0) + (s.outcomes.ok ?? 0) }, costUsd: t.costUsd + s.costUsd, inputTokens: t.inputTokens + s.inputTokens, outputTokens: t.outputTokens + s.outputTokens, cacheHits: t.cacheHits + s.cacheHits }),
    stats(0, 0, 0),
  );
  totals.cacheHits = Object.keys(byRoute).length;
  return {
    metadata: { name: date, namespace },
    status: { date, totals, errors: totals.requests - (totals.outcomes.ok ?? 0), histogramBoundsMs: [50], hours: [{ hour: 3, totals, latencyMs: [1, 0], ttftMs: [], byRoute, byModel: {}, byProvider: {}, byCaller: {} }] },
  };
}

const reports = [
  report('team-a', '2026-12-05', { 'team-a/chat': stats(3, 3, 0.5), 'team-a/embed': stats(10, 8, 0.25) }),
  report('team-a', '2026-12-01', { 'team-a/chat': stats(2, 2, 1) }),
  report('team-b', '2026-12-04', { 'team-b/chat': stats(1000, 1000, 12.5) }),
  // Outside a 7-day window: not counted.
  report('team-b', '2026-11-20', { 'team-b/chat': stats(5, 5, 100) }),
];

describe('tollgate spend: flags', () => {
  it('--since Nd is the last N days, today included (as the console counts its Days); a day counts from that day', () => {
    expect(parseSince('7d', NOW)).toEqual({ since: '2026-11-29', today: '2026-12-05' });
    expect(parseSince('1d', NOW)).toEqual({ since: '2026-12-05', today: '2026-12-05' });
    expect(parseSince('2026-12-01', NOW)).toEqual({ since: '2026-12-01', today: '2026-12-05' });
  });

  it('refuses what it cannot read, with the reason', () => {
    expect(parseSince('0d', NOW)).toEqual({ error: '--since must be at least 1d' });
    expect(parseSince('2026-12-06', NOW)).toEqual({ error: '--since 2026-12-06 is after today (2026-12-05, UTC)' });
    expect(parseSince('a week', NOW)).toMatchObject({ error: expect.stringContaining('7d') as unknown });
    expect(parseBy(undefined)).toEqual({ by: 'namespace' });
    expect(parseBy('caller')).toEqual({ by: 'caller' });
    expect(parseBy('team')).toEqual({ error: '--by takes namespace, route, model, provider, caller; got "team"' });
    expect(parseBy('toString')).toMatchObject({ error: expect.any(String) as unknown });
  });
});

describe('tollgate spend: the numbers', () => {
  it('sums each key over the days of the window, most expensive first, with the window total', () => {
    const { rows, total } = spendRows(reports, { by: 'route', since: '2026-11-29', today: '2026-12-05' });
    expect(rows.map(([key, s]) => [key, s.requests, s.costUsd])).toEqual([
      ['team-b/chat', 1000, 12.5],
      ['team-a/chat', 5, 1.5],
      ['team-a/embed', 10, 0.25],
    ]);
    expect(total.requests).toBe(1015);
    expect(total.costUsd).toBeCloseTo(14.25, 9);
  });

  it('prints a table with the console’s formatting: thousands, dollars, error rate, and a total row', () => {
    const out = renderTable({ by: 'namespace', since: '2026-11-29', today: '2026-12-05' }, reports);
    expect(out.split('\n')).toEqual([
      'Spend by namespace, 2026-11-29 to 2026-12-05 (UTC), every namespace these credentials may list',
      'NAMESPACE  REQUESTS  ERRORS  ERROR RATE    COST  INPUT TOKENS  OUTPUT TOKENS  CACHE HITS',
      'team-b        1,000       0        0.0%  $12.50        10,000          5,000           1',
      'team-a           15       2       13.3%   $1.75           150             75           3',
      'TOTAL         1,015       2        0.2%  $14.25        10,150          5,075           4',
      '',
    ]);
  });

  it('gives the raw numbers as JSON', () => {
    const parsed = JSON.parse(renderJson({ by: 'namespace', since: '2026-12-05', today: '2026-12-05', namespace: 'team-a' }, reports)) as { namespace: string; rows: { key: string; requests: number; errors: number }[]; total: { costUsd: number } };
    expect(parsed.namespace).toBe('team-a');
    expect(parsed.rows).toMatchObject([{ key: 'team-a', requests: 13, errors: 2 }]);
    expect(parsed.total.costUsd).toBe(0.75);
  });
});

describe('tollgate spend: reading', () => {
  it('lists in one namespace or across all, follows a continue token, and skips reports without status', async () => {
    const asked: string[] = [];
    const pages = [
      { items: [reports[0], { metadata: { name: '2026-12-05', namespace: 'team-c' } }], metadata: { continue: 'tok/1' } },
      { items: [reports[1]], metadata: { continue: '' } },
    ];
    const got = await listUsageReports(async (path) => {
      asked.push(path);
      return pages[asked.length - 1] ?? {};
    }, 'team-a');
    expect(asked).toEqual(['/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports', '/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports?continue=tok%2F1']);
    expect(got).toEqual([reports[0], reports[1]]);
    asked.length = 0;
    await listUsageReports(async (path) => (asked.push(path), {}), undefined);
    expect(asked).toEqual(['/apis/tollgate.dev/v1alpha1/usagereports']);
  });

  it('says what a refusal means: RBAC across namespaces suggests -n', () => {
    expect(explainRefusal(new ReadRefused(403, 'forbidden'), undefined)).toBe('not allowed to list usagereports in every namespace (403); pass -n <namespace> for one you may read: forbidden');
    expect(explainRefusal(new ReadRefused(403, 'forbidden'), 'team-b')).toBe('not allowed to list usagereports in namespace team-b (403): forbidden');
    expect(explainRefusal(new ReadRefused(401, 'Unauthorized'), 'team-b')).toMatch(/^the credentials were not accepted \(401\)/);
  });
});
