import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MALFORMED_KUBECONFIG, MALFORMED_KUBECONFIG_REASON } from '../test/fixtures/kubeconfig/malformed.js';
import { DAY_SUMMARY_ANNOTATION, type Stats, unpackStats, type UsageReportObject } from '../operator/console/web/usage-numbers.js';
import { daySummary } from '../operator/usage/day-summary.js';
import { UsageDay } from '../operator/usage/usage-day.js';
import type { UsageReportStatus } from '../operator/api/usage-report.js';
import { consoleReader, explainRefusal, kubeReader, parseBy, parseSince, ReadRefused, renderJson, renderTable, spendReports, spendRows } from './spend-command.js';

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

  it('writes control and direction characters of a key as escapes, so a name cannot drive the terminal', () => {
    // A public model name is any non-blank text: this one would set the clipboard (OSC 52), erase
    // the line and forge a row, and one with U+202E would print reversed.
    const hostile = '\u001b]52;c;ZXZpbA==\u0007\u001b[2K\r\u001b[1Ateam-b/made-up-row\u202e';
    const out = renderTable({ by: 'route', since: '2026-11-29', today: '2026-12-05' }, [report('team-a', '2026-12-05', { [hostile]: stats(1, 1, 1) })]);
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(out).toContain('\\u{1b}]52;c;ZXZpbA==\\u{7}\\u{1b}[2K\\u{d}\\u{1b}[1Ateam-b/made-up-row\\u{202e}');
  });

  it('gives the raw numbers as JSON', () => {
    const parsed = JSON.parse(renderJson({ by: 'namespace', since: '2026-12-05', today: '2026-12-05', namespace: 'team-a' }, reports)) as { namespace: string; rows: { key: string; requests: number; errors: number }[]; total: { costUsd: number } };
    expect(parsed.namespace).toBe('team-a');
    expect(parsed.rows).toMatchObject([{ key: 'team-a', requests: 13, errors: 2 }]);
    expect(parsed.total.costUsd).toBe(0.75);
  });

  it('writes C1 and direction characters of a key in the JSON as \\uXXXX escapes: the same value, nothing a terminal acts on', () => {
    // JSON.stringify escapes U+0000–U+001F but leaves these raw: U+009B is a CSI on terminals that read C1.
    const hostile = 'a\u009b2K\u0085b\u202ec\u2066d\u2069\u061c\u200e\u007f\n';
    const out = renderJson({ by: 'route', since: '2026-11-29', today: '2026-12-05' }, [report('team-a', '2026-12-05', { [hostile]: stats(1, 1, 1) })]);
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    expect(out).toContain('"key": "a\\u009b2K\\u0085b\\u202ec\\u2066d\\u2069\\u061c\\u200e\\u007f\\n"');
    expect((JSON.parse(out) as { rows: { key: string }[] }).rows[0]?.key).toBe(hostile);
    expect(out.split('\n').length).toBeGreaterThan(10); // still indented
  });
});

describe('tollgate spend: reading', () => {
  // Days of three namespaces made by the operator's own UsageDay: varied routes, models, providers,
  // callers (more than the top 10 kept by name), outcomes and hours.
  const days: { namespace: string; status: UsageReportStatus }[] = [];
  for (const [n, namespace] of ['team-a', 'team-b', 'team-c'].entries()) {
    for (const date of ['2026-11-20', '2026-12-01', '2026-12-05']) {
      const day = new UsageDay(namespace, date);
      for (let i = 1; i <= 60; i++) {
        const outcome = (['ok', 'ok', 'upstream_5xx', 'rate_limited', 'timeout'] as const)[(i + n) % 5] ?? 'ok';
        day.add('p', i, Date.parse(`${date}T00:00:00Z`) + ((i * 7) % 24) * 3_600_000, { namespace, route: `${namespace}/r${i % 4}`, model: `m${i % 3}`, provider: `${namespace}/p${i % 2}`, caller: `sa:${namespace}/c${i % 14}`, outcome, failovers: i % 9 === 0 ? 1 : 0, cacheHit: i % 8 === 0, inputTokens: 10 * i, outputTokens: 3 * i, cachedInputTokens: i % 5, latencyMs: 40 * i, ...(i % 2 === 0 ? { ttftMs: 9 * i } : {}) }, 0.0013 * i + 0.07 * n);
      }
      days.push({ namespace, status: day.toStatus(10, Date.parse(`${date}T23:00:00Z`)) });
    }
  }
  const full = days.map(({ namespace, status }) => ({ metadata: { name: status.date, namespace, annotations: { [DAY_SUMMARY_ANNOTATION]: JSON.stringify(daySummary(status)) } }, status }));
  /** An API server's answers: full or metadata-only lists (with the annotation as written, or as an older operator wrote it), and single reports. */
  const server = (annotate: (r: (typeof full)[number]) => Record<string, string> | undefined = (r) => r.metadata.annotations, refuseGet = false) => {
    const asked: string[] = [];
    const read = async (path: string, metadataOnly: boolean): Promise<unknown> => {
      asked.push(`${path}${metadataOnly ? ' (metadata)' : ''}`);
      const one = /usagereports\/([^/]+)$/.exec(path);
      if (one !== null) {
        if (refuseGet) throw new ReadRefused(403, 'get forbidden');
        return full.find((r) => path.includes(`/namespaces/${r.metadata.namespace}/`) && r.metadata.name === one[1]);
      }
      const items = full.map((r) => {
        const annotations = annotate(r);
        const metadata = { name: r.metadata.name, namespace: r.metadata.namespace, ...(annotations === undefined ? {} : { annotations }) };
        return metadataOnly ? { metadata } : { ...r, metadata };
      });
      return { items };
    };
    return { read, asked };
  };
  const week = { since: '2026-11-29', today: '2026-12-05' };

  it('prints from the day summaries of one metadata-only list the same table and JSON, for every dimension, as from the full reports', async () => {
    for (const by of ['namespace', 'route', 'model', 'provider', 'caller'] as const) {
      const q = { by, ...week };
      const { read, asked } = server();
      const fromSummaries = await spendReports(read, q);
      expect(asked, by).toEqual(['/apis/tollgate.dev/v1alpha1/usagereports (metadata)']);
      expect(renderTable(q, fromSummaries), by).toBe(renderTable(q, full));
      const rounded = (json: string): unknown => JSON.parse(json, (key, v: unknown) => (key === 'costUsd' ? Math.round((v as number) * 1e8) : v));
      expect(rounded(renderJson(q, fromSummaries)), by).toEqual(rounded(renderJson(q, full)));
    }
  });

  it("reads whole only the window's reports whose summary cannot give the numbers: none (an older operator) or v1 for routes, models, callers", async () => {
    // A v1 summary (an older operator): stats as objects, no route, model or caller breakdowns.
    const v1 = (r: (typeof full)[number]) => {
      const v2 = JSON.parse(r.metadata.annotations[DAY_SUMMARY_ANNOTATION]) as { totals: number[]; byProvider: Record<string, number[]>; latencyMs: number[]; ttftMs: number[] };
      const byProvider = Object.fromEntries(Object.entries(v2.byProvider).map(([k, p]) => [k, unpackStats(p)]));
      return { [DAY_SUMMARY_ANNOTATION]: JSON.stringify({ v: 1, date: r.status.date, updatedAt: r.status.updatedAt, totals: unpackStats(v2.totals), histogramBoundsMs: r.status.histogramBoundsMs, latencyMs: v2.latencyMs, ttftMs: v2.ttftMs, byProvider }) };
    };
    // team-a's reports have no summary, team-b's a v1 one, team-c's the current one.
    const mixed = (r: (typeof full)[number]) => (r.metadata.namespace === 'team-a' ? undefined : r.metadata.namespace === 'team-b' ? v1(r) : r.metadata.annotations);
    let s = server(mixed);
    const byRoute = await spendReports(s.read, { by: 'route', ...week });
    expect(s.asked.sort()).toEqual([
      '/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports/2026-12-01',
      '/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports/2026-12-05',
      '/apis/tollgate.dev/v1alpha1/namespaces/team-b/usagereports/2026-12-01',
      '/apis/tollgate.dev/v1alpha1/namespaces/team-b/usagereports/2026-12-05',
      '/apis/tollgate.dev/v1alpha1/usagereports (metadata)',
    ]);
    expect(renderTable({ by: 'route', ...week }, byRoute)).toBe(renderTable({ by: 'route', ...week }, full));
    s = server(mixed);
    await spendReports(s.read, { by: 'namespace', ...week });
    expect(s.asked.filter((p) => p.includes('team-b'))).toEqual([]);
    // May list, may not get: the one full list instead, as before the summaries.
    s = server(mixed, true);
    expect(renderTable({ by: 'caller', ...week }, await spendReports(s.read, { by: 'caller', ...week }))).toBe(renderTable({ by: 'caller', ...week }, full));
    expect(s.asked.at(-1)).toBe('/apis/tollgate.dev/v1alpha1/usagereports');
  });

  it('lists one namespace, following a continue token', async () => {
    const asked: string[] = [];
    const pages = [{ items: [full[0]], metadata: { continue: 'tok/1' } }, { items: [full[1]], metadata: { continue: '' } }];
    const got = await spendReports(async (path) => (asked.push(path), pages[asked.length - 1] ?? {}), { by: 'namespace', namespace: 'team-a', ...week });
    expect(asked).toEqual(['/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports', '/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports?continue=tok%2F1']);
    expect(got.map((r) => r.metadata.name)).toEqual(['2026-11-20', '2026-12-01']);
  });

  it('--console reads at most a bound of each answer, announced or not, and stops there with a clear error', async () => {
    // Before, the whole answer was read into memory, however large.
    const srv = createServer((req, res) => {
      const path = (req.url ?? '').replace(/\?.*$/, '');
      if (path.endsWith('/small')) return void res.end(JSON.stringify({ items: [{ metadata: { name: 'x'.repeat(900) } }] }));
      if (path.endsWith('/announced')) {
        res.writeHead(200, { 'content-length': '5000' });
        return void res.end(JSON.stringify({ items: [{ metadata: { name: 'x'.repeat(4964) } }] }));
      }
      // Unannounced (chunked), and without end: the reader must stop at the bound, not wait for more.
      res.writeHead(path.endsWith('/refused') ? 403 : 200);
      let wrote = 0;
      const chunk = (): void => {
        if (wrote >= 64 * 1024 || res.destroyed) {
          res.end();
          return;
        }
        wrote += 600;
        res.write('x'.repeat(600), chunk);
      };
      chunk();
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const read = consoleReader(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/console`, 't', 1000);
      expect(await read('/small', true)).toMatchObject({ items: [{ metadata: { name: 'x'.repeat(900) } }] });
      await expect(read('/announced', false)).rejects.toThrow("the console's answer to /announced is larger than 1000 bytes; stopped reading it");
      await expect(read('/chunked', false)).rejects.toThrow("the console's answer to /chunked is larger than 1000 bytes");
      await expect(read('/refused', false)).rejects.toThrow('larger than 1000 bytes');
    } finally {
      srv.closeAllConnections();
      await new Promise((resolve) => srv.close(resolve));
    }
  });

  it('says what a refusal means: RBAC across namespaces suggests -n', () => {
    expect(explainRefusal(new ReadRefused(403, 'forbidden'), undefined)).toBe('not allowed to list usagereports in every namespace (403); pass -n <namespace> for one you may read: forbidden');
    expect(explainRefusal(new ReadRefused(403, 'forbidden'), 'team-b')).toBe('not allowed to list usagereports in namespace team-b (403): forbidden');
    expect(explainRefusal(new ReadRefused(401, 'Unauthorized'), 'team-b')).toMatch(/^the credentials were not accepted \(401\)/);
  });

  // The message comes from whatever answered (an API server, a console, any URL given to --console)
  // and names what the user typed (-n): before, it reached the terminal raw, escape sequences included.
  it('prints a refusal with control characters escaped', () => {
    for (const status of [401, 403, 404, 500]) {
      const said = explainRefusal(new ReadRefused(status, 'no\u001b]52;c;aGk=\u0007\u001b[2J\u009b1A'), 'team\u001b[31m-b');
      expect(said).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      expect(said).toContain('no\\u{1b}]52;c;aGk=');
    }
  });

  it('a --kubeconfig that is not valid YAML is reported by its reason and position, never the lines around it (its token)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-spend-'));
    try {
      const path = join(dir, 'kubeconfig');
      writeFileSync(path, MALFORMED_KUBECONFIG);
      await expect(kubeReader(path, undefined)).rejects.toThrow(new Error(`${path}: not valid YAML: ${MALFORMED_KUBECONFIG_REASON}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
