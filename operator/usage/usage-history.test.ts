import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { UsageReport } from '../../dataplane/config/usage-report.js';
import type { RequestUsage } from '../../dataplane/config/request-usage.js';
import { MAX_APPLIED_PODS, MAX_BREAKDOWN_KEYS, MAX_TOP_CALLERS, OTHER_KEY, UsageReportStatusSchema } from '../api/usage-report.js';
import { KubeError } from '../kube/kube-client.js';
import { fakeUsageReportsApi as fakeApiServer } from '../../test/support/fake-usage-reports-api.js';
import { breakdownRows, type Dimension, type ReportMetadata, summaryReport, type UsageReportObject, windowOf } from '../console/web/usage-numbers.js';
import { DAY_SUMMARY_ANNOTATION, daySummary } from './day-summary.js';
import { UsageDay } from './usage-day.js';
import { UsageHistory } from './usage-history.js';

const NOON = Date.parse('2026-12-05T12:30:00Z');

const request = (over: Partial<RequestUsage> = {}): RequestUsage => ({
  namespace: 'team-a',
  route: 'team-a/chat',
  model: 'chat',
  provider: 'team-a/openai',
  caller: 'sa:team-a/app',
  outcome: 'ok',
  failovers: 0,
  cacheHit: false,
  inputTokens: 10,
  outputTokens: 5,
  cachedInputTokens: 0,
  latencyMs: 120,
  ...over,
});

function report(pod: string, from: number, n: number, over: Partial<RequestUsage> = {}, at = NOON): UsageReport {
  return { pod, records: Array.from({ length: n }, (_, i) => ({ seq: from + i, at, costUsd: 0.01, tokens: 15, budgetIds: [], request: request(over) })) };
}

function history(api: ReturnType<typeof fakeApiServer>, now = () => NOON, extra: Partial<ConstructorParameters<typeof UsageHistory>[0]> = {}) {
  return new UsageHistory({ client: api.client, logger: pino({ level: 'silent' }), now, ...extra });
}

describe('UsageHistory', () => {
  it('acknowledges records only once the report holding them is written', async () => {
    const api = fakeApiServer();
    const h = history(api);
    expect(await h.handle(report('pod-a', 1, 3))).toBe(0);
    await h.flush();
    // Resent: counted already, and now written.
    expect(await h.handle(report('pod-a', 1, 3))).toBe(Infinity);
    const status = api.objects.get('team-a/2026-12-05')?.status;
    expect(status?.totals.requests).toBe(3);
    expect(status?.totals.costUsd).toBeCloseTo(0.03);
    expect(status?.appliedThrough).toEqual({ 'pod-a': 3 });
    expect(status?.hours.map((x) => x.hour)).toEqual([12]);
  });

  it('counts a resent report once, across an operator restart between the write and the acknowledgement', async () => {
    const api = fakeApiServer();
    const first = history(api);
    await first.handle(report('pod-a', 1, 5));
    await first.flush();
    // The operator died before answering: the pod resends 1..5 with 6..7 to a new operator.
    const second = history(api);
    expect(await second.handle(report('pod-a', 1, 7))).toBe(5);
    await second.flush();
    expect(api.objects.get('team-a/2026-12-05')?.status?.totals.requests).toBe(7);
  });

  // Pod and model names come from reports: read back from status, `__proto__` is a key like any other.
  it('counts a resent report of a pod named __proto__ once across a restart, and keeps a model named __proto__', async () => {
    const api = fakeApiServer();
    const first = history(api);
    await first.handle(report('__proto__', 1, 5, { model: '__proto__' }));
    await first.flush();
    const second = history(api);
    expect(await second.handle(report('__proto__', 1, 7, { model: '__proto__' }))).toBe(5);
    await second.flush();
    const status = JSON.parse(JSON.stringify(api.objects.get('team-a/2026-12-05')?.status)) as { totals: { requests: number }; appliedThrough: Record<string, number>; hours: { byModel: Record<string, { requests: number }> }[] };
    expect(status.totals.requests).toBe(7);
    expect(Object.entries(status.appliedThrough)).toEqual([['__proto__', 7]]);
    expect(Object.entries(status.hours[0]?.byModel ?? {}).map(([k, v]) => [k, v.requests])).toEqual([['__proto__', 7]]);
  });

  it('a conflicting write reloads the report and the resent records are counted into the fresh copy', async () => {
    const api = fakeApiServer();
    const h = history(api);
    await h.handle(report('pod-a', 1, 2));
    await h.flush();
    await h.handle(report('pod-a', 3, 2));
    api.failPut(new KubeError(409, 'conflict'));
    await expect(h.flush()).rejects.toThrow('conflict');
    expect(await h.handle(report('pod-a', 3, 2))).toBe(2);
    await h.flush();
    expect(await h.handle(report('pod-a', 3, 2))).toBe(Infinity);
    expect(api.objects.get('team-a/2026-12-05')?.status?.totals.requests).toBe(4);
  });

  it('a write the API server refuses for good is logged and does not hold back acknowledgements', async () => {
    const api = fakeApiServer();
    const h = history(api);
    await h.handle(report('pod-a', 1, 2));
    api.failPut(new KubeError(403, 'forbidden'));
    await h.flush();
    expect(await h.handle(report('pod-a', 3, 1))).toBe(2);
  });

  it('one report per namespace and day; a late record goes to its own day', async () => {
    const api = fakeApiServer();
    const h = history(api);
    await h.handle({ pod: 'p', records: [...report('p', 1, 1).records, ...report('p', 2, 1, { namespace: 'team-b', route: 'team-b/x' }).records, ...report('p', 3, 1, {}, NOON - 86_400_000).records] });
    await h.flush();
    expect([...api.objects.keys()].sort()).toEqual(['team-a/2026-12-04', 'team-a/2026-12-05', 'team-b/2026-12-05']);
  });

  it('writes each dirty report once per flush, however many pods report', async () => {
    const api = fakeApiServer();
    const h = history(api);
    for (let pod = 0; pod < 20; pod++) await h.handle(report(`pod-${pod}`, 1, 50));
    await h.flush();
    expect(api.calls.filter((c) => c.startsWith('PUT'))).toHaveLength(1);
    expect(api.calls.filter((c) => c.startsWith('PATCH'))).toHaveLength(1);
    expect(api.objects.get('team-a/2026-12-05')?.status?.totals.requests).toBe(1000);
  });

  it('records of namespaces outside the watched scopes and days past the retention are not counted', async () => {
    const api = fakeApiServer();
    const h = history(api, () => NOON, { scopes: ['team-a'], retentionDays: 3 });
    expect(await h.handle({ pod: 'p', records: [...report('p', 1, 1, { namespace: 'team-z' }).records, ...report('p', 2, 1, {}, NOON - 5 * 86_400_000).records] })).toBe(Infinity);
    expect(api.objects.size).toBe(0);
  });

  it("puts the day's summary on the report's metadata: the overview's numbers from it equal the full report's", async () => {
    const api = fakeApiServer();
    const h = history(api);
    const varied = (i: number): Partial<RequestUsage> => ({
      provider: `team-a/p${i % 3}`,
      route: `team-a/r${i % 4}`,
      model: `m${i % 2}`,
      caller: `sa:team-a/c${i % 13}`,
      outcome: i % 5 === 0 ? 'upstream_5xx' : 'ok',
      failovers: i % 7 === 0 ? 1 : 0,
      cacheHit: i % 6 === 0,
      latencyMs: i * 97,
      ...(i % 2 === 0 ? { ttftMs: i * 13 } : {}),
    });
    for (let i = 1; i <= 40; i++) await h.handle(report('pod-a', i, 1, varied(i), NOON + (i % 5) * 3_600_000));
    await h.flush();
    const full = api.objects.get('team-a/2026-12-05') as UsageReportObject & { metadata: { annotations?: Record<string, string> } };
    const summary = summaryReport(full);
    expect(summary, full.metadata.annotations?.[DAY_SUMMARY_ANNOTATION]).toBeDefined();
    const day = '2026-12-05';
    expect(windowOf([summary as UsageReportObject], day, day)).toEqual(windowOf([full], day, day));
    // Every breakdown too: a day keeps the same keys by name in every hour, so summing the hours
    // loses nothing (costs equal to the cent's millionth: the sum of the hours' floats may differ in the last bits).
    const rows = (r: UsageReportObject, by: Dimension) => breakdownRows([r], by, day, day).map(([k, st]) => [k, { ...st, costUsd: Math.round(st.costUsd * 1e8) }]);
    for (const by of ['namespace', 'route', 'model', 'provider', 'caller'] as const) expect(rows(summary as UsageReportObject, by), by).toEqual(rows(full, by));
    // A summary that could not be written (here: a conflict) is written with the report at the next flush.
    await h.handle(report('pod-a', 41, 1));
    const patch = api.client.request;
    api.client.request = async <T>(method: string, path: string, body?: unknown): Promise<T> => (method === 'PATCH' ? Promise.reject(new KubeError(409, 'conflict')) : patch<T>(method, path, body));
    await h.flush();
    api.client.request = patch;
    expect(summaryReport(api.objects.get('team-a/2026-12-05') as UsageReportObject)?.status?.totals.requests).toBe(40);
    await h.flush();
    expect(summaryReport(api.objects.get('team-a/2026-12-05') as UsageReportObject)?.status?.totals.requests).toBe(41);
  });

  it('the retention sweep deletes reports older than the retention only, reading their names from a metadata-only list', async () => {
    const api = fakeApiServer();
    for (const name of ['2026-11-01', '2026-12-01', '2026-12-05']) {
      api.objects.set(`team-a/${name}`, { metadata: { name, namespace: 'team-a', resourceVersion: '1' } });
    }
    const h = history(api, () => NOON, { retentionDays: 7 });
    expect(await h.sweep()).toBe(1);
    expect([...api.objects.keys()].sort()).toEqual(['team-a/2026-12-01', 'team-a/2026-12-05']);
    expect(api.calls.filter((c) => c.startsWith('GET'))).toEqual(['GET /apis/tollgate.dev/v1alpha1/usagereports (metadata only)']);
    // No report yet: the API server answers an empty metadata-only list with `items: null`.
    const empty = history({ ...api, client: { request: async <T>() => ({ items: null }) as T } }, () => NOON, { retentionDays: 7 });
    expect(await empty.sweep()).toBe(0);
  });
});

describe('UsageDay', () => {
  it('sorts outcomes, histograms and breakdowns into hours', () => {
    const day = new UsageDay('team-a', '2026-12-05');
    day.add('p', 1, NOON, request({ outcome: 'ok', latencyMs: 40, ttftMs: 30 }), 0.5);
    day.add('p', 2, NOON, request({ outcome: 'upstream_5xx', failovers: 1, latencyMs: 70_000 }), 0);
    day.add('p', 3, NOON + 3_600_000, request({ outcome: 'rate_limited', cacheHit: true, latencyMs: 1 }), 0);
    const s = day.toStatus(10, NOON);
    expect(s.totals).toMatchObject({ requests: 3, outcomes: { ok: 1, upstream_5xx: 1, rate_limited: 1 }, failovers: 1, cacheHits: 1, costUsd: 0.5 });
    expect(s.errors).toBe(2);
    const [h12, h13] = s.hours;
    expect(h12?.latencyMs[0]).toBe(1);
    expect(h12?.latencyMs.at(-1)).toBe(1);
    expect(h12?.ttftMs[0]).toBe(1);
    expect(h13?.hour).toBe(13);
    expect(h12?.byCaller['sa:team-a/app']?.requests).toBe(2);
    expect(UsageReportStatusSchema.safeParse(s).success).toBe(true);
  });

  it('keeps the top callers by cost and sums the rest', () => {
    const day = new UsageDay('team-a', '2026-12-05');
    for (let i = 0; i < 30; i++) day.add('p', i + 1, NOON, request({ caller: `sa:team-a/c${i}` }), i);
    const callers = day.toStatus(5, NOON).hours[0]?.byCaller ?? {};
    expect(Object.keys(callers).sort()).toEqual(['sa:team-a/c25', 'sa:team-a/c26', 'sa:team-a/c27', 'sa:team-a/c28', 'sa:team-a/c29', OTHER_KEY].sort());
    expect(callers[OTHER_KEY]?.requests).toBe(25);
  });

  it('stays far below the API server size limit at the largest cardinality', () => {
    const day = new UsageDay('team-a', '2026-12-05');
    let seq = 0;
    // Every hour, many distinct routes, models, providers and callers, all outcomes, every pod name.
    for (let hour = 0; hour < 24; hour++) {
      for (let i = 0; i < 400; i++) {
        const r = request({
          route: `team-a/route-with-a-rather-long-name-${i}`,
          model: `model-with-a-rather-long-public-name-${i}`,
          provider: `team-a/provider-with-a-long-name-${i}`,
          caller: `sa:team-a/service-account-with-a-long-name-${i}`,
          outcome: (['ok', 'rate_limited', 'budget_rejected', 'guardrail_blocked', 'rejected', 'upstream_4xx', 'upstream_5xx', 'timeout', 'cancelled'] as const)[i % 9] ?? 'ok',
          failovers: 1,
          cacheHit: true,
          inputTokens: 123_456_789,
          outputTokens: 123_456_789,
          cachedInputTokens: 123_456_789,
          latencyMs: i * 200,
          ttftMs: i * 100,
        });
        day.add(`tollgate-dataplane-7f9c8d6b5-${String(i % 300).padStart(5, 'x')}-0123abcd`, ++seq, Date.parse('2026-12-05T00:00:00Z') + hour * 3_600_000, r, 1234.56789);
      }
    }
    const status = day.toStatus(MAX_TOP_CALLERS, NOON);
    const bytes = Buffer.byteLength(JSON.stringify(status));
    // Its summary is a small annotation (the API server allows 256 KiB of annotations per object):
    // every breakdown summed over the hours, at most 11 + 11 + 11 + 26 keys.
    const summaryBytes = Buffer.byteLength(JSON.stringify(daySummary(status)));
    if (process.env.PRINT_SIZE) console.log(`its day summary: ${summaryBytes} bytes`);
    expect(summaryBytes).toBeLessThan(16 * 1024);
    // etcd's default request limit is 1.5 MiB; a report stays under a third of it.
    if (process.env.PRINT_SIZE) console.log(`largest UsageReport status: ${bytes} bytes`);
    expect(bytes).toBeLessThan(512 * 1024);
    expect(Object.keys(status.appliedThrough)).toHaveLength(MAX_APPLIED_PODS);
    expect(Object.keys(status.hours[0]?.byRoute ?? {})).toHaveLength(MAX_BREAKDOWN_KEYS + 1);
    expect(Object.keys(status.hours[0]?.byCaller ?? {})).toHaveLength(MAX_TOP_CALLERS + 1);
    expect(UsageReportStatusSchema.safeParse(status).success).toBe(true);
  });

  // Each record's token counts are safe integers (the intake refuses others), their sums were not:
  // the status then failed its own schema, and the next leader counted the day from zero.
  it('holds token sums at the largest safe integer, so the status can be read back', () => {
    const day = new UsageDay('team-a', '2026-12-05');
    const huge = { inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: Number.MAX_SAFE_INTEGER, cachedInputTokens: Number.MAX_SAFE_INTEGER };
    day.add('p', 1, NOON, request(huge), 1);
    day.add('p', 2, NOON, request(huge), 1);
    day.add('p', 3, NOON + 3_600_000, request(huge), 1);
    const status = day.toStatus(MAX_TOP_CALLERS, NOON);
    expect(UsageReportStatusSchema.safeParse(status).success).toBe(true);
    expect(status.totals.inputTokens).toBe(Number.MAX_SAFE_INTEGER);
    expect(status.hours[0]?.totals.outputTokens).toBe(Number.MAX_SAFE_INTEGER);
    // Read back by the next leader: the counts are there, not zero.
    expect(new UsageDay('team-a', '2026-12-05', status).toStatus(MAX_TOP_CALLERS, NOON).totals.requests).toBe(3);
  });

  it('past MAX_APPLIED_PODS forgets names no data-plane pod has before any real pod', () => {
    const day = new UsageDay('team-a', '2026-12-05', undefined, (pod) => (pod.startsWith('dp-') ? 1 : 0));
    const real = Array.from({ length: MAX_APPLIED_PODS - 5 }, (_, i) => `dp-${i}-0000abcd`);
    for (const pod of real) day.add(pod, 1, NOON, request({}), 0);
    for (let i = 0; i < 200; i++) day.add(`fake-${i}-12345678`, 1, NOON, request({}), 0);
    const kept = Object.keys(day.toStatus(MAX_TOP_CALLERS, NOON).appliedThrough);
    expect(kept).toHaveLength(MAX_APPLIED_PODS);
    expect(kept).toEqual(expect.arrayContaining(real));
    // A real pod's resent record is still known as counted.
    expect(day.add('dp-0-0000abcd', 1, NOON, request({}), 0)).toBe(false);
  });

  it('keeps a breakdown key named __proto__ (a valid public model) as an entry, through the summary to the console', () => {
    const day = new UsageDay('team-a', '2026-12-05');
    day.add('pod-a', 1, NOON, request({ model: 'gpt-4o' }), 1);
    day.add('pod-a', 2, NOON, request({ model: '__proto__', route: 'team-a/hidden' }), 1000);
    const status = day.toStatus(MAX_TOP_CALLERS, NOON);
    expect(Object.keys(JSON.parse(JSON.stringify(status.hours[0]?.byModel)) as object).sort()).toEqual(['__proto__', 'gpt-4o']);
    const report: ReportMetadata = { metadata: { name: '2026-12-05', namespace: 'team-a', annotations: { [DAY_SUMMARY_ANNOTATION]: JSON.stringify(daySummary(status)) } } };
    const summary = summaryReport(report);
    if (summary === undefined) throw new Error('no summary');
    expect(breakdownRows([summary], 'model', '2026-12-05', '2026-12-05').map(([k, s]) => [k, s.costUsd])).toEqual([
      ['__proto__', 1000],
      ['gpt-4o', 1],
    ]);
    expect(Object.prototype).not.toHaveProperty('costUsd');
  });
});
