/**
 * Control plane (issue 8): time from `kubectl apply` of a new ModelRoute to the first request served
 * on it, with 1 and with 20 data-plane processes.
 *
 * A real kube-apiserver + etcd (test/cluster), the CRDs and the operator's least-privilege identity
 * installed as test/integration/harness.ts does, one operator process, and N data-plane processes on
 * 10.250.0.100+i inside the private network namespace of test/integration/run-in-netns.sh (the
 * EndpointSlice of the data-plane Service lists them, as the EndpointSlice controller would). Each
 * round applies one new ModelRoute (mock Provider, anonymous access) with `kubectl apply` and polls
 * every data plane (one request at a time per pod, 5 ms apart) until each answers 200 on the new
 * model. Bounded (per round and overall), loopback/netns only; stops everything it started.
 *
 *   make bench-apply      # = test/integration/run-in-netns.sh node --import tsx bench/apply-to-served.ts
 *   APPLY_BENCH_ROUNDS=3 make bench-apply   # shorter; report under bench/results/raw/
 *
 * The measured build is dist/ of this checkout, or BENCH_TOLLGATE_ROOT (a clean export made by
 * bench/build-export.sh) when set.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const ROUNDS = Number(process.env.APPLY_BENCH_ROUNDS ?? '10');
const SIZES = (process.env.APPLY_BENCH_SIZES ?? '1,20').split(',').map((s) => Number(s.trim()));
const POLL_MS = 5;
const ROUND_LIMIT_MS = 30_000;
const HARD_LIMIT_MS = 10 * 60_000;
const SETTLE_MS = 1000;
const OPERATOR_PORT = 19391;
const NAMESPACE = 'bench';
const FULL = ROUNDS >= 10 && SIZES.includes(1) && SIZES.includes(20);

if (process.env.TOLLGATE_IN_NETNS !== '1') {
  process.stderr.write('apply-to-served: run inside test/integration/run-in-netns.sh (make bench-apply does)\n');
  process.exit(2);
}
for (const n of SIZES) if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error(`APPLY_BENCH_SIZES: ${n} is not 1..100`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('APPLY_BENCH_ROUNDS must be a positive integer');

// The harness resolves the CLI as <cwd>/dist/cli/tollgate.js when it is imported: import it from the
// measured build's directory, then go back to the checkout (crds/, charts/ for the cluster set-up).
const tollgateRoot = resolve(process.env.BENCH_TOLLGATE_ROOT ?? repoRoot);
if (!existsSync(join(tollgateRoot, 'dist/cli/tollgate.js'))) throw new Error(`${tollgateRoot}/dist/cli/tollgate.js is missing: run make build`);
process.chdir(tollgateRoot);
const harness = await import('../test/integration/harness.js');
process.chdir(repoRoot);
const { dataplaneService, POD_NET, startDataplane, startOperator, startTestCluster } = harness;
type Proc = import('../test/integration/harness.js').Proc;
type TestCluster = import('../test/integration/harness.js').TestCluster;

function log(message: string): void {
  process.stderr.write(`[apply ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

let cluster: TestCluster | undefined;
let operator: Proc | undefined;
const dataplanes: Proc[] = [];
let stopping: Promise<void> | undefined;

function cleanup(): Promise<void> {
  stopping ??= (async () => {
    for (const p of dataplanes) await p.kill('SIGKILL').catch(() => undefined);
    await operator?.kill('SIGKILL').catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  })();
  return stopping;
}

const hardStop = setTimeout(() => {
  log('hard time limit reached; stopping');
  void cleanup().finally(() => process.exit(3));
}, HARD_LIMIT_MS);
hardStop.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping what this script started`);
    void cleanup().finally(() => process.exit(130));
  });
}

const ip = (i: number): string => `${POD_NET}.${100 + i}`;

/** One chat completion on `model`; true on 200. */
async function served(podIp: string, model: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${podIp}:8080/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
      signal: AbortSignal.timeout(2000),
    });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

const provider = `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: mock, namespace: ${NAMESPACE} }
spec:
  type: mock
  mock: { latency: 0ms, completionTokens: 4 }
`;

const route = (name: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: ${NAMESPACE} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: mock }, model: ${name} }]
  access: { anonymous: true }
`;

/** `kubectl apply -f -` without blocking the event loop (the polls run meanwhile). */
function kubectlApply(kubeconfig: string, manifest: string): Promise<void> {
  return new Promise((resolveApply, reject) => {
    const child = spawn('kubectl', ['apply', '-f', '-'], { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolveApply() : reject(new Error(`kubectl apply: exit ${String(code)}: ${stderr}`))));
    child.stdin.end(manifest);
  });
}

interface Round {
  route: string;
  /** kubectl apply returned (the API server accepted the object). */
  kubectlMs: number;
  /** First data plane to answer 200 on the new model. */
  firstMs: number;
  /** The last of them. */
  allMs: number;
  polls: number;
}

/** Applies a new route and polls every pod until each serves it; times from the start of `kubectl apply`. */
async function round(k: TestCluster, ips: string[], name: string): Promise<Round> {
  const t0 = performance.now();
  let kubectlMs = Number.NaN;
  const applied = kubectlApply(k.kubeconfig, route(name)).then(() => {
    kubectlMs = performance.now() - t0;
  });
  let polls = 0;
  const perPod = ips.map(async (podIp) => {
    while (performance.now() - t0 < ROUND_LIMIT_MS) {
      polls++;
      if (await served(podIp, name)) return performance.now() - t0;
      await sleep(POLL_MS);
    }
    throw new Error(`${podIp} did not serve ${name} within ${ROUND_LIMIT_MS / 1000} s`);
  });
  const times = await Promise.all(perPod);
  await applied;
  return { route: name, kubectlMs, firstMs: Math.min(...times), allMs: Math.max(...times), polls };
}

async function allServe(ips: string[], model: string, timeoutMs: number): Promise<void> {
  const started = Date.now();
  const pending = new Set(ips);
  while (pending.size > 0) {
    if (Date.now() - started > timeoutMs) throw new Error(`not serving ${model} after ${timeoutMs / 1000} s: ${[...pending].join(', ')}`);
    for (const podIp of [...pending]) if (await served(podIp, model)) pending.delete(podIp);
    if (pending.size > 0) await sleep(100);
  }
}

interface SizeResult {
  dataplanes: number;
  rounds: Round[];
  load: string;
  rssMiB: number;
}

function rssMiB(pids: number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0');
    } catch {
      /* gone */
    }
  }
  return kib / 1024;
}

const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
};
const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '–');

function commitOf(): string {
  const exported = join(tollgateRoot, '.bench-commit');
  if (existsSync(exported)) return `${readFileSync(exported, 'utf8').trim()} (clean export: ${tollgateRoot.slice(repoRoot.length + 1)})`;
  const sha = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'cli', 'operator', 'dataplane'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim();
  return `${sha}${dirty === '' ? '' : ' + uncommitted changes in cli/, operator/ or dataplane/'} (dist/ of the checkout)`;
}

function report(results: SizeResult[], startedAt: string, loads: string[]): string {
  const cpu = cpus()[0]?.model ?? 'unknown';
  const kubectlVersion = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' }).stdout;
  const kv = (JSON.parse(kubectlVersion || '{}') as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion ?? 'unknown';
  const rows = results.map((r) => {
    const first = r.rounds.map((x) => x.firstMs);
    const all = r.rounds.map((x) => x.allMs);
    const kc = r.rounds.map((x) => x.kubectlMs);
    return `| ${r.dataplanes} | ${r.rounds.length} | ${ms(pct(kc, 50))} | ${ms(pct(first, 50))} | ${ms(Math.max(...first))} | ${ms(pct(all, 50))} | ${ms(Math.max(...all))} | ${r.rssMiB.toFixed(0)} | ${r.load} |`;
  });
  const twenty = results.find((r) => r.dataplanes === 20);
  const twentyMax = twenty === undefined ? undefined : Math.max(...twenty.rounds.map((x) => x.allMs));
  const twentyP50 = twenty === undefined ? undefined : pct(twenty.rounds.map((x) => x.allMs), 50);
  const verdict =
    twentyMax === undefined || twentyP50 === undefined
      ? 'not measured (no run with 20 data planes)'
      : `${twentyMax <= 2000 ? 'met' : '**not met**'}: every pod served the new route within ${ms(twentyMax)} ms of \`kubectl apply\` in the slowest of ${twenty?.rounds.length ?? 0} rounds (p50 ${ms(twentyP50)} ms)`;
  const perRound = results
    .map((r) => `| N | round | route | kubectl apply returned, ms | first pod serves, ms | all pods serve, ms | polls |\n| --- | --- | --- | --- | --- | --- | --- |\n${r.rounds.map((x, i) => `| ${r.dataplanes} | ${i + 1} | ${x.route} | ${ms(x.kubectlMs)} | ${ms(x.firstMs)} | ${ms(x.allMs)} | ${x.polls} |`).join('\n')}`)
    .join('\n\n');
  return `# kubectl apply → first request served (issue 8, control plane)

Run started ${startedAt}. Script: \`bench/apply-to-served.ts\`.

## Target

Issue 8: **apply-to-served ≤ 2 s with 20 data planes** (reported, not asserted). This run: ${verdict}.

## Results

Times from the start of \`kubectl apply -f -\` of one new ModelRoute (the kubectl process's own
start-up included) to the first 200 answer on the new model, per data-plane process; p50 and max
over the rounds.

| data planes | rounds | kubectl apply returned, p50 ms | apply → first pod serves, p50 ms | max | apply → all pods serve, p50 ms | max | RSS of all data planes, MiB | load average (1/5/15 min) after |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

## Method

- A real kube-apiserver + etcd (\`test/cluster/cluster.ts\` \`startCluster\`), the CRDs and the
  operator's ClusterRole from \`charts/tollgate/files/operator-rules.yaml\` bound to its
  ServiceAccount (\`startTestCluster\` of \`test/integration/harness.ts\`); one operator process
  (\`tollgate operator\`, that ServiceAccount's token, leader election on); N data-plane processes
  (\`tollgate dataplane\`, \`LOG_LEVEL=warn\`) on ${POD_NET}.100 … inside the private network namespace
  of \`test/integration/run-in-netns.sh\`, listed in the EndpointSlice of the data-plane Service.
- Set-up: a mock Provider (no network) in namespace \`${NAMESPACE}\`; every pod must serve a warm-up
  route before the first measured round. With N=20, the 19 new pods join the same cluster and
  operator after the N=1 rounds (the N=1 routes stay applied).
- Each round: \`kubectl apply\` of one new ModelRoute (\`access: { anonymous: true }\`, one target on
  the mock Provider), started asynchronously; meanwhile each pod is polled with
  \`POST /v1/chat/completions\` on the new model, one request at a time per pod, ${POLL_MS} ms between a
  non-200 answer and the next request, until it answers 200. ${SETTLE_MS} ms pause between rounds
  (status writes settle). A round gives up after ${ROUND_LIMIT_MS / 1000} s.
- The polls are load too: with 20 pods, up to 20 requests are in flight at any time, on the same
  2 cores as the API server, etcd, the operator and the pods; nothing is pinned.

## Machine and versions

- ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${release()}
- Node ${process.version}, kubectl ${kv}, kube-apiserver/etcd from \`test/cluster/build.sh\`
- Tollgate: ${commitOf()}
- Load average (1/5/15 min) during the run: ${loads.join(' → ')}. Other work may share the machine;
  see bench/README.md on reading the numbers.

## Command

\`\`\`sh
make bench-apply   # = make build; test/integration/run-in-netns.sh node --import tsx bench/apply-to-served.ts
${process.env.BENCH_TOLLGATE_ROOT === undefined ? '' : `# this run: BENCH_TOLLGATE_ROOT=${tollgateRoot.slice(repoRoot.length + 1)} make bench-apply\n`}\`\`\`

Knobs: \`APPLY_BENCH_ROUNDS\` (10), \`APPLY_BENCH_SIZES\` (1,20); a run with fewer rounds or
other sizes writes its report under bench/results/raw/.

## Every round

${perRound}
`;
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const runId = startedAt.replace(/[:]/g, '').replace(/\..*$/, 'Z');
  const rawDir = join(repoRoot, 'bench', 'results', 'raw', `apply-${runId}`);
  mkdirSync(rawDir, { recursive: true });
  const loads: string[] = [loadavg().map((l) => l.toFixed(2)).join('/')];
  log(`starting kube-apiserver + etcd; measured build: ${tollgateRoot}`);
  cluster = await startTestCluster();
  const k = cluster;
  k.kubectl(['create', 'namespace', NAMESPACE]);
  k.apply(provider);
  operator = startOperator(k.operatorKubeconfig, { port: OPERATOR_PORT, identity: 'bench-operator' });
  const operatorUrl = `http://127.0.0.1:${OPERATOR_PORT}`;
  const results: SizeResult[] = [];
  for (const n of [...SIZES].sort((a, b) => a - b)) {
    while (dataplanes.length < n) {
      dataplanes.push(startDataplane(ip(dataplanes.length), { operatorUrl, env: { LOG_LEVEL: 'warn' } }));
    }
    const ips = dataplanes.slice(0, n).map((_, i) => ip(i));
    k.apply(dataplaneService(ips));
    const warm = `warm-${n}`;
    k.apply(route(warm));
    log(`N=${n}: waiting until every data plane serves ${warm}`);
    await allServe(ips, warm, 90_000);
    await sleep(SETTLE_MS);
    const rounds: Round[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      const r = await round(k, ips, `r${n}-${i}`);
      log(`N=${n} round ${i}: kubectl ${ms(r.kubectlMs)} ms, first ${ms(r.firstMs)} ms, all ${ms(r.allMs)} ms`);
      rounds.push(r);
      await sleep(SETTLE_MS);
    }
    const pids = dataplanes.slice(0, n).flatMap((p) => (p.child.pid === undefined ? [] : [p.child.pid]));
    const load = loadavg().map((l) => l.toFixed(2)).join('/');
    loads.push(load);
    results.push({ dataplanes: n, rounds, load, rssMiB: rssMiB(pids) });
  }
  writeFileSync(join(rawDir, 'results.json'), `${JSON.stringify({ startedAt, tollgateRoot, results }, null, 2)}\n`);
  writeFileSync(join(rawDir, 'operator.log'), operator.logs.join(''));
  const markdown = report(results, startedAt, loads);
  const file = FULL ? join(repoRoot, 'bench', 'results', `apply-to-served-${startedAt.slice(0, 10)}.md`) : join(rawDir, 'report.md');
  writeFileSync(file, markdown);
  log(`report: ${file}`);
}

main()
  .catch((err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    clearTimeout(hardStop);
  });
