// The console served by the operator, in Debian's Chromium driven by playwright-core, against the
// real API server: each view loads, its numbers equal the UsageReport totals, and a viewer whose
// ServiceAccount may read only team-a sees no team-b data. Screenshots of each view are written to
// test-results/console/.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReportStatus } from '../../operator/api/usage-report.js';
import { breakdownRows, duration, money, quantile, windowOf } from '../../operator/console/web/usage-numbers.js';
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
} from './harness.js';

const IP = `${POD_NET}.41`;
const OPERATOR_PORT = 19194;
const CONSOLE = `http://127.0.0.1:${OPERATOR_PORT}/console/`;
const ARTIFACTS = 'test-results/console';
const SENT = { 'team-a': 3, 'team-b': 2 } as const;

let k: TestCluster;
let upstream: OpenAiUpstream;
let operator: Proc;
let pod: Proc;
let browser: Browser;
const tokens = { teamA: '', all: '' };
const kubeconfigs = { teamA: '', all: '' };
const CLI = join(process.cwd(), 'dist/cli/tollgate.js');

const namespaceObjects = (ns: string, url: string) => `${pricedUpstream(ns, url)}---
${anonymousRoute(ns, `chat-${ns}`)}---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: daily, namespace: ${ns} }
spec:
  limit: { amount: 10, unit: USD }
  period: Day
  subjects: { namespaces: [${ns}] }
`;

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

const today = (): string => new Date().toISOString().slice(0, 10);
const report = (ns: string): UsageReportStatus | undefined => {
  try {
    return k.get<{ status?: UsageReportStatus }>('usagereport', today(), ns).status;
  } catch {
    return undefined;
  }
};

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

/** The rows of the console's Breakdowns table for one dimension, as shown. */
async function consoleRows(page: Page, by: string): Promise<string[][]> {
  await page.click('[data-view=breakdown]');
  await page.selectOption('#dimension', by);
  // Routes, models and callers are read from the full reports after the choice: wait for the table.
  await page.waitForSelector(`[data-testid=breakdown][data-dimension=${by}]`);
  return page.$$eval('[data-testid=breakdown] tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));
}

/** The console API paths a page read, in order. */
const readBy = new WeakMap<Page, string[]>();

async function open(token: string, namespace: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const paths: string[] = [];
  readBy.set(page, paths);
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/console/api/')) paths.push(`${url.pathname}${url.search}`);
  });
  await page.goto(CONSOLE);
  await page.fill('#token', token);
  await page.fill('#namespace', namespace);
  await page.click('button[type=submit]');
  await page.waitForSelector('#message[data-state=done], #message[data-state=error]');
  return page;
}

beforeAll(async () => {
  k = await startTestCluster();
  upstream = await startOpenAiUpstream();
  for (const ns of Object.keys(SENT)) {
    k.kubectl(['create', 'namespace', ns]);
    k.apply(namespaceObjects(ns, upstream.baseUrl));
  }
  k.apply(viewers);
  tokens.teamA = k.kubectl(['create', 'token', 'team-a-viewer', '-n', 'team-a', '--duration', '1h']).trim();
  tokens.all = k.kubectl(['create', 'token', 'platform-viewer', '-n', 'tollgate-system', '--duration', '1h']).trim();
  kubeconfigs.teamA = tokenKubeconfig(k.cluster, 'team-a-viewer', tokens.teamA);
  kubeconfigs.all = tokenKubeconfig(k.cluster, 'platform-viewer', tokens.all);
  pod = startDataplane(IP, { operatorUrl: `http://127.0.0.1:${OPERATOR_PORT}` });
  k.apply(dataplaneService([IP]));
  operator = startOperator(k.operatorKubeconfig, { port: OPERATOR_PORT, identity: 'console-operator', args: ['--usage-flush-interval', '1'] });
  for (const [ns, n] of Object.entries(SENT)) {
    const client = new OpenAI({ baseURL: `http://${IP}:8080/v1`, apiKey: 'x', maxRetries: 0 });
    await eventually(() => client.chat.completions.create({ model: `chat-${ns}`, messages: [{ role: 'user', content: 'hi' }] }), `chat-${ns} served`, 60_000);
    for (let i = 1; i < n; i++) await client.chat.completions.create({ model: `chat-${ns}`, messages: [{ role: 'user', content: 'hi' }] });
    await eventually(() => expect(report(ns)?.totals.requests).toBe(n), `UsageReport ${ns}`, 30_000);
  }
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser']).toString().trim();
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await operator?.kill();
  await pod?.kill();
  await upstream?.close();
  await k?.stop();
});

describe('console', () => {
  it('every view loads, and the overview equals the UsageReport totals (screenshots of each view)', async () => {
    const page = await open(tokens.all, '');
    const a = report('team-a');
    const b = report('team-b');
    const requests = (a?.totals.requests ?? 0) + (b?.totals.requests ?? 0);
    const cost = (a?.totals.costUsd ?? 0) + (b?.totals.costUsd ?? 0);
    expect(await page.textContent('[data-testid=requests]')).toBe(String(requests));
    expect(await page.textContent('[data-testid=spend-today]')).toBe(money(cost));
    expect(await page.textContent('[data-testid=error-rate]')).toBe('0.0%');
    // The overview read only the reports' metadata (their day summaries), and its percentiles and
    // provider mix equal those of the full reports.
    expect((readBy.get(page) ?? []).filter((p) => p.includes('/usagereports'))).toEqual(['/console/api/k8s/apis/tollgate.dev/v1alpha1/usagereports?as=metadata']);
    const full = [a, b].map((status, i) => ({ metadata: { name: today(), namespace: `team-${'ab'[i]}` }, status }));
    const w = windowOf(full, today(), today());
    const percentiles = (h: number[]) => `${duration(quantile(h, w.bounds, 0.5))} / ${duration(quantile(h, w.bounds, 0.95))}`;
    expect(await page.textContent('[data-testid=latency]')).toBe(percentiles(w.latency));
    expect(await page.textContent('[data-testid=ttft]')).toBe(percentiles(w.ttft));
    const mix = await page.$$eval('[data-testid=provider-mix] tbody tr', (trs) => trs.map((tr) => [tr.children[0]?.textContent, tr.children[1]?.textContent]));
    expect(mix.sort()).toEqual(breakdownRows(full, 'provider', today(), today()).map(([k, st]) => [k, String(st.requests)]).sort());
    await page.screenshot({ path: `${ARTIFACTS}/overview.png`, fullPage: true });
    for (const view of ['breakdown', 'budgets', 'failures', 'compare']) {
      await page.click(`[data-view=${view}]`);
      expect(await page.getAttribute(`[data-view=${view}]`, 'aria-pressed')).toBe('true');
      await page.screenshot({ path: `${ARTIFACTS}/${view}.png`, fullPage: true });
    }
    await page.click('[data-view=breakdown]');
    const rows = await page.$$eval('[data-testid=breakdown] tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
    expect(rows.map((r) => [r[0], r[1]]).sort()).toEqual([
      ['team-a', String(SENT['team-a'])],
      ['team-b', String(SENT['team-b'])],
    ]);
    await page.click('[data-view=budgets]');
    expect(await page.$$eval('[data-testid=budgets] tbody th', (ths) => ths.map((t) => t.textContent).sort())).toEqual(['team-a/daily', 'team-b/daily']);
    // Keyboard: the tabs are buttons, reachable and pressed with the keyboard.
    await page.focus('[data-view=overview]');
    await page.keyboard.press('Enter');
    expect(await page.getAttribute('[data-view=overview]', 'aria-pressed')).toBe('true');
    await page.close();
  });

  it("a viewer allowed only team-a sees team-a's numbers and no team-b data", async () => {
    const page = await open(tokens.teamA, 'team-a');
    expect(await page.textContent('[data-testid=requests]')).toBe(String(report('team-a')?.totals.requests));
    expect(await page.textContent('[data-testid=spend-today]')).toBe(money(report('team-a')?.totals.costUsd ?? 0));
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
      // The total row is the overview's: every request of the window and its cost.
      const a = report('team-a')?.totals;
      const b = report('team-b')?.totals;
      expect([cli.rows.at(-1)?.[0], cli.rows.at(-1)?.[1], cli.rows.at(-1)?.[4]], by).toEqual(['TOTAL', String((a?.requests ?? 0) + (b?.requests ?? 0)), money((a?.costUsd ?? 0) + (b?.costUsd ?? 0))]);
      if (by === 'route') {
        // Through the operator's console API with the same token: the same table.
        expect(spend(['--by', by, '--console', `http://127.0.0.1:${OPERATOR_PORT}`, '--token-file', tokenFile]).rows).toEqual(cli.rows);
      }
    }
    await page.close();
    const json = spawnSync(process.execPath, [CLI, 'spend', '--kubeconfig', kubeconfigs.all, '-o', 'json'], { encoding: 'utf8', timeout: 60_000 });
    const total = (JSON.parse(json.stdout) as { total: { requests: number; costUsd: number } }).total;
    expect(total.requests).toBe((report('team-a')?.totals.requests ?? 0) + (report('team-b')?.totals.requests ?? 0));
    expect(total.costUsd).toBeCloseTo((report('team-a')?.totals.costUsd ?? 0) + (report('team-b')?.totals.costUsd ?? 0), 9);
  });

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
  });

  it('before/after marks every ModelRoute and Provider generation bump, kept in their status.specHistory', async () => {
    // Two changes of team-a's route: generations 2 and 3 (generation 1 was its creation).
    for (const total of ['200s', '100s']) {
      k.apply(anonymousRoute('team-a', 'chat-team-a', `  timeouts: { total: ${total} }\n`));
    }
    const routeHistory = (): { generation: number; changedAt: string }[] =>
      k.get<{ status?: { specHistory?: { generation: number; changedAt: string }[] } }>('modelroute', 'chat-team-a', 'team-a').status?.specHistory ?? [];
    await eventually(() => expect(routeHistory().map((h) => h.generation)).toEqual([1, 2, 3]), 'specHistory 1, 2, 3', 30_000);
    const history = routeHistory();
    const providerHistory = k.get<{ status?: { specHistory?: { generation: number; changedAt: string }[] } }>('provider', 'up', 'team-a').status?.specHistory ?? [];
    expect(providerHistory.map((h) => h.generation)).toEqual([1]);
    const page = await open(tokens.teamA, 'team-a');
    await page.click('[data-view=compare]');
    const rows = await page.$$eval('[data-testid=changes] tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));
    expect(rows).toEqual(
      [...history.map((h) => [h.changedAt, `ModelRoute team-a/chat-team-a generation ${h.generation} (${h.changedAt})`]), ...providerHistory.map((h) => [h.changedAt, `Provider team-a/up generation ${h.generation} (${h.changedAt})`])].sort(
        (a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''),
      ),
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
    expect(((await own.json()) as { items: unknown[] }).items).toHaveLength(1);
    const post = await fetch(`http://127.0.0.1:${OPERATOR_PORT}/console/api/k8s/apis/tollgate.dev/v1alpha1/namespaces/team-a/budgets`, { method: 'POST', headers: { authorization: `Bearer ${tokens.all}` } });
    expect(post.status).toBe(405);
  });
});
