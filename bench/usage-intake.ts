/**
 * The usage channel's intake (issue 18): 20 data planes at full load reporting to a real operator
 * against the real kube-apiserver (test/cluster), before and after the send window, side by side.
 *
 * Each round runs every variant in turn (interleaved, so the machine's load hits both alike): a
 * fresh operator process of that variant (its own Lease), 20 of that variant's own UsageReporters
 * (one per pod name, in this process) sending one record per request at USAGE_INTAKE_RATE requests/s
 * each for USAGE_INTAKE_SECONDS over 50 namespaces, then until everything is acknowledged. Measured
 * per run: records on the wire (counted in the reporters' HTTP dispatcher) and per second, the
 * duplicates among them, the operator's CPU (/proc), the API server's write requests (its own
 * apiserver_request_total), the time to drain, and that the UsageReports hold exactly the requests
 * sent.
 *
 *   test/integration/run-in-netns.sh node --import tsx bench/usage-intake.ts
 *   USAGE_INTAKE_BEFORE=/path/to/older/checkout (with dist/ built and node_modules) adds the "before"
 *   variant: its operator (dist/cli/tollgate.js) and its UsageReporter.
 *
 * Loopback and the netns only; bounded in time; stops everything it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import type { BudgetLedger } from '../dataplane/governance/budget/budget-ledger.js';
import type { UsageReporter } from '../dataplane/governance/budget/usage-reporter.js';
import { KubeClient } from '../operator/kube/kube-client.js';
import { dataplaneService, startTestCluster, type TestCluster, TOKEN } from '../test/integration/harness.js';
import { apiserverRequests, countsSince, reportAtRate, stopOnceOnLimitOrSignal, usageNamespace } from './lib/usage-load.js';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PODS = 20;
const NAMESPACES = 50;
const RATE = Number(process.env.USAGE_INTAKE_RATE ?? '500');
const SECONDS = Number(process.env.USAGE_INTAKE_SECONDS ?? '10');
const ROUNDS = Number(process.env.USAGE_INTAKE_ROUNDS ?? '2');
const BEFORE = process.env.USAGE_INTAKE_BEFORE;
const OPERATOR_PORT = 19393;
const DRAIN_LIMIT_MS = 400_000;
const HARD_LIMIT_MS = 30 * 60_000;

if (process.env.TOLLGATE_IN_NETNS !== '1') {
  process.stderr.write('usage-intake: run inside test/integration/run-in-netns.sh\n');
  process.exit(2);
}

function log(message: string): void {
  process.stderr.write(`[intake ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

interface Variant {
  name: 'before' | 'after';
  root: string;
}
const variants: Variant[] = [...(BEFORE === undefined ? [] : [{ name: 'before' as const, root: resolve(BEFORE) }]), { name: 'after', root: repoRoot }];

let cluster: TestCluster | undefined;
let operator: ChildProcess | undefined;
let reporters: UsageReporter[] = [];
const cleanup = stopOnceOnLimitOrSignal(
  HARD_LIMIT_MS,
  async () => {
    for (const r of reporters) await r.drain(0).catch(() => undefined);
    operator?.kill('SIGKILL');
    await cluster?.stop().catch(() => undefined);
  },
  log,
);

/** The reporters' HTTP client, counting what goes on the wire: reports, records (one `"seq":` each) and bytes. */
class CountingAgent extends Agent {
  reports = 0;
  records = 0;
  bytes = 0;
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (typeof opts.body === 'string') {
      this.reports++;
      this.bytes += opts.body.length;
      for (let i = opts.body.indexOf('"seq":'); i !== -1; i = opts.body.indexOf('"seq":', i + 6)) this.records++;
    }
    return super.dispatch(opts, handler);
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function countedRequests(client: KubeClient): Promise<number> {
  // A fresh API server may still be initialising the CRD's storage (429): ask again.
  for (let attempt = 1; ; attempt++) {
    try {
      const list = await client.request<{ items: { status?: { totals: { requests: number } } }[] }>('GET', '/apis/tollgate.dev/v1alpha1/usagereports');
      return list.items.reduce((n, i) => n + (i.status?.totals.requests ?? 0), 0);
    } catch (err) {
      if (attempt >= 60) throw err;
      await sleep(1000);
    }
  }
}

function startVariantOperator(k: TestCluster, v: Variant, lease: string, logDir: string): ChildProcess {
  const args = [join(v.root, 'dist/cli/tollgate.js'), 'operator', '--kubeconfig', k.operatorKubeconfig, '--host', '127.0.0.1', '--port', String(OPERATOR_PORT), '--identity', lease, '--dataplane-namespace', 'tollgate-system', '--lease-name', lease];
  const out = openSync(join(logDir, `operator-${lease}.log`), 'w');
  const child = spawn(process.execPath, args, { env: { ...process.env, LOG_LEVEL: 'info', TOLLGATE_ADMIN_TOKEN: TOKEN }, stdio: ['ignore', out, out] });
  closeSync(out);
  return child;
}

interface Run {
  variant: Variant['name'];
  round: number;
  records: number;
  loadSeconds: number;
  drainSeconds: number;
  wireRecords: number;
  wireReports: number;
  wireMiB: number;
  operatorCpuSeconds: number;
  usagereports: Record<string, number>;
  apiWrites: number;
  maxBacklog: number;
  dropped: number;
  counted: number;
  resends: number | undefined;
}

async function run(k: TestCluster, client: KubeClient, v: Variant, round: number, logDir: string): Promise<Run> {
  const lease = `intake-${v.name}-${round}`;
  operator = startVariantOperator(k, v, lease, logDir);
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`http://127.0.0.1:${OPERATOR_PORT}/readyz`).catch(() => undefined);
    if (res !== undefined && ((await res.json()) as { leader?: boolean }).leader === true) break;
    await sleep(200);
  }
  await sleep(1000);
  const { UsageReporter: Reporter } = (await import(pathToFileURL(join(v.root, 'dataplane/governance/budget/usage-reporter.ts')).href)) as { UsageReporter: typeof UsageReporter };
  const { BudgetLedger: Ledger } = (await import(pathToFileURL(join(v.root, 'dataplane/governance/budget/budget-ledger.ts')).href)) as { BudgetLedger: typeof BudgetLedger };
  const agent = new CountingAgent();
  const logger = pino({ level: 'silent' });
  reporters = Array.from({ length: PODS }, (_, i) => new Reporter(new Ledger(`${lease}-pod-${i}`, { standalone: false }), { operatorUrl: `http://127.0.0.1:${OPERATOR_PORT}`, token: TOKEN, logger, dispatcher: agent }));
  const counted0 = await countedRequests(client);
  const api0 = apiserverRequests(k, 'usagereports');
  const pid = operator.pid ?? 0;
  const cpu0 = cpuSeconds(pid);
  for (const r of reporters) r.start();
  const { records, maxBacklog, started, loadEnd, drained } = await reportAtRate(reporters, { rate: RATE, seconds: SECONDS, namespaces: NAMESPACES, drainLimitMs: DRAIN_LIMIT_MS });
  const cpu = cpuSeconds(pid) - cpu0;
  const api1 = apiserverRequests(k, 'usagereports');
  for (const r of reporters) await r.drain(0);
  const dropped = reporters.reduce((sum, r) => sum + r.historyDropped, 0);
  const sent = (reporters[0] as { sent?: unknown } | undefined)?.sent === undefined ? undefined : reporters.reduce((sum, r) => sum + r.sent.resends, 0);
  reporters = [];
  const exited = once(operator, 'exit');
  operator.kill('SIGTERM');
  await exited;
  operator = undefined;
  await agent.close();
  return {
    variant: v.name,
    round,
    records,
    loadSeconds: (loadEnd - started) / 1000,
    drainSeconds: (drained - loadEnd) / 1000,
    wireRecords: agent.records,
    wireReports: agent.reports,
    wireMiB: agent.bytes / 2 ** 20,
    operatorCpuSeconds: cpu,
    usagereports: countsSince(api1.byVerb, api0.byVerb),
    apiWrites: api1.writes - api0.writes,
    maxBacklog,
    dropped,
    counted: (await countedRequests(client)) - counted0,
    resends: sent,
  };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 === 1 ? (sorted[Math.floor(mid)] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

interface Derived {
  wall: number;
  wirePerSecond: number;
  duplicates: number;
  ackedPerSecond: number;
  cpuPercent: number;
  cpuMsPer1kRecords: number;
  usagereportWrites: number;
  usagereportWritesPerSecond: number;
  usagereportWritesPer1kRecords: number;
  apiWritesPerSecond: number;
}

function derive(r: Run): Derived {
  const wall = r.loadSeconds + r.drainSeconds;
  const writes = (r.usagereports.PUT ?? 0) + (r.usagereports.POST ?? 0);
  return {
    wall,
    wirePerSecond: r.wireRecords / wall,
    duplicates: r.wireRecords === 0 ? 0 : (r.wireRecords - r.records) / r.wireRecords,
    ackedPerSecond: (r.records - r.dropped) / wall,
    cpuPercent: (100 * r.operatorCpuSeconds) / wall,
    cpuMsPer1kRecords: (1000 * r.operatorCpuSeconds) / (r.records / 1000),
    usagereportWrites: writes,
    usagereportWritesPerSecond: writes / wall,
    usagereportWritesPer1kRecords: writes / (r.records / 1000),
    apiWritesPerSecond: r.apiWrites / wall,
  };
}

function render(runs: Run[], startedAt: string, loads: string[]): string {
  const names = variants.map((v) => v.name);
  const rows: [string, (r: Run, d: Derived) => number, number][] = [
    ['Requests reported (unique records)', (r) => r.records, 0],
    ['Records on the wire, per second (load + drain)', (_, d) => d.wirePerSecond, 0],
    ['Duplicates among them', (_, d) => 100 * d.duplicates, 1],
    ['Records acknowledged per second (start to drained)', (_, d) => d.ackedPerSecond, 0],
    ['Time to drain after the load stopped (s)', (r) => r.drainSeconds, 1],
    ['Largest backlog (unacknowledged, all pods)', (r) => r.maxBacklog, 0],
    ['Operator CPU, % of one core (load + drain)', (_, d) => d.cpuPercent, 0],
    ['Operator CPU seconds per 1,000 requests (ms)', (_, d) => d.cpuMsPer1kRecords, 1],
    ['Reports sent (HTTP requests)', (r) => r.wireReports, 0],
    ['MiB on the wire', (r) => r.wireMiB, 1],
    ['API server: UsageReport writes (PUT+POST) in the run', (_, d) => d.usagereportWrites, 0],
    ['API server: UsageReport writes per second (load + drain)', (_, d) => d.usagereportWritesPerSecond, 2],
    ['API server: UsageReport writes per 1,000 requests', (_, d) => d.usagereportWritesPer1kRecords, 2],
    ['API server: all write requests per second (load + drain)', (_, d) => d.apiWritesPerSecond, 2],
    ['Counted in UsageReports − reported + dropped (0 = exact)', (r) => r.counted - r.records + r.dropped, 0],
  ];
  const medians = (name: string, f: (r: Run, d: Derived) => number): number => median(runs.filter((r) => r.variant === name).map((r) => f(r, derive(r))));
  const table = [
    `| Measure (median of ${ROUNDS} rounds) | ${names.join(' | ')}${names.length > 1 ? ' | after / before' : ''} |`,
    `| --- | ${names.map(() => '---').join(' | ')}${names.length > 1 ? ' | --- |' : ''}`,
    ...rows.map(([label, f, digits]) => {
      const values = names.map((n) => medians(n, f));
      const ratio = values.length > 1 && values[0] !== 0 ? ` | ${fmt((values[1] ?? 0) / (values[0] ?? 1), 2)}` : values.length > 1 ? ' | –' : '';
      return `| ${label} | ${values.map((x) => fmt(x, digits)).join(' | ')}${ratio} |`;
    }),
  ].join('\n');
  const raw = [
    '| Round | Variant | Unique records | On the wire | Dup. % | Load s | Drain s | Operator CPU s | usagereports requests | All API writes | Counted | Resends |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map((r) => {
      const d = derive(r);
      const verbs = Object.entries(r.usagereports)
        .filter(([, n]) => n > 0)
        .map(([verb, n]) => `${verb} ${n}`)
        .join(', ');
      return `| ${r.round} | ${r.variant} | ${fmt(r.records)} | ${fmt(r.wireRecords)} | ${fmt(100 * d.duplicates, 1)} | ${fmt(r.loadSeconds, 1)} | ${fmt(r.drainSeconds, 1)} | ${fmt(r.operatorCpuSeconds, 1)} | ${verbs} | ${fmt(r.apiWrites)} | ${fmt(r.counted)} | ${r.resends ?? '–'} |`;
    }),
  ].join('\n');
  return `# Usage channel intake: 20 data planes at full load, before and after the send window (${startedAt.slice(0, 10)})

Command: \`test/integration/run-in-netns.sh node --import tsx bench/usage-intake.ts\` with USAGE_INTAKE_RATE=${RATE}, USAGE_INTAKE_SECONDS=${SECONDS}, USAGE_INTAKE_ROUNDS=${ROUNDS}${BEFORE === undefined ? '' : ', USAGE_INTAKE_BEFORE=<a checkout of the commit before the send window, dist/ built>'}.
Started ${startedAt}. Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${release()}; load average (1/5/15 min) ${loads.join(' → ')} (a shared machine: other work ran meanwhile).

Real kube-apiserver + etcd (test/cluster), one operator process per run (default \`--usage-flush-interval 5\`, its own Lease), ${PODS} UsageReporters of the same variant in the bench process (one pod name each), ${RATE} requests/s each (${fmt(PODS * RATE)}/s in all) for ${SECONDS} s over ${NAMESPACES} namespaces, then until every record is acknowledged. Rounds interleave the variants.

${table}

Every run:

${raw}
`;
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const loads = [loadavg().map((l) => l.toFixed(2)).join('/')];
  const rawDir = join(repoRoot, 'bench', 'results', 'raw', `intake-${startedAt.replace(/[:.]/g, '').slice(0, 17)}`);
  mkdirSync(rawDir, { recursive: true });
  log(`variants: ${variants.map((v) => `${v.name} (${v.root})`).join(', ')}`);
  cluster = await startTestCluster();
  const k = cluster;
  for (let i = 0; i < NAMESPACES; i++) k.kubectl(['create', 'namespace', usageNamespace(i)]);
  k.apply(dataplaneService([]));
  const kc = new KubeConfig();
  kc.loadFromFile(k.kubeconfig);
  const client = new KubeClient(kc);
  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const v of round % 2 === 1 ? variants : [...variants].reverse()) {
      log(`round ${round}, ${v.name}: ${PODS} pods × ${RATE}/s for ${SECONDS} s`);
      const r = await run(k, client, v, round, rawDir);
      log(`round ${round}, ${v.name}: ${JSON.stringify({ ...r, ...derive(r) })}`);
      runs.push(r);
      loads.push(loadavg().map((l) => l.toFixed(2)).join('/'));
    }
  }
  await client.close();
  writeFileSync(join(rawDir, 'results.json'), `${JSON.stringify({ startedAt, rate: RATE, seconds: SECONDS, rounds: ROUNDS, runs, loads }, null, 2)}\n`);
  const full = BEFORE !== undefined && SECONDS >= 10 && ROUNDS >= 2;
  const file = full ? join(repoRoot, 'bench', 'results', `usage-intake-${startedAt.slice(0, 10)}.md`) : join(rawDir, 'report.md');
  writeFileSync(file, render(runs, startedAt, loads));
  log(`report: ${file}`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`usage-intake: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => void cleanup().then(() => process.exit()));
