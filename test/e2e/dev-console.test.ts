import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReportStatus } from '../../operator/api/usage-report.js';
import { type ReportMetadata, summaryReport } from '../../operator/console/web/usage-numbers.js';
import { launchChromium, openConsole } from '../console/chromium.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// `tollgate dev --admin-port`: the console and its API on the admin port, from this process's own
// usage history and manifests, read with the admin token.

let upstream: OpenAiUpstream;
let gateway: TestGateway;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway(
    {
      'provider.yaml': openAiProvider('up', upstream.baseUrl, '  models: [{ name: m, contextWindow: 1000, pricing: { input: 1000, output: 2000 } }]\n'),
      'route.yaml': 'apiVersion: tollgate.dev/v1alpha1\nkind: ModelRoute\nmetadata: { name: chat }\nspec:\n  model: chat\n  targets: [{ providerRef: { name: up }, model: m }]\n',
      'budget.yaml': 'apiVersion: tollgate.dev/v1alpha1\nkind: Budget\nmetadata: { name: daily }\nspec:\n  limit: { amount: 100, unit: USD }\n  period: Day\n  subjects: { routes: [{ name: chat }] }\n',
    },
    { admin: true },
  );
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

const api = (path: string, token?: string) => fetch(`${gateway.adminUrl ?? ''}/console/api/k8s${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

// It runs the built CLI: a start took over 30 s at load 45 (60 s per run, 90 s per test).
describe("tollgate dev's console", { timeout: 90_000 }, () => {
  it('serves the page and script without a token, and the data only with the admin token', async () => {
    const page = await fetch(`${gateway.adminUrl ?? ''}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('/console/console.js');
    expect((await api('/apis/tollgate.dev/v1alpha1/usagereports')).status).toBe(401);
    expect((await api('/apis/tollgate.dev/v1alpha1/usagereports', 'not-the-token')).status).toBe(401);
    expect((await api('/api/v1/secrets', gateway.adminToken)).status).toBe(403);
  });

  it('lists the usage of this process as UsageReports, and the manifests it serves', async () => {
    upstream.script({ kind: 'ok', usage: { prompt: 10, completion: 5 } });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
      await res.text();
    }
    let items: { metadata: { name: string; namespace: string }; status: UsageReportStatus }[] = [];
    for (let i = 0; i < 100 && (items[0]?.status.totals.requests ?? 0) < 3; i++) {
      items = ((await (await api('/apis/tollgate.dev/v1alpha1/namespaces/default/usagereports', gateway.adminToken)).json()) as { items: typeof items }).items;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(items).toHaveLength(1);
    expect(items[0]?.metadata).toMatchObject({ name: new Date().toISOString().slice(0, 10), namespace: 'default' });
    expect(items[0]?.status.totals).toMatchObject({ requests: 3, inputTokens: 30, outputTokens: 15 });
    expect(items[0]?.status.totals.costUsd).toBeCloseTo(0.06, 9);
    // The overview's metadata-only list: no status, and each day's summary equal to the report's totals.
    const listed = (await (await api('/apis/tollgate.dev/v1alpha1/namespaces/default/usagereports?as=metadata', gateway.adminToken)).json()) as { items: (ReportMetadata & { status?: unknown })[] };
    expect(listed.items.map((i) => [i.status, summaryReport(i)?.status?.totals])).toEqual([[undefined, items[0]?.status.totals]]);
    const routes = (await (await api('/apis/tollgate.dev/v1alpha1/modelroutes', gateway.adminToken)).json()) as { items: { metadata: { name: string } }[] };
    expect(routes.items.map((r) => r.metadata.name)).toEqual(['chat']);
    // Budgets carry the spend this process enforces, as the operator's status would (the console's burn-down and projection).
    const budgets = (await (await api('/apis/tollgate.dev/v1alpha1/namespaces/default/budgets', gateway.adminToken)).json()) as { items: { status?: { spent: number; remaining: number; periodStart: string; resetsAt: string } }[] };
    const status = budgets.items[0]?.status;
    expect(status?.spent).toBeCloseTo(0.06, 9);
    expect(status?.remaining).toBeCloseTo(99.94, 9);
    const today = new Date().toISOString().slice(0, 10);
    expect([status?.periodStart, status?.resetsAt]).toEqual([`${today}T00:00:00Z`, new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString().replace('.000Z', 'Z')]);
  });

  /** The built CLI, as a user runs it; asynchronously, since the gateway it reads runs in this process. */
  const spend = async (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(process.cwd(), 'dist/cli/tollgate.js'), 'spend', ...args], { encoding: 'utf8', timeout: 60_000 });
      return { status: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { status: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };

  it('tollgate spend --console reads the same history through the admin port (the built CLI, as a user runs it)', async () => {
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'tollgate-spend-')), 'admin-token');
    writeFileSync(tokenFile, gateway.adminToken ?? '');
    const items = ((await (await api('/apis/tollgate.dev/v1alpha1/usagereports', gateway.adminToken)).json()) as { items: { status: UsageReportStatus }[] }).items;
    const requests = items.reduce((n, r) => n + r.status.totals.requests, 0);
    expect(requests).toBeGreaterThan(0);
    const run = await spend(['--by', 'route', '--since', '1d', '--console', `${gateway.adminUrl ?? ''}/console/`, '--token-file', tokenFile]);
    expect(run.status, run.stderr).toBe(0);
    const rows = run.stdout.trimEnd().split('\n').slice(2).map((l) => l.split(/\s{2,}/));
    expect(rows.map((r) => [r[0], r[1]])).toEqual([
      ['default/chat', String(requests)],
      ['TOTAL', String(requests)],
    ]);
    writeFileSync(tokenFile, 'not-the-token');
    const refused = await spend(['--console', gateway.adminUrl ?? '', '--token-file', tokenFile]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('the credentials were not accepted (401)');
  });

  it('every view of the console loads in Chromium from the built `tollgate dev --admin-port` (as a user runs it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-dev-console-'));
    writeFileSync(join(dir, 'provider.yaml'), openAiProvider('up', upstream.baseUrl, '  models: [{ name: m, pricing: { input: 1000, output: 2000 } }]\n'));
    writeFileSync(join(dir, 'route.yaml'), 'apiVersion: tollgate.dev/v1alpha1\nkind: ModelRoute\nmetadata: { name: chat }\nspec:\n  model: chat\n  targets: [{ providerRef: { name: up }, model: m }]\n');
    const child = spawn(process.execPath, [join(process.cwd(), 'dist/cli/tollgate.js'), 'dev', '-f', dir, '--port', '0', '--admin-port', '0'], {
      env: { ...process.env, TOLLGATE_STATE_DIR: join(dir, 'state'), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const browser = await launchChromium();
    try {
      // What it says at start: the gateway's URL, the console's, and the file holding the token.
      for (let i = 0; i < 1200 && child.exitCode === null && !(out.includes('"consoleUrl"') && out.includes('Tollgate is serving')); i++) await new Promise((r) => setTimeout(r, 50));
      const started = /"consoleUrl":"([^"]+)","tokenFile":"([^"]+)"/.exec(out);
      const url = / at (http:\/\/\S+) \(models/.exec(out)?.[1];
      expect(started, out).not.toBeNull();
      upstream.script({ kind: 'ok', usage: { prompt: 10, completion: 5 } });
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${url ?? ''}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
        expect(res.status).toBe(200);
        await res.text();
      }
      const page = await openConsole(browser, started?.[1] ?? '', readFileSync(started?.[2] ?? '', 'utf8').trim(), '');
      expect(await page.getAttribute('#message', 'data-state')).toBe('done');
      // Each view with its numbers: two requests of $0.02, both ok, served by default/up.
      expect(await page.textContent('[data-testid=requests]')).toBe('2');
      expect(await page.textContent('[data-testid=spend-today]')).toBe('$0.04');
      const rows = (testid: string) => page.$$eval(`[data-testid=${testid}] tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));
      await page.click('[data-view=breakdown]');
      expect(await rows('breakdown')).toEqual([['default', '2', '0', '0.0%', '$0.04', '20', '10', '0']]);
      await page.click('[data-view=budgets]');
      expect(await rows('budgets')).toEqual([]);
      await page.click('[data-view=failures]');
      expect((await rows('outcomes'))[0]).toEqual(['ok', '2', '100.0%']);
      expect(await page.textContent('[data-testid=failovers]')).toBe('0');
      await page.click('[data-view=compare]');
      expect((await rows('compare-b'))[0]).toEqual(['Requests', '2']);
      expect(await rows('compare-b-mix')).toEqual([['default/up', '100.0%']]);
      expect((await rows('changes')).map((r) => r[1]?.replace(/ \(.*\)$/, ''))).toEqual(['ModelRoute default/chat generation 1', 'Provider default/up generation 1']);
      expect(await page.getAttribute('#message', 'data-state')).toBe('done');
    } finally {
      await browser.close();
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    // A process and a browser to start: seconds, many more on a loaded machine.
  }, 90_000);

  it('marks ModelRoute and Provider spec changes as the operator does: a generation and a status.specHistory entry per change', async () => {
    interface Listed {
      metadata: { name: string; generation?: number };
      status?: { specHistory?: { generation: number; changedAt: string }[] };
    }
    const list = async (plural: string): Promise<Listed[]> => ((await (await api(`/apis/tollgate.dev/v1alpha1/namespaces/default/${plural}`, gateway.adminToken)).json()) as { items: Listed[] }).items;
    const other = (model: string) => `apiVersion: tollgate.dev/v1alpha1\nkind: ModelRoute\nmetadata: { name: other }\nspec:\n  model: other\n  targets: [{ providerRef: { name: up }, model: ${model} }]\n`;
    const history = async (name: string): Promise<number[]> => {
      const o = (await list('modelroutes')).find((r) => r.metadata.name === name);
      expect(o?.status?.specHistory?.at(-1)?.generation).toBe(o?.metadata.generation);
      for (const h of o?.status?.specHistory ?? []) expect(Math.abs(Date.parse(h.changedAt) - Date.now())).toBeLessThan(60_000);
      return (o?.status?.specHistory ?? []).map((h) => h.generation);
    };
    expect(gateway.write('other.yaml', other('m')).errors).toEqual([]);
    expect(await history('other')).toEqual([1]);
    expect(gateway.write('other.yaml', other('m2')).errors).toEqual([]);
    expect(await history('other')).toEqual([1, 2]);
    // A reload that leaves the spec as it was (here: the same file again) is no change.
    expect(gateway.write('other.yaml', other('m2')).errors).toEqual([]);
    expect(await history('other')).toEqual([1, 2]);
    expect(await history('chat')).toEqual([1]);
    const up = (await list('providers')).find((p) => p.metadata.name === 'up');
    expect(up?.metadata.generation).toBe(1);
    expect(up?.status?.specHistory?.map((h) => h.generation)).toEqual([1]);
  });
});
