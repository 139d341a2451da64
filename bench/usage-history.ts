/**
 * Usage history (issue 18): what 20 data planes reporting at full load cost the API server, and how
 * fast the console and `tollgate spend` read 30 days × 50 namespaces of UsageReports.
 *
 * A real kube-apiserver + etcd (test/cluster) and one operator process, inside the private network
 * namespace of test/integration/run-in-netns.sh.
 *
 * 1. Reporting: 20 data-plane usage reporters (the data plane's own UsageReporter, one per pod name,
 *    in this process: 20 gateway processes at full load do not fit on the machine) send one record
 *    per request, at USAGE_BENCH_RATE requests/s per pod for USAGE_BENCH_SECONDS, spread over 50
 *    namespaces, 5 routes, 3 providers and 20 callers each, on the real usage channel (POST /v1/usage
 *    on the operator port). Measured: the operator's UsageReport writes (its metric) and the API
 *    server's own count of usagereports requests (apiserver_request_total), per second; records
 *    acknowledged per second; the backlog; then that the written reports hold exactly the requests
 *    sent (nothing lost, nothing counted twice).
 * 2. Reading: 29 more days of reports for the same 50 namespaces (made with the operator's own
 *    UsageDay from ~1,000 requests each and written as the operator writes them, day summary
 *    annotation included, so 30 × 50 objects in all), then the console's overview in Debian's
 *    Chromium (playwright-core) through the operator, with a ServiceAccount token that may read every
 *    namespace, for Days = 7 and 30 (click on Load → the overview rendered), USAGE_BENCH_OVERVIEW_ROUNDS
 *    loads each, interleaved with what the overview read before (the full list, fetched and parsed in
 *    the same page); the breakdown by route (full reports of 7 days); where the time goes (the API
 *    server's full and metadata-only lists, transfer and parse apart); and `tollgate spend --by route`
 *    for 7d and 30d (process start to exit).
 *
 *   make bench-usage       # = test/integration/run-in-netns.sh node --import tsx bench/usage-history.ts
 *   USAGE_BENCH_SECONDS=10 make bench-usage   # shorter; report under bench/results/raw/
 *   USAGE_BENCH_PARTS=read make bench-usage   # the reading part only (30 days written directly)
 *
 * Loopback and the netns only; bounded in time; stops everything it started.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { BudgetLedger } from '../dataplane/governance/budget/budget-ledger.js';
import { UsageReporter } from '../dataplane/governance/budget/usage-reporter.js';
import { KubeClient } from '../operator/kube/kube-client.js';
import { unpackStats } from '../operator/console/web/usage-numbers.js';
import type { UsageReportStatus } from '../operator/api/usage-report.js';
import { DAY_SUMMARY_ANNOTATION, daySummary } from '../operator/usage/day-summary.js';
import { UsageDay } from '../operator/usage/usage-day.js';
import { apiserverRequests, countsSince, reportAtRate, stopOnceOnLimitOrSignal, usageNamespace, usageRequest } from './lib/usage-load.js';
import { dataplaneService, PLATFORM_VIEWER, type Proc, startOperator, startTestCluster, type TestCluster, TOKEN, tokenKubeconfig } from '../test/integration/harness.js';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PODS = 20;
const NAMESPACES = 50;
const DAYS = 30;
const RATE = Number(process.env.USAGE_BENCH_RATE ?? '500');
const SECONDS = Number(process.env.USAGE_BENCH_SECONDS ?? '30');
const READ_ROUNDS = Number(process.env.USAGE_BENCH_READ_ROUNDS ?? '3');
const OVERVIEW_ROUNDS = Number(process.env.USAGE_BENCH_OVERVIEW_ROUNDS ?? '5');
const BREAKDOWN_ROUNDS = Number(process.env.USAGE_BENCH_BREAKDOWN_ROUNDS ?? '3');
const SPEND_ROUNDS = Number(process.env.USAGE_BENCH_SPEND_ROUNDS ?? READ_ROUNDS);
const PARTS = (process.env.USAGE_BENCH_PARTS ?? 'report,read').split(',');
const OPERATOR_PORT = 19392;
const FULL = SECONDS >= 30 && READ_ROUNDS >= 3 && OVERVIEW_ROUNDS >= 5 && PARTS.includes('report');
const HARD_LIMIT_MS = Number(process.env.USAGE_BENCH_LIMIT_MINUTES ?? '60') * 60_000;

if (process.env.TOLLGATE_IN_NETNS !== '1') {
  process.stderr.write('usage-history: run inside test/integration/run-in-netns.sh (make bench-usage does)\n');
  process.exit(2);
}

function log(message: string): void {
  process.stderr.write(`[usage ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

let cluster: TestCluster | undefined;
let operator: Proc | undefined;
const reporters: UsageReporter[] = [];
const cleanup = stopOnceOnLimitOrSignal(
  HARD_LIMIT_MS,
  async () => {
    for (const r of reporters) await r.drain(0).catch(() => undefined);
    await operator?.kill('SIGKILL').catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  },
  log,
);

const ns = usageNamespace;
const request = (): ReturnType<typeof usageRequest> => usageRequest(NAMESPACES);

/** Sum of Prometheus text samples whose line matches. */
function sumSamples(text: string, match: (line: string) => boolean): number {
  let total = 0;
  for (const line of text.split('\n')) if (!line.startsWith('#') && match(line)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

async function operatorWrites(): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${OPERATOR_PORT}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return sumSamples(await res.text(), (l) => l.startsWith('tollgate_operator_usage_report_writes_total'));
}

interface ReportingResult {
  records: number;
  seconds: number;
  drainSeconds: number;
  ackedPerSecond: number;
  maxBacklog: number;
  historyDropped: number;
  operatorWrites: number;
  apiserver: Record<string, number>;
  reportsWritten: number;
  counted: number;
  reportBytes: { max: number; mean: number };
}

async function reporting(k: TestCluster, client: KubeClient): Promise<ReportingResult> {
  const logger = pino({ level: 'silent' });
  for (let i = 0; i < PODS; i++) {
    const r = new UsageReporter(new BudgetLedger(`bench-pod-${i}`, { standalone: false }), { operatorUrl: `http://127.0.0.1:${OPERATOR_PORT}`, token: TOKEN, logger });
    r.start();
    reporters.push(r);
  }
  const writes0 = await operatorWrites();
  const api0 = apiserverRequests(k, 'usagereports').byVerb;
  const { records, maxBacklog, started, loadEnd, drained } = await reportAtRate(reporters, { rate: RATE, seconds: SECONDS, namespaces: NAMESPACES, drainLimitMs: 300_000 });
  const writes = (await operatorWrites()) - writes0;
  const api = countsSince(apiserverRequests(k, 'usagereports').byVerb, api0);
  const historyDropped = reporters.reduce((sum, r) => sum + r.historyDropped, 0);
  const list = await client.request<{ items: { status?: { totals: { requests: number } } }[] }>('GET', '/apis/tollgate.dev/v1alpha1/usagereports');
  const sizes = list.items.map((i) => JSON.stringify(i).length);
  return {
    records,
    seconds: (loadEnd - started) / 1000,
    drainSeconds: (drained - loadEnd) / 1000,
    ackedPerSecond: (records - historyDropped) / ((drained - started) / 1000),
    maxBacklog,
    historyDropped,
    operatorWrites: writes,
    apiserver: api,
    reportsWritten: list.items.length,
    counted: list.items.reduce((n, i) => n + (i.status?.totals.requests ?? 0), 0),
    reportBytes: { max: Math.max(...sizes), mean: Math.round(sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length)) },
  };
}

type Variant = 'v1' | 'v2';
/** Per report (namespace/name), its day summary as this operator writes it (v2) and as the one before wrote it (v1: no route, model or caller breakdowns). */
const summaries = new Map<string, Record<Variant, string>>();
let summariesNow: Variant = 'v2';

function summaryVariants(status: UsageReportStatus): Record<Variant, string> {
  const v2 = daySummary(status);
  const byProvider = Object.fromEntries(Object.entries(v2.byProvider).map(([k, p]) => [k, unpackStats(p)]));
  const v1 = { v: 1, date: v2.date, updatedAt: v2.updatedAt, totals: status.totals, histogramBoundsMs: v2.histogramBoundsMs, latencyMs: v2.latencyMs, ttftMs: v2.ttftMs, byProvider };
  return { v1: JSON.stringify(v1), v2: JSON.stringify(v2) };
}

/**
 * Puts every report's summary of one format on (a merge patch each, six at a time): the same
 * reports read with the summaries before and after this change, in alternating rounds.
 */
async function useSummaries(client: KubeClient, variant: Variant): Promise<void> {
  if (summariesNow === variant) return;
  const started = Date.now();
  const jobs = [...summaries];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      const [key, variants] = job;
      const [namespace = '', name = ''] = key.split('/');
      for (let attempt = 1; ; attempt++) {
        try {
          await client.request('PATCH', `/apis/tollgate.dev/v1alpha1/namespaces/${namespace}/usagereports/${name}`, { metadata: { annotations: { [DAY_SUMMARY_ANNOTATION]: variants[variant] } } }, 'application/merge-patch+json');
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  summariesNow = variant;
  log(`summaries ${variant} on ${jobs.length} reports in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * Earlier days for each namespace (from `firstDay` days ago back to the 30th), made by the operator's
 * own UsageDay from ~1,000 requests each and written as the operator writes a report: created, then
 * its status, with its day summary annotation.
 */
async function history(client: KubeClient, firstDay: number): Promise<{ objects: number; seconds: number }> {
  const started = Date.now();
  const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
  const jobs: { namespace: string; date: string; dayStart: number }[] = [];
  for (let d = firstDay; d < DAYS; d++) {
    for (let i = 0; i < NAMESPACES; i++) jobs.push({ namespace: ns(i), date: new Date(today - d * 86_400_000).toISOString().slice(0, 10), dayStart: today - d * 86_400_000 });
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      const day = new UsageDay(job.namespace, job.date);
      for (let seq = 1; seq <= 1000; seq++) {
        const one = request();
        day.add('history', seq, job.dayStart + Math.floor(Math.random() * 86_400_000), { ...one.request, namespace: job.namespace, route: one.request.route?.replace(/^team-\d+/, job.namespace), provider: one.request.provider?.replace(/^team-\d+/, job.namespace), caller: one.request.caller?.replace(/team-\d+/, job.namespace) }, one.costUsd);
      }
      const path = `/apis/tollgate.dev/v1alpha1/namespaces/${job.namespace}/usagereports`;
      const status = day.toStatus(10, Date.now());
      const variants = summaryVariants(status);
      summaries.set(`${job.namespace}/${job.date}`, variants);
      // The summary goes on at creation here (the operator patches it on after each status write: one write less for the bench).
      const annotations = { [DAY_SUMMARY_ANNOTATION]: variants.v2 };
      // A busy API server may time a request out: read back what is there and write again.
      for (let attempt = 1; ; attempt++) {
        try {
          const existing = attempt === 1 ? undefined : await client.request<object>('GET', `${path}/${job.date}`).catch(() => undefined);
          const created = existing ?? (await client.request<object>('POST', path, { apiVersion: 'tollgate.dev/v1alpha1', kind: 'UsageReport', metadata: { name: job.date, namespace: job.namespace, annotations }, spec: {} }));
          await client.request('PUT', `${path}/${job.date}/status`, { ...created, status });
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          log(`history ${job.namespace}/${job.date}: ${(err as Error).message}; again`);
        }
      }
    }
  };
  const progress = setInterval(() => log(`history: ${next}/${jobs.length} reports`), 30_000);
  await Promise.all(Array.from({ length: 6 }, worker)).finally(() => clearInterval(progress));
  return { objects: jobs.length, seconds: (Date.now() - started) / 1000 };
}

interface Timing {
  label: string;
  ms: number[];
}
const META = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

interface ConsoleResult {
  timings: Timing[];
  /** The metadata-only list (what the console reads) with each summary format: size and transfer. */
  lists: Breakdown[];
}

/**
 * The console in Chromium, the same 1,500 reports with the summaries before this change (v1) and
 * after (v2), in alternating rounds (v2 v1, v1 v2, ...) so load moves both alike: the overview
 * (click on Load → rendered) for Days = 7 and 30, the breakdown by route over 7 days (select →
 * table: from v2 summaries; with v1 ones the console reads those days' full reports, as before),
 * and the metadata-only list from Node (size, transfer and parse).
 */
async function consoleLoads(client: KubeClient, token: string): Promise<ConsoleResult> {
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser']).toString().trim();
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  const named = (v: Variant): string => (v === 'v1' ? 'before (v1 summaries: no route, model, caller)' : 'after (v2 summaries: every breakdown)');
  const timing = (label: string): Timing => ({ label, ms: [] });
  const overview = { v1: { 7: timing(`console overview, Days = 7, ${named('v1')}`), 30: timing(`console overview, Days = 30, ${named('v1')}`) }, v2: { 7: timing(`console overview, Days = 7, ${named('v2')}`), 30: timing(`console overview, Days = 30, ${named('v2')}`) } };
  const byRoute = { v1: timing(`console breakdown by route, Days = 7, ${named('v1')}`), v2: timing(`console breakdown by route, Days = 7, ${named('v2')}`) };
  const lists: Record<Variant, Breakdown> = {
    v1: { label: `API server: metadata-only list, ${named('v1')}`, transferMs: [], parseMs: [], bytes: 0, managedFieldsBytes: 0 },
    v2: { label: `API server: metadata-only list, ${named('v2')}`, transferMs: [], parseMs: [], bytes: 0, managedFieldsBytes: 0 },
  };
  try {
    for (let round = 0; round < OVERVIEW_ROUNDS; round++) {
      for (const variant of (round % 2 === 0 ? ['v2', 'v1'] : ['v1', 'v2']) as Variant[]) {
        await useSummaries(client, variant);
        const one = await timedList(client, token, '/apis/tollgate.dev/v1alpha1/usagereports', META);
        const l = lists[variant];
        l.transferMs.push(Math.round(one.transferMs));
        l.parseMs.push(Math.round(one.parseMs));
        l.bytes = one.bytes;
        l.managedFieldsBytes = one.managedFieldsBytes;
        for (const days of [7, 30] as const) {
          const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
          await page.goto(`http://127.0.0.1:${OPERATOR_PORT}/console/`);
          await page.fill('#token', token);
          await page.fill('#days', String(days));
          const started = Date.now();
          await page.click('button[type=submit]');
          await page.waitForSelector('#message[data-state=done] ~ main [data-testid=requests]', { timeout: 120_000 });
          overview[variant][days].ms.push(Date.now() - started);
          if (round < 2) log(`console ${variant}, ${days} days: ${(await page.textContent('#message')) ?? ''} requests ${(await page.textContent('[data-testid=requests]')) ?? ''}`);
          if (days === 7 && round < BREAKDOWN_ROUNDS) {
            await page.click('[data-view=breakdown]');
            const t0 = Date.now();
            await page.selectOption('#dimension', 'route');
            await page.waitForSelector('[data-testid=breakdown][data-dimension=route]', { timeout: 120_000 });
            byRoute[variant].ms.push(Date.now() - t0);
            if (round === 0) log(`console ${variant}, by route: ${JSON.stringify(await page.$$eval('[data-testid=breakdown] tbody tr', (trs) => trs.slice(0, 2).map((tr) => tr.textContent)))}`);
          }
          await page.close();
        }
      }
    }
  } finally {
    await browser.close();
  }
  return { timings: [overview.v1[7], overview.v2[7], overview.v1[30], overview.v2[30], byRoute.v1, byRoute.v2], lists: [lists.v1, lists.v2] };
}

/** One read of the API server with the viewer's token, transfer and JSON parse timed apart. */
async function timedList(client: KubeClient, token: string, path: string, accept?: string): Promise<{ transferMs: number; parseMs: number; bytes: number; managedFieldsBytes: number }> {
  const t0 = performance.now();
  // Over the client's 30 s (a loaded machine): counted as not done (NaN).
  const answer = await client.getAs(path, token, accept).catch(() => ({ status: 0, body: '{"items":[]}' }));
  if (answer.status === 0) return { transferMs: NaN, parseMs: NaN, bytes: NaN, managedFieldsBytes: NaN };
  const t1 = performance.now();
  const list = JSON.parse(answer.body) as { items: { metadata: { managedFields?: unknown } }[] };
  const t2 = performance.now();
  if (answer.status !== 200) throw new Error(`${path}: ${answer.status}`);
  const managedFieldsBytes = list.items.reduce((n, i) => n + JSON.stringify(i.metadata.managedFields ?? []).length, 0);
  return { transferMs: t1 - t0, parseMs: t2 - t1, bytes: Buffer.byteLength(answer.body), managedFieldsBytes };
}

interface Breakdown {
  label: string;
  transferMs: number[];
  parseMs: number[];
  bytes: number;
  managedFieldsBytes: number;
}

/** Where the time of a read goes: the API server's full list and its metadata-only list, directly and through the operator, interleaved. */
async function whereTheTimeGoes(client: KubeClient, token: string): Promise<Breakdown[]> {
  const path = '/apis/tollgate.dev/v1alpha1/usagereports';
  const reads: { label: string; run: () => ReturnType<typeof timedList> }[] = [
    { label: 'API server: full list', run: () => timedList(client, token, path) },
    { label: 'API server: metadata-only list (PartialObjectMetadataList)', run: () => timedList(client, token, path, META) },
    {
      label: 'operator console API: ?as=metadata (what the overview reads)',
      run: async () => {
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:${OPERATOR_PORT}/console/api/k8s${path}?as=metadata`, { headers: { authorization: `Bearer ${token}` } });
        const body = await res.text();
        const t1 = performance.now();
        const list = JSON.parse(body) as { items: { metadata: { managedFields?: unknown } }[] };
        const t2 = performance.now();
        return { transferMs: t1 - t0, parseMs: t2 - t1, bytes: Buffer.byteLength(body), managedFieldsBytes: list.items.reduce((n, i) => n + JSON.stringify(i.metadata.managedFields ?? []).length, 0) };
      },
    },
  ];
  const out: Breakdown[] = reads.map((r) => ({ label: r.label, transferMs: [], parseMs: [], bytes: 0, managedFieldsBytes: 0 }));
  for (let round = 0; round < READ_ROUNDS; round++) {
    for (const [i, r] of reads.entries()) {
      const one = await r.run();
      const b = out[i] as Breakdown;
      b.transferMs.push(Math.round(one.transferMs));
      b.parseMs.push(Math.round(one.parseMs));
      b.bytes = one.bytes;
      b.managedFieldsBytes = one.managedFieldsBytes;
    }
  }
  return out;
}

/**
 * `tollgate spend` (process start to exit) for a few queries, this build's CLI (day summaries) in
 * alternating rounds with USAGE_BENCH_BEFORE_CLI when given (an older build's dist/cli/tollgate.js:
 * it lists the full reports), each round checking that both print the same table.
 */
function spendTimings(kubeconfig: string): Timing[] {
  const before = process.env.USAGE_BENCH_BEFORE_CLI;
  const clis: [string, string][] = [['after', join(repoRoot, 'dist/cli/tollgate.js')], ...(before === undefined ? [] : [['before', resolve(before)] as [string, string]])];
  const queries = [['route', '7d'], ['route', '30d'], ['namespace', '30d'], ['caller', '30d']] as const;
  const out = new Map<string, Timing>();
  for (let round = 0; round < SPEND_ROUNDS; round++) {
    for (const [by, since] of queries) {
      const printed = new Map<string, string>();
      for (const [which, cli] of round % 2 === 0 ? clis : [...clis].reverse()) {
        const label = `tollgate spend --by ${by} --since ${since}, every namespace, ${which === 'after' ? 'after (day summaries)' : 'before (full reports)'}`;
        const t = out.get(label) ?? { label, ms: [] };
        out.set(label, t);
        const started = Date.now();
        printed.set(which, execFileSync(process.execPath, [cli, 'spend', '--by', by, '--since', since, '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20 }).toString());
        t.ms.push(Date.now() - started);
      }
      if (printed.size === 2 && printed.get('before') !== printed.get('after')) log(`spend --by ${by} --since ${since}: before and after print different tables:\n${printed.get('before') ?? ''}\n${printed.get('after') ?? ''}`);
      else if (round === 0) log(`spend --by ${by} --since ${since}: ${printed.size === 2 ? 'same table before and after' : 'printed'}, ${(printed.get('after') ?? '').split('\n').length} lines`);
    }
  }
  return [...out.values()].sort((a, b) => (a.label < b.label ? -1 : 1));
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function renderReporting(r: ReportingResult): string {
  const verbs = Object.entries(r.apiserver)
    .filter(([, n]) => n > 0)
    .map(([verb, n]) => `${verb} ${n} (${(n / (r.seconds + r.drainSeconds)).toFixed(1)}/s)`)
    .join(', ');
  return `## 1. Reporting: ${PODS} data planes at ${RATE} requests/s each (${PODS * RATE} requests/s)

${PODS} \`UsageReporter\`s (the data plane's own reporting code, one per pod name, in the bench process) sent one record per request on the real usage channel for ${r.seconds.toFixed(0)} s, spread over ${NAMESPACES} namespaces (5 routes, 3 providers, 20 callers each).

| Measure | Value |
| --- | --- |
| Requests reported | ${r.records.toLocaleString('en-US')} |
| Acknowledged (written into UsageReports) per second, start to fully drained | ${Math.round(r.ackedPerSecond).toLocaleString('en-US')} |
| Largest backlog (records sent, not yet acknowledged, all pods) | ${r.maxBacklog.toLocaleString('en-US')} |
| Time to drain the backlog after the load stopped | ${r.drainSeconds.toFixed(1)} s |
| History records dropped by the pods (over 50,000 unacknowledged) | ${r.historyDropped} |
| Operator's UsageReport writes (\`tollgate_operator_usage_report_writes_total\`) | ${r.operatorWrites} (${(r.operatorWrites / (r.seconds + r.drainSeconds)).toFixed(1)}/s) |
| API server's requests on usagereports (\`apiserver_request_total\`) | ${verbs} |
| UsageReports written | ${r.reportsWritten} (one per namespace) |
| Requests counted in them / reported | ${r.counted.toLocaleString('en-US')} / ${r.records.toLocaleString('en-US')}${r.counted === r.records - r.historyDropped ? ' (exact)' : ' (MISMATCH)'} |
| UsageReport size (JSON) | mean ${(r.reportBytes.mean / 1024).toFixed(0)} KiB, max ${(r.reportBytes.max / 1024).toFixed(0)} KiB |

The write rate is bounded by the number of reports that changed per flush interval (${NAMESPACES} namespaces / 5 s = ${(NAMESPACES / 5).toFixed(0)} reports/s at most, each a status \`PUT\` and a day-summary \`PATCH\`), whatever the request rate.

`;
}

function render(r: ReportingResult | undefined, h: { objects: number; seconds: number }, objects: number, listBytes: number, timings: Timing[], breakdown: Breakdown[], startedAt: string, loads: string[]): string {
  const row = (t: Timing): string => `| ${t.label} | ${median(t.ms)} ms | ${Math.min(...t.ms)} ms | ${Math.max(...t.ms)} ms | ${t.ms.length} |`;
  const measured = breakdown.filter((b) => b.transferMs.length > 0);
  return `# Usage history: 20 data planes reporting, and 30 days × 50 namespaces read (${startedAt.slice(0, 10)})

Command: \`make bench-usage\` (= \`test/integration/run-in-netns.sh node --import tsx bench/usage-history.ts\`), USAGE_BENCH_RATE=${RATE}, USAGE_BENCH_SECONDS=${SECONDS}, USAGE_BENCH_READ_ROUNDS=${READ_ROUNDS}, USAGE_BENCH_OVERVIEW_ROUNDS=${OVERVIEW_ROUNDS}, USAGE_BENCH_BREAKDOWN_ROUNDS=${BREAKDOWN_ROUNDS}, USAGE_BENCH_SPEND_ROUNDS=${SPEND_ROUNDS}, USAGE_BENCH_PARTS=${PARTS.join(',')}${process.env.USAGE_BENCH_BEFORE_CLI === undefined ? '' : ', USAGE_BENCH_BEFORE_CLI (an older build)'}.
Started ${startedAt}. Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${release()}; load average (1/5/15 min) ${loads.join(' → ')} (a shared machine: other work ran meanwhile).
Real kube-apiserver + etcd (test/cluster), one operator process (default \`--usage-flush-interval 5\`), everything in one network namespace on 2 cores.

${r === undefined ? '' : renderReporting(r)}## ${r === undefined ? '' : '2. '}Reading 30 days × 50 namespaces

${h.objects} ${r === undefined ? '' : 'more '}UsageReports (${r === undefined ? DAYS : DAYS - 1} days × ${NAMESPACES} namespaces, each from ~1,000 requests with the operator's \`UsageDay\`, with its day summary annotation) were written in ${h.seconds.toFixed(0)} s; ${objects} objects in all, ${mib(listBytes)} as one JSON list.

| What | median (p50) | min | max | loads |
| --- | --- | --- | --- | --- |
${timings.map(row).join('\n')}

Console: in Debian's Chromium (playwright-core), through the operator's console API with a ServiceAccount token allowed to read every namespace; the overview from the click on Load to rendered, the breakdown from selecting Route to the table. The console lists the UsageReports' metadata only (\`?as=metadata\`: a PartialObjectMetadataList, each report's \`tollgate.dev/day-summary\` annotation) with Budgets, ModelRoutes, Providers and Events, and computes the numbers in the page. *Before* and *after* are the same reports with the day summaries as the operator wrote them before this change (v1: totals, histograms, providers) and after (v2: also every route, model and caller, packed), swapped by a merge patch of each report between rounds (alternating order); with v1 summaries the breakdown by route reads the shown days' full reports, six at a time, as the console did before. \`tollgate spend\`: process start to exit, including Node's start and loading the Kubernetes client; *before* is an older build (USAGE_BENCH_BEFORE_CLI), which lists the full reports, in alternating order with this build within each round; both printed the same table.

### Where the time goes (interleaved; from Node in the bench process, the viewer's token)

| Read | size | of it managedFields | transfer (median) | JSON parse (median) |
| --- | --- | --- | --- | --- |
${measured.map((b) => `| ${b.label} | ${mib(b.bytes)} | ${mib(b.managedFieldsBytes)} | ${median(b.transferMs)} ms | ${median(b.parseMs)} ms |`).join('\n')}

Transfer is from the request to the last byte (the API server reading, encoding and sending; through the operator also its relaying); parse is \`JSON.parse\` of the body.
`;
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const loads = [loadavg().map((l) => l.toFixed(2)).join('/')];
  const runId = startedAt.replace(/[:.]/g, '').slice(0, 17);
  const rawDir = join(repoRoot, 'bench', 'results', 'raw', `usage-${runId}`);
  mkdirSync(rawDir, { recursive: true });
  log('starting the API server');
  cluster = await startTestCluster();
  const k = cluster;
  for (let i = 0; i < NAMESPACES; i++) k.kubectl(['create', 'namespace', ns(i)]);
  k.apply(PLATFORM_VIEWER);
  const viewerToken = k.kubectl(['create', 'token', 'platform-viewer', '-n', 'tollgate-system', '--duration', '2h']).trim();
  const viewerKubeconfig = tokenKubeconfig(k.cluster, 'platform-viewer', viewerToken);
  k.apply(dataplaneService([]));
  operator = startOperator(k.operatorKubeconfig, { port: OPERATOR_PORT, identity: 'bench-operator' });
  const kc = new KubeConfig();
  kc.loadFromFile(k.kubeconfig);
  const client = new KubeClient(kc);
  // The operator takes usage reports once it leads and has reconciled.
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`http://127.0.0.1:${OPERATOR_PORT}/readyz`).catch(() => undefined);
    if (res !== undefined && ((await res.json()) as { leader?: boolean }).leader === true) break;
    await sleep(200);
  }
  await sleep(2000);
  let r: ReportingResult | undefined;
  if (PARTS.includes('report')) {
    log(`reporting: ${PODS} pods × ${RATE} requests/s for ${SECONDS} s`);
    r = await reporting(k, client);
    loads.push(loadavg().map((l) => l.toFixed(2)).join('/'));
    log(`reporting done: ${JSON.stringify(r)}`);
    for (const rep of reporters) await rep.drain(0);
  }
  log('writing the history');
  const h = await history(client, r === undefined ? 0 : 1);
  // The full list may take longer than the client's 30 s on a loaded machine: then its size is unknown.
  const whole = await client.getAs('/apis/tollgate.dev/v1alpha1/usagereports', viewerToken).catch(() => undefined);
  const listBytes = whole === undefined ? NaN : Buffer.byteLength(whole.body);
  const objects = (JSON.parse((await client.getAs('/apis/tollgate.dev/v1alpha1/usagereports', viewerToken, 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1')).body) as { items: unknown[] }).items.length;
  log(`history: ${h.objects} objects in ${h.seconds.toFixed(0)} s; the list is ${mib(listBytes)} (${objects} objects)`);
  const breakdown = await whereTheTimeGoes(client, viewerToken);
  for (const b of breakdown) log(`${b.label}: ${mib(b.bytes)}, transfer ${b.transferMs.join(', ')} ms, parse ${b.parseMs.join(', ')} ms`);
  const shown = await consoleLoads(client, viewerToken);
  breakdown.push(...shown.lists);
  await useSummaries(client, 'v2');
  const timings = [...shown.timings, ...(process.env.USAGE_BENCH_SPEND === '0' ? [] : spendTimings(viewerKubeconfig))];
  loads.push(loadavg().map((l) => l.toFixed(2)).join('/'));
  for (const t of timings) log(`${t.label}: median ${median(t.ms)} ms (${t.ms.join(', ')})`);
  await client.close();
  writeFileSync(join(rawDir, 'results.json'), `${JSON.stringify({ startedAt, rate: RATE, seconds: SECONDS, parts: PARTS, reporting: r, history: h, objects, listBytes, timings, breakdown, loads }, null, 2)}\n`);
  writeFileSync(join(rawDir, 'operator.log'), operator.logs.join(''));
  const file = FULL ? join(repoRoot, 'bench', 'results', `usage-history-${startedAt.slice(0, 10)}.md`) : join(rawDir, 'report.md');
  writeFileSync(file, render(r, h, objects, listBytes, timings, breakdown, startedAt, loads));
  log(`report: ${file}`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`usage-history: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => void cleanup().then(() => process.exit()));
