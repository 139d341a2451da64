// The console served by the operator, in Debian's Chromium driven by playwright-core, against the
// real API server: each view loads, its numbers equal those of a known traffic pattern (today's real
// requests through a data plane, a failover among them, and past days' usage reported on the usage
// channel as a pod would), and a viewer whose ServiceAccount may read only team-a sees no team-b data.
// The expected numbers are worked out by hand from the pattern below, not by the console's code.
// Screenshots of each view are written to test-results/console/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReportStatus } from '../../operator/api/usage-report.js';
import type { OutcomeClass, RequestUsage } from '../../dataplane/config/request-usage.js';
import type { UsageReportRecord } from '../../dataplane/config/usage-report.js';
import { duration, summaryReport } from '../../operator/console/web/usage-numbers.js';
import { launchChromium, openConsole } from '../console/chromium.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import {
  anonymousRoute,
  dataplaneService,
  eventually,
  PLATFORM_VIEWER,
  POD_NET,
  pricedUpstream,
  type Proc,
  startDataplane,
  startOperator,
  startTestCluster,
  type TestCluster,
  tokenKubeconfig,
  TOKEN,
  upstreamProvider,
} from './harness.js';

const IP = `${POD_NET}.41`;
const OPERATOR_PORT = 19194;
const CONSOLE = `http://127.0.0.1:${OPERATOR_PORT}/console/`;
const ARTIFACTS = 'test-results/console';
const DAY_MS = 86_400_000;

let k: TestCluster;
let upstream: OpenAiUpstream;
let operator: Proc;
let pod: Proc;
let browser: Browser;
const tokens = { teamA: '', all: '' };
const kubeconfigs = { teamA: '', all: '' };
const CLI = join(process.cwd(), 'dist/cli/tollgate.js');

// ---- the traffic pattern ------------------------------------------------------------------
//
// Today, real requests through the data plane (the upstream emulator answers JSON with 10 input and
// 5 output tokens, $0.02 at Provider up's prices, and a 4-chunk stream with 7 and 4, $0.015):
//   team-a  chat-team-a      -> up                  3 ok                               $0.06
//           fallback-team-a  -> down (refused), up  2 ok, 1 failover each, served by up $0.04
//   team-b  chat-team-b      -> up                  2 ok + 1 ok stream                  $0.055
//           broken-team-b    -> down                1 upstream_5xx                      $0
//           orphan-team-b    -> a missing Provider  no traffic: its Warning Events
// Past days, reported on the usage channel as a data-plane pod reports them (PAST below).

/** Today's requests: [namespace, model, stream, how many]. */
const TODAY: [string, string, boolean, number][] = [
  ['team-a', 'chat-team-a', false, 3],
  ['team-a', 'fallback-team-a', false, 2],
  ['team-b', 'chat-team-b', false, 2],
  ['team-b', 'chat-team-b', true, 1],
  ['team-b', 'broken-team-b', false, 1],
];
/** Today's totals per namespace, from the table above. */
const TODAY_TOTALS = {
  'team-a': { requests: 5, outcomes: { ok: 5 }, failovers: 2, inputTokens: 50, outputTokens: 25, costUsd: 0.1 },
  'team-b': { requests: 4, outcomes: { ok: 3, upstream_5xx: 1 }, failovers: 0, inputTokens: 27, outputTokens: 14, costUsd: 0.055 },
};

interface Past {
  ns: string;
  daysAgo: number;
  hour: number;
  route: string;
  outcome: OutcomeClass;
  provider?: string;
  caller?: string;
  failovers?: number;
  cacheHit?: boolean;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  latencyMs: number;
  ttftMs?: number;
}
/**
 * Past days. team-a five days ago (the 7-day Before window): 9 requests, 6 ok (one a cache hit,
 * served by no provider; one after a failover), $1.00, 500 / 250 tokens. team-b two days ago (in
 * the After window with today): 4 requests, 3 ok, $6.004, 3,004 / 1,500 tokens. team-a nine days
 * ago: outside the 7 days shown, in no number of the console's default view.
 */
const PAST: Past[] = [
  { ns: 'team-a', daysAgo: 5, hour: 9, route: 'team-a/chat-team-a', outcome: 'ok', provider: 'team-a/up', inputTokens: 100, outputTokens: 50, costUsd: 0.2, latencyMs: 80, ttftMs: 40 },
  { ns: 'team-a', daysAgo: 5, hour: 9, route: 'team-a/chat-team-a', outcome: 'ok', provider: 'team-a/up', inputTokens: 100, outputTokens: 50, costUsd: 0.2, latencyMs: 120, ttftMs: 90 },
  { ns: 'team-a', daysAgo: 5, hour: 15, route: 'team-a/chat-team-a', outcome: 'ok', provider: 'team-a/up', inputTokens: 100, outputTokens: 50, costUsd: 0.2, latencyMs: 300 },
  { ns: 'team-a', daysAgo: 5, hour: 15, route: 'team-a/chat-team-a', outcome: 'ok', provider: 'team-a/up', inputTokens: 100, outputTokens: 50, costUsd: 0.2, latencyMs: 700 },
  { ns: 'team-a', daysAgo: 5, hour: 15, route: 'team-a/fallback-team-a', outcome: 'ok', provider: 'team-a/up', failovers: 1, inputTokens: 100, outputTokens: 50, costUsd: 0.2, latencyMs: 1500 },
  { ns: 'team-a', daysAgo: 5, hour: 15, route: 'team-a/chat-team-a', outcome: 'ok', cacheHit: true, latencyMs: 5 },
  { ns: 'team-a', daysAgo: 5, hour: 9, route: 'team-a/chat-team-a', outcome: 'timeout', latencyMs: 30_000 },
  { ns: 'team-a', daysAgo: 5, hour: 9, route: 'team-a/chat-team-a', outcome: 'rate_limited', latencyMs: 1 },
  { ns: 'team-a', daysAgo: 5, hour: 15, route: 'team-a/chat-team-a', outcome: 'upstream_4xx', latencyMs: 200 },
  { ns: 'team-b', daysAgo: 2, hour: 10, route: 'team-b/chat-team-b', outcome: 'ok', provider: 'team-b/up', caller: 'sa:team-b/batch', inputTokens: 1004, outputTokens: 500, costUsd: 2.004, latencyMs: 400 },
  { ns: 'team-b', daysAgo: 2, hour: 10, route: 'team-b/chat-team-b', outcome: 'ok', provider: 'team-b/up', caller: 'sa:team-b/batch', inputTokens: 1000, outputTokens: 500, costUsd: 2, latencyMs: 450 },
  { ns: 'team-b', daysAgo: 2, hour: 11, route: 'team-b/chat-team-b', outcome: 'ok', provider: 'team-b/up', caller: 'sa:team-b/batch', inputTokens: 1000, outputTokens: 500, costUsd: 2, latencyMs: 2600 },
  { ns: 'team-b', daysAgo: 2, hour: 11, route: 'team-b/chat-team-b', outcome: 'guardrail_blocked', caller: 'sa:team-b/batch', latencyMs: 3 },
  { ns: 'team-a', daysAgo: 9, hour: 12, route: 'team-a/chat-team-a', outcome: 'ok', provider: 'team-a/up', inputTokens: 2000, outputTokens: 1500, costUsd: 5, latencyMs: 100 },
];

const today = (): string => new Date().toISOString().slice(0, 10);
const daysAgo = (n: number): string => new Date(Date.parse(`${today()}T00:00:00Z`) - n * DAY_MS).toISOString().slice(0, 10);

/** The past days as a data-plane pod reports them on the usage channel (one record per request). */
function pastRecords(): UsageReportRecord[] {
  return PAST.map((p, i) => {
    const request: RequestUsage = {
      namespace: p.ns,
      route: p.route,
      model: p.route.split('/')[1],
      caller: p.caller ?? 'anonymous',
      outcome: p.outcome,
      failovers: p.failovers ?? 0,
      cacheHit: p.cacheHit ?? false,
      inputTokens: p.inputTokens ?? 0,
      outputTokens: p.outputTokens ?? 0,
      cachedInputTokens: 0,
      latencyMs: p.latencyMs,
      ...(p.provider === undefined ? {} : { provider: p.provider }),
      ...(p.ttftMs === undefined ? {} : { ttftMs: p.ttftMs }),
    };
    const at = Date.parse(`${daysAgo(p.daysAgo)}T${String(p.hour).padStart(2, '0')}:10:00Z`);
    return { seq: i + 1, at, costUsd: p.costUsd ?? 0, tokens: request.inputTokens + request.outputTokens, budgetIds: [], request };
  });
}

/** The documented histogram bounds (docs/usage-and-console.md); a duration falls in the first bucket it does not exceed. */
const BOUNDS = [50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
const bucketOf = (ms: number): number => BOUNDS.find((b) => ms <= b) ?? Number.POSITIVE_INFINITY;
/** The bound under which a share q of the durations fell: the ceil(q·n)-th smallest, read to its bucket. */
function percentile(bucketed: number[], q: number): number | undefined {
  return [...bucketed].sort((a, b) => a - b)[Math.ceil(q * bucketed.length) - 1];
}
/** `≤ p50 / ≤ p95` over durations given as their buckets' bounds. */
const p50p95 = (bucketed: number[]): string => `${duration(percentile(bucketed, 0.5))} / ${duration(percentile(bucketed, 0.95))}`;

interface Report {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  status?: UsageReportStatus;
}
const listReports = (): Report[] => (JSON.parse(k.kubectl(['get', 'usagereports', '-A', '-o', 'json'])) as { items: Report[] }).items;
/** Every UsageReport once the whole pattern is written (nothing changes them after). */
let written: Report[] = [];
const report = (ns: string, day = today()): Report | undefined => written.find((r) => r.metadata.namespace === ns && r.metadata.name === day);

/** Today's real latencies (or TTFTs) as the reports hold them: each request as its bucket's bound. */
function todaysDurations(field: 'latencyMs' | 'ttftMs'): number[] {
  const out: number[] = [];
  for (const r of written.filter((x) => x.metadata.name === today())) {
    for (const hour of r.status?.hours ?? []) hour[field].forEach((n, i) => out.push(...new Array<number>(n).fill(BOUNDS[i] ?? Number.POSITIVE_INFINITY)));
  }
  return out;
}
const pastDurations = (field: 'latencyMs' | 'ttftMs', from: number, to: number): number[] =>
  PAST.filter((p) => p.daysAgo <= from && p.daysAgo >= to && p[field] !== undefined).map((p) => bucketOf(p[field] ?? 0));

const namespaceObjects = (ns: string, url: string, budget: number, routes: string[]) => `${pricedUpstream(ns, url)}---
${upstreamProvider(ns, 'http://127.0.0.1:1/v1', '  models: [{ name: m, pricing: { input: 1000, output: 2000 } }]\n').replace('name: up', 'name: down')}---
${anonymousRoute(ns, `chat-${ns}`)}---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: daily, namespace: ${ns} }
spec:
  limit: { amount: ${budget}, unit: USD }
  period: Day
  subjects: { routes: [${routes.map((r) => `{ name: ${r} }`).join(', ')}] }
`;

const routeTo = (ns: string, name: string, targets: string, extra = '') => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: ${ns} }
spec:
  model: ${name}
  targets: ${targets}
  retry: { attempts: 1 }
  access: { anonymous: true }
${extra}`;

/** A reader of Tollgate's objects: a Role in team-a only, or a ClusterRole everywhere. */
const viewers = `apiVersion: v1
kind: ServiceAccount
metadata: { name: team-a-viewer, namespace: team-a }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: tollgate-reader, namespace: team-a }
rules:
  - { apiGroups: [tollgate.dev], resources: [usagereports, budgets, modelroutes, providers], verbs: [get, list] }
  - { apiGroups: [""], resources: [events], verbs: [list] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: team-a-viewer, namespace: team-a }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: tollgate-reader }
subjects: [{ kind: ServiceAccount, name: team-a-viewer, namespace: team-a }]
---
${PLATFORM_VIEWER}`;

/** One request through the data plane, read to its end; its HTTP status. */
async function chat(model: string, stream: boolean): Promise<number> {
  const res = await fetch(`http://${IP}:8080/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // A small output cap: team-b's Budget ($0.10) must cover each request's worst case before it is sent.
    body: JSON.stringify({ model, stream, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** `tollgate spend` as a user runs it: its exit code, its table's rows (cells) and its error output. */
function spend(args: string[]): { status: number | null; rows: string[][]; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, 'spend', ...args], { encoding: 'utf8', timeout: 60_000 });
  const rows = run.stdout
    .trimEnd()
    .split('\n')
    .slice(2)
    .filter((l) => l !== '')
    .map((l) => l.split(/\s{2,}/));
  return { status: run.status, rows, stderr: run.stderr };
}

/** A table's body rows as shown: each row's cells' text. */
const cells = (page: Page, testid: string): Promise<string[][]> =>
  page.$$eval(`[data-testid=${testid}] tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));
const headers = (page: Page, testid: string): Promise<string[]> => page.$$eval(`[data-testid=${testid}] thead th`, (ths) => ths.map((t) => t.textContent ?? ''));

/** The rows of the console's Breakdowns table for one dimension, as shown. */
async function consoleRows(page: Page, by: string): Promise<string[][]> {
  await page.click('[data-view=breakdown]');
  await page.selectOption('#dimension', by);
  // Wait for the table (a day summarized by an older operator is read whole after the choice).
  await page.waitForSelector(`[data-testid=breakdown][data-dimension=${by}]`);
  return cells(page, 'breakdown');
}

/** The console API paths a page read, in order. */
const readBy = new WeakMap<Page, string[]>();

function open(token: string, namespace: string, clock?: number): Promise<Page> {
  return openConsole(browser, CONSOLE, token, namespace, async (page) => {
    const paths: string[] = [];
    readBy.set(page, paths);
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/console/api/')) paths.push(`${url.pathname}${url.search}`);
    });
    if (clock !== undefined) await page.clock.setFixedTime(clock);
  });
}

/** The Warning Events about Tollgate objects, as the API server has them: object, reason, message, time. */
function warningEvents(): string[][] {
  interface Ev {
    type: string;
    reason: string;
    message: string;
    lastTimestamp?: string;
    eventTime?: string;
    involvedObject: { kind: string; namespace: string; name: string };
  }
  const items = (JSON.parse(k.kubectl(['get', 'events', '-A', '--field-selector', 'type=Warning,involvedObject.apiVersion=tollgate.dev/v1alpha1', '-o', 'json'])) as { items: Ev[] }).items;
  return items.map((e) => [`${e.involvedObject.kind} ${e.involvedObject.namespace}/${e.involvedObject.name}`, e.reason, e.message, e.lastTimestamp ?? e.eventTime ?? '']);
}

beforeAll(async () => {
  k = await startTestCluster();
  upstream = await startOpenAiUpstream();
  // JSON answers to JSON requests, 4-chunk streams to streamed ones.
  upstream.script({ kind: 'auto', chunks: 4 });
  k.kubectl(['create', 'namespace', 'team-a']);
  k.kubectl(['create', 'namespace', 'team-b']);
  k.apply(`${namespaceObjects('team-a', upstream.baseUrl, 10, ['chat-team-a', 'fallback-team-a'])}---
${routeTo('team-a', 'fallback-team-a', '[{ providerRef: { name: down }, model: m, priority: 0 }, { providerRef: { name: up }, model: m, priority: 1 }]')}`);
  k.apply(`${namespaceObjects('team-b', upstream.baseUrl, 0.1, ['chat-team-b', 'broken-team-b'])}---
${routeTo('team-b', 'broken-team-b', '[{ providerRef: { name: down }, model: m }]')}---
${routeTo('team-b', 'orphan-team-b', '[{ providerRef: { name: missing }, model: m }]')}`);
  k.apply(viewers);
  tokens.teamA = k.kubectl(['create', 'token', 'team-a-viewer', '-n', 'team-a', '--duration', '1h']).trim();
  tokens.all = k.kubectl(['create', 'token', 'platform-viewer', '-n', 'tollgate-system', '--duration', '1h']).trim();
  kubeconfigs.teamA = tokenKubeconfig(k.cluster, 'team-a-viewer', tokens.teamA);
  kubeconfigs.all = tokenKubeconfig(k.cluster, 'platform-viewer', tokens.all);
  pod = startDataplane(IP, { operatorUrl: `http://127.0.0.1:${OPERATOR_PORT}` });
  k.apply(dataplaneService([IP]));
  operator = startOperator(k.operatorKubeconfig, { port: OPERATOR_PORT, identity: 'console-operator', args: ['--usage-flush-interval', '1'] });
  // Ready once the operator answered its first usage report (Budgets apply): before, a budgeted
  // request would be refused (503 budget_unavailable) and counted, and the pattern would be off by it.
  await eventually(() => fetch(`http://${IP}:9090/readyz`).then((r) => expect(r.status).toBe(200)), 'the data plane ready', 60_000);
  for (const [, model, stream, n] of TODAY) {
    // The first answer once the route is served (before, an unknown model is counted nowhere).
    // broken-team-b's only Provider refuses connections: a 5xx, once the route is served (not a 404).
    const answered = (status: number): boolean => (model.startsWith('broken') ? status >= 500 : status === 200);
    const ask = async (): Promise<void> => {
      const status = await chat(model, stream);
      if (!answered(status)) throw new Error(`${model}: ${status}`);
    };
    await eventually(ask, `${model} served`, 60_000);
    for (let i = 1; i < n; i++) await ask();
  }
  // The past days, as a data-plane pod reports them: sent again until acknowledged (the sequence
  // numbers make a resend count once).
  const records = pastRecords();
  await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${OPERATOR_PORT}/v1/usage`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ pod: 'past-days', records }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { ackedThrough: number }).ackedThrough).toBeGreaterThanOrEqual(records.length);
    },
    'past usage acknowledged',
    60_000,
  );
  // Every report written with its day summary (the console reads those) for the whole pattern.
  const expected = new Map<string, number>([
    [`team-a/${today()}`, 5],
    [`team-b/${today()}`, 4],
  ]);
  for (const p of PAST) expected.set(`${p.ns}/${daysAgo(p.daysAgo)}`, (expected.get(`${p.ns}/${daysAgo(p.daysAgo)}`) ?? 0) + 1);
  await eventually(
    () => {
      written = listReports();
      const counts = written.map((r) => [
        `${r.metadata.namespace}/${r.metadata.name}`,
        r.status?.totals.requests,
        summaryReport(r)?.status?.totals.requests,
      ]);
      expect(counts.sort()).toEqual([...expected].map(([key, n]) => [key, n, n]).sort());
    },
    'the UsageReports of the pattern',
    30_000,
  );
  for (const [ns, t] of Object.entries(TODAY_TOTALS)) expect(report(ns)?.status?.totals).toMatchObject({ ...t, costUsd: expect.closeTo(t.costUsd, 9) as unknown as number });
  // The Budgets' spend (today's requests only: past records carry no budget) and the orphan route's Warnings.
  await eventually(() => {
    const spent = ['team-a', 'team-b'].map((ns) => k.get<{ status?: { spent?: number } }>('budget', 'daily', ns).status?.spent ?? 0);
    expect(spent[0]).toBeCloseTo(0.1, 9);
    expect(spent[1]).toBeCloseTo(0.055, 9);
  }, 'Budget spend', 30_000);
  // The orphan route's Warnings, and a Normal Event the Failures view leaves out: team-b's Budget passed 50 % of its limit.
  await eventually(() => {
    const events = k.kubectl(['get', 'events', '-A', '-o', 'jsonpath={range .items[*]}{.type}/{.involvedObject.name}/{.reason} {end}']).split(' ');
    expect(events.filter((e) => e.startsWith('Warning/orphan-team-b/'))).not.toEqual([]);
    expect(events).toContain('Normal/daily/BudgetThresholdReached');
  }, 'Events', 30_000);
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  if (process.env.CONSOLE_TEST_LOGS) writeFileSync(process.env.CONSOLE_TEST_LOGS, [...(operator?.logs ?? []), '-----', ...(pod?.logs ?? [])].join(''));
  await browser?.close();
  await operator?.kill();
  await pod?.kill();
  await upstream?.close();
  await k?.stop();
});


describe('console', () => {
  it('every view loads, and the overview shows the numbers of the pattern (screenshots of each view)', async () => {
    const page = await open(tokens.all, '');
    // 9 + 4 past requests and 9 today; $1.00 + $6.004 past and $0.155 today.
    const shown = async (id: string) => page.textContent(`[data-testid=${id}]`);
    expect(await shown('requests')).toBe('22');
    expect(await shown('spend-today')).toBe('$0.155');
    expect(await shown('spend-period')).toBe('$7.16');
    // Not ok: timeout, rate_limited, upstream_4xx, guardrail_blocked, upstream_5xx.
    expect(await shown('error-rate')).toBe('22.7%');
    expect(await shown('tokens')).toBe('3,581 / 1,789');
    expect(await shown('cache-hit-rate')).toBe('4.5%');
    // The overview read only the reports' metadata (their day summaries).
    expect((readBy.get(page) ?? []).filter((p) => p.includes('/usagereports'))).toEqual(['/console/api/k8s/apis/tollgate.dev/v1alpha1/usagereports?as=metadata']);
    const week = (field: 'latencyMs' | 'ttftMs') => [...pastDurations(field, 6, 0), ...todaysDurations(field)];
    expect(await shown('latency')).toBe(p50p95(week('latencyMs')));
    expect(await shown('ttft')).toBe(p50p95(week('ttftMs')));
    // Shares of the 16 requests a provider served; team-a/up: $1.00 past, $0.10 today; team-b/up $6.004 + $0.055.
    expect(await cells(page, 'provider-mix')).toEqual([
      ['team-a/up', '10', '62.5%', '$1.10'],
      ['team-b/up', '6', '37.5%', '$6.06'],
    ]);
    await page.screenshot({ path: `${ARTIFACTS}/overview.png`, fullPage: true });
    for (const view of ['breakdown', 'budgets', 'failures', 'compare']) {
      await page.click(`[data-view=${view}]`);
      expect(await page.getAttribute(`[data-view=${view}]`, 'aria-pressed')).toBe('true');
      await page.screenshot({ path: `${ARTIFACTS}/${view}.png`, fullPage: true });
    }
    await page.click('[data-view=breakdown]');
    expect(await cells(page, 'breakdown')).toEqual([
      ['team-b', '8', '2', '25.0%', '$6.06', '3,031', '1,514', '0'],
      ['team-a', '14', '3', '21.4%', '$1.10', '550', '275', '1'],
    ]);
    // Keyboard: the tabs are buttons, reachable and pressed with the keyboard.
    await page.focus('[data-view=overview]');
    await page.keyboard.press('Enter');
    expect(await page.getAttribute('[data-view=overview]', 'aria-pressed')).toBe('true');
    await page.close();
  });

  describe('the views of budgets, failures and before/after, on one page', () => {
    // The page's clock at noon (UTC) of today: half of the Day period has passed, so the projection
    // at the current rate, spent / (now - periodStart) × (resetsAt - periodStart), is twice the spend.
    const start = (): number => Date.parse(`${today()}T00:00:00Z`);
    let page: Page;
    beforeAll(async () => {
      page = await open(tokens.all, '', start() + DAY_MS / 2);
    });
    afterAll(async () => {
      await page?.close();
    });

    it('budgets: spent, limit, share used, the projection to the end of the period and the burn-down', async () => {
      const resetsAt = new Date(start() + DAY_MS).toISOString().replace('.000Z', 'Z');
      await page.click('[data-view=budgets]');
      expect(await headers(page, 'budgets')).toEqual(['Budget', 'Spent', 'Limit', 'Used', 'Projected at reset', 'Resets at']);
      // team-a: 5 × $0.02 of $10; team-b: 2 × $0.02 + $0.015 of $0.10, on course to pass it (in red).
      expect(await cells(page, 'budgets')).toEqual([
        ['team-a/daily', '$0.10', '$10.00', '1.0%', '$0.20 (2.0%)', resetsAt],
        ['team-b/daily', '$0.055', '$0.10', '55.0%', '$0.11 (110.0%)', resetsAt],
      ]);
      expect(await page.$$eval('[data-testid=budgets] tbody tr', (trs) => trs.map((tr) => tr.querySelector('.over') !== null))).toEqual([false, true]);
      // The burn-down per Budget: its text alternative says the numbers; the spend line ends at noon
      // (the middle of the chart's time axis), the dashed projection above the limit line only for team-b.
      const charts = await page.$$eval('svg.chart', (svgs) =>
        svgs.map((c) => {
          const at = (sel: string, attr: string): number => Number(c.querySelector(sel)?.getAttribute(attr));
          return { label: c.getAttribute('aria-label'), spentX: (at('line.spent', 'x2') - at('line.spent', 'x1')) / (at('line.marker', 'x2') - at('line.marker', 'x1')), aboveLimit: at('line.projection', 'y2') < at('line.marker', 'y1') };
        }),
      );
      expect(charts).toEqual([
        { label: 'Burn-down of team-a/daily: $0.10 of $10.00 spent (1.0%), projected $0.20 (2.0%) at reset', spentX: 0.5, aboveLimit: false },
        { label: 'Burn-down of team-b/daily: $0.055 of $0.10 spent (55.0%), projected $0.11 (110.0%) at reset', spentX: 0.5, aboveLimit: true },
      ]);
    });

    it('failures: requests by outcome class, the failovers, who served after them, and the Warning Events', async () => {
      await page.click('[data-view=failures]');
      // 22 requests: 17 ok (6 + 3 past, 8 today) and one of each of five classes.
      const one = '4.5%';
      expect(await cells(page, 'outcomes')).toEqual([
        ['ok', '17', '77.3%'],
        ['rate_limited', '1', one],
        ['budget_rejected', '0', '0.0%'],
        ['guardrail_blocked', '1', one],
        ['rejected', '0', '0.0%'],
        ['upstream_4xx', '1', one],
        ['upstream_5xx', '1', one],
        ['timeout', '1', one],
        ['cancelled', '0', '0.0%'],
      ]);
      // One failover five days ago and today's two (down refused, up served).
      expect(await page.textContent('[data-testid=failovers]')).toBe('3');
      // team-a/up took all three over and served 10 requests in all (5 past, 5 today), all ok.
      expect(await headers(page, 'served-instead')).toEqual(['Provider', 'Failovers to it', 'Requests it served (all)', 'Ok (all)']);
      expect(await cells(page, 'served-instead')).toEqual([['team-a/up', '3', '10', '10']]);
      // The orphan route's Warnings (its Provider is missing) and nothing of the Normal Events (a Budget threshold).
      // Newest first (Events of the same second in any order).
      const events = await cells(page, 'events');
      expect(events.map((e) => e[3])).toEqual(events.map((e) => e[3]).sort().reverse());
      expect(events.sort()).toEqual(warningEvents().sort());
      expect(JSON.stringify(events)).toContain('ModelRoute team-b/orphan-team-b');
      expect(JSON.stringify(events)).not.toContain('BudgetThresholdReached');
    });

    it('before/after: the two windows side by side, each with the numbers of its days', async () => {
      await page.click('[data-view=compare]');
      // The 7 days split in two: 6 to 4 days ago (team-a's past day), 3 days ago to today (team-b's and today's).
      const captions = await page.$$eval('[data-testid^=compare-] caption', (cs) => cs.map((c) => c.textContent));
      expect(captions).toEqual([`Before: ${daysAgo(6)} to ${daysAgo(4)}`, 'Before: provider mix', `After: ${daysAgo(3)} to ${today()}`, 'After: provider mix']);
      expect(await cells(page, 'compare-a')).toEqual([
        ['Requests', '9'],
        ['Error rate', '33.3%'],
        // Latencies 1, 5, 80, 120, 200, 300, 700, 1500 and 30000 ms; TTFTs 40 and 90 ms.
        ['Latency p50 / p95', '≤ 250 ms / ≤ 30 s'],
        ['TTFT p50 / p95', '≤ 50 ms / ≤ 100 ms'],
        ['Cost', '$1.00'],
        ['Cost per request', '$0.1111'],
        ['Tokens in / out', '500 / 250'],
        ['Failovers', '1'],
      ]);
      // The five ok requests not from the cache were served by team-a/up.
      expect(await cells(page, 'compare-a-mix')).toEqual([['team-a/up', '100.0%']]);
      const after = (field: 'latencyMs' | 'ttftMs') => [...pastDurations(field, 3, 0), ...todaysDurations(field)];
      expect(await cells(page, 'compare-b')).toEqual([
        ['Requests', '13'],
        ['Error rate', '15.4%'],
        ['Latency p50 / p95', p50p95(after('latencyMs'))],
        ['TTFT p50 / p95', p50p95(after('ttftMs'))],
        ['Cost', '$6.16'],
        ['Cost per request', '$0.4738'],
        ['Tokens in / out', '3,081 / 1,539'],
        ['Failovers', '2'],
      ]);
      // 11 requests served: 6 by team-b/up (3 past, 3 today), 5 by team-a/up.
      expect(await cells(page, 'compare-b-mix')).toEqual([
        ['team-b/up', '54.5%'],
        ['team-a/up', '45.5%'],
      ]);
      // Other windows, typed in: the Before window becomes the one past day of team-b.
      await page.fill('#a-from', daysAgo(2));
      await page.fill('#a-to', daysAgo(2));
      await page.waitForSelector(`[data-testid=compare-a] caption:text-is("Before: ${daysAgo(2)} to ${daysAgo(2)}")`);
      // Latencies 3, 400, 450 and 2600 ms; no stream.
      expect((await cells(page, 'compare-a')).map((r) => r[1])).toEqual(['4', '25.0%', '≤ 500 ms / ≤ 5 s', '– / –', '$6.00', '$1.50', '3,004 / 1,500', '0']);
    });
  });

  it("a viewer allowed only team-a sees team-a's numbers and no team-b data", async () => {
    const page = await open(tokens.teamA, 'team-a');
    // 9 requests five days ago and 5 today; today $0.10.
    expect(await page.textContent('[data-testid=requests]')).toBe('14');
    expect(await page.textContent('[data-testid=spend-today]')).toBe('$0.10');
    await page.click('[data-view=breakdown]');
    const text = (await page.textContent('main')) ?? '';
    expect(text).toContain('team-a');
    expect(text).not.toContain('team-b');
    await page.close();
    // Asking for team-b, or for every namespace, shows nothing of team-b: the API server refuses the token.
    for (const ns of ['team-b', '']) {
      const other = await open(tokens.teamA, ns);
      expect(await other.textContent('#message')).toContain('Not allowed to read: UsageReports, Budgets, ModelRoutes, Providers, Events');
      expect(await other.textContent('[data-testid=requests]')).toBe('0');
      expect((await other.textContent('main')) ?? '').not.toContain('team-b');
      await other.close();
    }
  });

  it('tollgate spend prints the numbers of the console’s breakdowns, for every dimension, from the same objects', async () => {
    const page = await open(tokens.all, '');
    const tokenFile = join(k.cluster.stateDir, 'platform-viewer.token');
    writeFileSync(tokenFile, tokens.all);
    for (const by of ['namespace', 'route', 'model', 'provider', 'caller']) {
      const shown = await consoleRows(page, by);
      expect(shown.length, by).toBeGreaterThan(0);
      const cli = spend(['--by', by, '--since', '7d', '--kubeconfig', kubeconfigs.all]);
      expect(cli.status, cli.stderr).toBe(0);
      expect(cli.rows.slice(0, -1), by).toEqual(shown);
      // The total row is the overview's: every request of the 7 days and their cost.
      expect([cli.rows.at(-1)?.[0], cli.rows.at(-1)?.[1], cli.rows.at(-1)?.[4]], by).toEqual(['TOTAL', '22', '$7.16']);
      if (by === 'route') {
        // Through the operator's console API with the same token: the same table.
        expect(spend(['--by', by, '--console', `http://127.0.0.1:${OPERATOR_PORT}`, '--token-file', tokenFile]).rows).toEqual(cli.rows);
      }
    }
    // Every breakdown came from the day summaries of the one metadata-only list.
    expect((readBy.get(page) ?? []).filter((p) => p.includes('/usagereports'))).toEqual(['/console/api/k8s/apis/tollgate.dev/v1alpha1/usagereports?as=metadata']);
    await page.close();
    const json = spawnSync(process.execPath, [CLI, 'spend', '--kubeconfig', kubeconfigs.all, '-o', 'json'], { encoding: 'utf8', timeout: 60_000 });
    const total = (JSON.parse(json.stdout) as { total: { requests: number; costUsd: number } }).total;
    expect(total.requests).toBe(22);
    expect(total.costUsd).toBeCloseTo(7.159, 9);
    // Seven runs of the CLI: each loads the whole build, 10 s and more on a loaded machine.
  }, 180_000);

  it("tollgate spend applies the viewer's RBAC: team-a's own numbers, a clear refusal for the rest", async () => {
    const page = await open(tokens.teamA, 'team-a');
    const own = spend(['--by', 'route', '-n', 'team-a', '--kubeconfig', kubeconfigs.teamA]);
    expect(own.status, own.stderr).toBe(0);
    expect(own.rows.slice(0, -1)).toEqual(await consoleRows(page, 'route'));
    expect(JSON.stringify(own.rows)).not.toContain('team-b');
    await page.close();
    const other = spend(['-n', 'team-b', '--kubeconfig', kubeconfigs.teamA]);
    expect(other.status).toBe(1);
    expect(other.stderr).toContain('not allowed to list usagereports in namespace team-b (403)');
    const all = spend(['--kubeconfig', kubeconfigs.teamA]);
    expect(all.status).toBe(1);
    expect(all.stderr).toContain('pass -n <namespace>');
    expect(all.rows).toEqual([]);
  }, 180_000);

  it('before/after marks every ModelRoute and Provider generation bump, kept in their status.specHistory', async () => {
    // Two changes of team-a's route: generations 2 and 3 (generation 1 was its creation).
    for (const total of ['200s', '100s']) {
      k.apply(anonymousRoute('team-a', 'chat-team-a', `  timeouts: { total: ${total} }\n`));
    }
    const routeHistory = (): { generation: number; changedAt: string }[] =>
      k.get<{ status?: { specHistory?: { generation: number; changedAt: string }[] } }>('modelroute', 'chat-team-a', 'team-a').status?.specHistory ?? [];
    await eventually(() => expect(routeHistory().map((h) => h.generation)).toEqual([1, 2, 3]), 'specHistory 1, 2, 3', 30_000);
    const history = routeHistory();
    // Every ModelRoute and Provider of team-a with its history: chat-team-a's three, one for each other.
    interface Historied {
      kind: string;
      metadata: { name: string };
      status?: { specHistory?: { generation: number; changedAt: string }[] };
    }
    const objects = (JSON.parse(k.kubectl(['get', 'modelroutes,providers', '-n', 'team-a', '-o', 'json'])) as { items: Historied[] }).items;
    expect(objects.map((o) => [o.kind, o.metadata.name, o.status?.specHistory?.map((h) => h.generation)]).sort()).toEqual([
      ['ModelRoute', 'chat-team-a', [1, 2, 3]],
      ['ModelRoute', 'fallback-team-a', [1]],
      ['Provider', 'down', [1]],
      ['Provider', 'up', [1]],
    ]);
    const page = await open(tokens.teamA, 'team-a');
    await page.click('[data-view=compare]');
    const byTime = (a: string[], b: string[]): number => (a.join() < b.join() ? -1 : a.join() > b.join() ? 1 : 0);
    const rows = await cells(page, 'changes');
    // Oldest first (changes made in the same second in any order).
    expect(rows.map((r) => r[0])).toEqual(rows.map((r) => r[0]).sort());
    expect(rows.sort(byTime)).toEqual(
      objects.flatMap((o) => (o.status?.specHistory ?? []).map((h) => [h.changedAt, `${o.kind} team-a/${o.metadata.name} generation ${h.generation} (${h.changedAt})`])).sort(byTime),
    );
    // Each change is a marker on the chart, named in its tooltip.
    const marks = await page.$$eval('svg.chart line.marker title', (ts) => ts.map((t) => t.textContent ?? ''));
    for (const h of history) expect(marks).toContain(`ModelRoute team-a/chat-team-a generation ${h.generation} (${h.changedAt})`);
    await page.screenshot({ path: `${ARTIFACTS}/compare.png`, fullPage: true });
    await page.close();
  });

  it('reads nothing but Tollgate resources and their Events, and only with a token', async () => {
    const get = (path: string, token?: string) => fetch(`http://127.0.0.1:${OPERATOR_PORT}/console/api/k8s${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
    expect((await get('/api/v1/namespaces/team-a/secrets', tokens.all)).status).toBe(403);
    expect((await get('/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports')).status).toBe(401);
    expect((await get('/apis/tollgate.dev/v1alpha1/namespaces/team-b/usagereports', tokens.teamA)).status).toBe(403);
    const own = await get('/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports', tokens.teamA);
    expect(own.status).toBe(200);
    // Today's, and the two past days team-a's usage was reported for.
    expect(((await own.json()) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name).sort()).toEqual([daysAgo(9), daysAgo(5), today()]);
    const post = await fetch(`http://127.0.0.1:${OPERATOR_PORT}/console/api/k8s/apis/tollgate.dev/v1alpha1/namespaces/team-a/budgets`, { method: 'POST', headers: { authorization: `Bearer ${tokens.all}` } });
    expect(post.status).toBe(405);
  });
});
