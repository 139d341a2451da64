// The console's screenshots in docs/images/ (docs/console.md), reproducibly: `make console-screenshots`.
//
// Starts the built `tollgate dev --auth --admin-port` on examples/console/ (mock Providers, two teams,
// five API keys, two Budgets), sends a week of mixed traffic through its public port (streams and
// whole answers, failovers, rate-limited and budget-refused requests, cache hits, clients that
// leave), swaps search-chat's targets halfway through the week (the spec change before/after
// judges), then opens the console in Debian's Chromium (playwright-core) and writes
// docs/images/console-<view>.png for each view.
//
// `tollgate dev` keeps its usage history in memory, from its own start, and counts each request on
// the day its clock says. So that the history spans a week, the gateway runs under libfaketime with
// its calendar set back day by day (wall clock only: latencies are measured on the real monotonic
// clock). Every number shown comes from requests that really went through the gateway.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { seededRandom as random } from '../test/support/seeded-random.js';
import { recompressPng } from './png-recompress.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/cli/tollgate.js');
const EXAMPLE = join(ROOT, 'examples/console');
const OUT = resolve(ROOT, process.env.CONSOLE_SCREENSHOTS_DIR ?? 'docs/images');
const DAYS = 7;
/** The day (0 = six days ago) from which search-chat tries the small model first. */
const CHANGE_DAY = 3;
/** Requests in flight at once. */
const WIDTH = 16;
const DAY_MS = 86_400_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = await f().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** libfaketime's multi-threaded library from Debian's package (tools/ensure-faketime.sh installs it). */
function fakeTimeLibrary(): string {
  for (const dir of readdirSync('/usr/lib', { withFileTypes: true })) {
    const path = join('/usr/lib', dir.name, 'faketime', 'libfaketimeMT.so.1');
    if (dir.isDirectory() && existsSync(path)) return path;
  }
  throw new Error('libfaketime is missing: run `bash tools/ensure-faketime.sh` (or `make console-screenshots`)');
}

// ---- traffic -------------------------------------------------------------------------------

const WORDS = 'gateway route budget provider latency token cache stream failover namespace request answer search support ticket order invoice shipping refund account'.split(' ');
/** A prompt of about `tokens` tokens (the gateway estimates 4 bytes a token). */
function prompt(tokens: number, seed: number): string {
  const next = random(seed);
  const out: string[] = [];
  for (let bytes = 0; bytes < tokens * 4; ) {
    const w = WORDS[Math.floor(next() * WORDS.length)] ?? 'word';
    out.push(w);
    bytes += w.length + 1;
  }
  return out.join(' ');
}

interface Call {
  key: string;
  model: string;
  stream: boolean;
  promptTokens: number;
  /** Same seed, same prompt: repeats are cache hits on a route with a cache. */
  seed: number;
  maxTokens: number;
  /** The client leaves after this long (a cancelled request). */
  leaveAfterMs?: number;
  /** Sent all at once at the start of the day, before the rest (a burst). */
  burst?: boolean;
}

/** A day's traffic; `day` 0 is six days ago, 6 is today. */
function callsOf(day: number): Call[] {
  const next = random(1000 + day);
  const volume = [0.55, 0.9, 1.0, 1.1, 1.0, 1.15, 0.7][day] ?? 1;
  // Today team-support's helpdesk bot loops on a few tickets: its daily Budget runs out.
  const support = day === DAYS - 1 ? 3.2 : volume;
  const calls: Call[] = [];
  const add = (n: number, make: (i: number) => Call): void => {
    for (let i = 0; i < Math.round(n); i++) calls.push(make(i));
  };
  add(60 * volume, (i) => ({ key: 'web-frontend', model: 'search-chat', stream: true, promptTokens: 2500 + Math.floor(next() * 1500), seed: day * 10_000 + i, maxTokens: 400 }));
  add(20 * volume, (i) => ({ key: 'indexer', model: 'search-chat', stream: false, promptTokens: 5000, seed: day * 10_000 + 1000 + i, maxTokens: 300 }));
  // Documents summarized again and again: the route's cache answers the repeats.
  add(80 * volume, () => ({ key: 'indexer', model: 'search-summarize', stream: false, promptTokens: 2000, seed: 500 + Math.floor(next() * 40), maxTokens: 200 }));
  // The nightly evaluation sends its batch at once: the per-caller token rate limit refuses part of it.
  add(40, (i) => ({ key: 'eval-runner', model: 'search-chat', stream: false, promptTokens: 12_000, seed: day * 10_000 + 2000 + i, maxTokens: 200, burst: true }));
  add(2, (i) => ({ key: 'eval-runner', model: 'search-chat-v2', stream: false, promptTokens: 100, seed: day * 10_000 + 3000 + i, maxTokens: 50 }));
  add(40 * support, (i) => ({ key: 'helpdesk-bot', model: 'support-assistant', stream: true, promptTokens: 2800 + Math.floor(next() * 800), seed: day * 10_000 + 4000 + i, maxTokens: 300 }));
  add(22 * volume, (i) => ({
    key: 'agent-console',
    model: 'support-assistant',
    stream: true,
    promptTokens: 1500,
    seed: day * 10_000 + 5000 + i,
    maxTokens: 300,
    ...(next() < 0.12 ? { leaveAfterMs: 700 } : {}),
  }));
  // Mixed, in a fixed order per day (the burst goes first: sendAll).
  const mixed = calls.filter((c) => c.burst !== true);
  for (let i = mixed.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [mixed[i], mixed[j]] = [mixed[j] as Call, mixed[i] as Call];
  }
  return [...calls.filter((c) => c.burst === true), ...mixed];
}

/** One request as a client sends it; the status it got (0 for a client that left). */
async function send(base: string, call: Call): Promise<number> {
  const abort = new AbortController();
  const timer = call.leaveAfterMs === undefined ? undefined : setTimeout(() => abort.abort(), call.leaveAfterMs);
  try {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer demo-key-${call.key}` },
      body: JSON.stringify({ model: call.model, stream: call.stream, max_tokens: call.maxTokens, messages: [{ role: 'user', content: prompt(call.promptTokens, call.seed) }] }),
    });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    if (abort.signal.aborted) return 0;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** The burst first, then the rest; `WIDTH` requests in flight. Counts by status. */
async function sendAll(base: string, calls: Call[]): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (const part of [calls.filter((x) => x.burst === true), calls.filter((x) => x.burst !== true)]) {
    let next = 0;
    await Promise.all(
      Array.from({ length: WIDTH }, async () => {
        for (let i = next++; i < part.length; i = next++) {
          const status = await send(base, part[i] as Call);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
  }
  return statuses;
}

// ---- the gateway ---------------------------------------------------------------------------

interface Gateway {
  proc: ChildProcess;
  url: string;
  adminUrl: string;
  token: string;
  dir: string;
  clock: string;
}

async function startGateway(work: string): Promise<Gateway> {
  const dir = join(work, 'manifests');
  const state = join(work, 'state');
  const clock = join(work, 'clock');
  mkdirSync(dir);
  mkdirSync(state);
  for (const f of readdirSync(EXAMPLE).filter((n) => /^\d\d-.*\.yaml$/.test(n))) copyFileSync(join(EXAMPLE, f), join(dir, f));
  writeFileSync(clock, `-${DAYS - 1}d\n`);
  const [port, adminPort] = [await freePort(), await freePort()];
  const proc = spawn(process.execPath, [CLI, 'dev', '-f', dir, '--port', String(port), '--admin-port', String(adminPort), '--auth', '--log-level', 'warn'], {
    env: {
      ...process.env,
      TOLLGATE_STATE_DIR: state,
      LD_PRELOAD: fakeTimeLibrary(),
      FAKETIME_TIMESTAMP_FILE: clock,
      // Read the offset again at most once a second; latencies stay on the real monotonic clock.
      FAKETIME_CACHE_DURATION: '1',
      DONT_FAKE_MONOTONIC: '1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually('tollgate dev to be ready', async () => ((await fetch(`${url}/readyz`)).ok ? true : undefined));
  return { proc, url, adminUrl: `http://127.0.0.1:${adminPort}`, token: readFileSync(join(state, 'admin-token'), 'utf8').trim(), dir, clock };
}

/** The gateway's calendar day, as its Date header says. */
async function gatewayDay(g: Gateway): Promise<string> {
  const res = await fetch(`${g.url}/healthz`);
  await res.arrayBuffer();
  return new Date(res.headers.get('date') ?? '').toISOString().slice(0, 10);
}

async function consoleGet<T>(g: Gateway, path: string): Promise<T> {
  const res = await fetch(`${g.adminUrl}/console/api/k8s/apis/tollgate.dev/v1alpha1${path}`, { headers: { authorization: `Bearer ${g.token}` } });
  if (!res.ok) throw new Error(`${res.status} ${path}`);
  return (await res.json()) as T;
}

/** Requests counted on `date` (every namespace), as the console reads them. */
async function counted(g: Gateway, date: string): Promise<number> {
  const list = await consoleGet<{ items: { metadata: { name: string }; status: { totals: { requests: number } } }[] }>(g, '/usagereports');
  return list.items.filter((r) => r.metadata.name === date).reduce((n, r) => n + r.status.totals.requests, 0);
}

/** search-chat tries the small model first from now on: the routing change before/after judges. */
async function changeRoute(g: Gateway): Promise<void> {
  const path = join(g.dir, '20-routes.yaml');
  const yaml = readFileSync(path, 'utf8');
  const swapped = yaml
    .replace('model: frontier-large, priority: 0 }\n    - { providerRef: { name: small-api', 'model: frontier-large, priority: 10 }\n    - { providerRef: { name: small-api')
    .replace('model: small-fast, priority: 10 }\n  retry: { attempts: 1 }\n  rateLimits', 'model: small-fast, priority: 0 }\n  retry: { attempts: 1 }\n  rateLimits');
  if (swapped === yaml) throw new Error('examples/console/20-routes.yaml changed: update changeRoute()');
  writeFileSync(path, swapped);
  await eventually('the route change to be loaded', async () => {
    const routes = await consoleGet<{ items: { metadata: { name: string; generation?: number } }[] }>(g, '/namespaces/team-search/modelroutes');
    return routes.items.find((r) => r.metadata.name === 'search-chat')?.metadata.generation === 2 ? true : undefined;
  });
}

// ---- screenshots ---------------------------------------------------------------------------

async function shoot(page: Page, name: string): Promise<void> {
  const path = join(OUT, `console-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`wrote ${path} (${Math.round(recompressPng(path) / 1024)} KiB)`);
}

async function screenshots(g: Gateway): Promise<void> {
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser']).toString().trim();
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    await page.goto(`${g.adminUrl}/console/`);
    await page.fill('#token', g.token);
    await page.fill('#days', String(DAYS));
    await page.click('button[type=submit]');
    await page.waitForSelector('#message[data-state=done]');
    mkdirSync(OUT, { recursive: true });
    await shoot(page, 'overview');
    await page.click('[data-view=breakdown]');
    await page.selectOption('#dimension', 'route');
    await page.waitForSelector('[data-testid=breakdown][data-dimension=route]');
    await shoot(page, 'breakdown');
    for (const view of ['budgets', 'failures', 'compare']) {
      await page.click(`[data-view=${view}]`);
      await page.waitForSelector(`#tabs button[data-view=${view}][aria-pressed=true]`);
      await shoot(page, view);
    }
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run make build`);
  const work = mkdtempSync(join(tmpdir(), 'tollgate-console-screenshots-'));
  const g = await startGateway(work);
  try {
    for (let day = 0; day < DAYS; day++) {
      const back = DAYS - 1 - day;
      writeFileSync(g.clock, back === 0 ? '+0\n' : `-${back}d\n`);
      const date = new Date(Date.now() - back * DAY_MS).toISOString().slice(0, 10);
      await eventually(`the gateway's clock to reach ${date}`, async () => ((await gatewayDay(g)) === date ? true : undefined), 10_000);
      if (day === CHANGE_DAY) await changeRoute(g);
      const calls = callsOf(day);
      const statuses = await sendAll(g.url, calls);
      // A client that left is counted once the gateway has noticed.
      await eventually(`${calls.length} requests counted on ${date}`, async () => ((await counted(g, date)) === calls.length ? true : undefined), 30_000);
      console.log(`${date}: ${calls.length} requests, ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${n} × ${s === 0 ? 'left' : s}`).join(', ')}`);
    }
    await screenshots(g);
  } finally {
    g.proc.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
