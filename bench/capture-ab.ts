/**
 * What DataPolicy capture costs in throughput (issue 16: `Redacted` at 100 % sampling to a bucket,
 * at most 15 % against capture off), A/B in one run on one build:
 *
 *   node --import tsx bench/capture-ab.ts [rounds=5] [seconds=10]
 *
 * A = `tollgate dev` without a DataPolicy; B = the same manifests plus a DataPolicy in mode
 * Redacted, sampleRate 1, every built-in detector, to a real S3-compatible bucket (SeaweedFS, built
 * by test/s3/build.sh, on the client core). Each round starts both fresh and loads both at once on
 * the gateway core (each under its own wrk, 32 connections, concurrency 64 in all), so they share
 * whatever else the machine does: the ratio of their throughputs is what capture costs, even on a
 * busy machine where numbers from different minutes do not compare. The prompt carries an e-mail
 * address, a card number and a phone number, so redaction has work to do. After each round the
 * bucket is read back: B's records must be there, redacted. Prints each round, the ratio, the
 * gateway CPU time per request, and writes a Markdown summary to bench/results/raw/<run>/.
 * CAPTURE_AB_GOVERNANCE=on measures against the governance-on row instead (auth, rate limits,
 * budget, tracing); CAPTURE_AB_MODE=sequential runs A and B one after the other (64 connections each)
 * instead of at once; CAPTURE_AB_CAPTURE='{ mode: Metadata, sampleRate: 1 }' changes B's capture block (mode Full: the bucket must hold the prompt as sent);
 * CAPTURE_AB_PROFILE=1 adds --cpu-prof to both and prints where their time went (B's capture worker thread writes a profile of its own);
 * CAPTURE_AB_WARMUP=<seconds> loads both that long before the measured window (default BENCH_WARMUP or 14, the
 * warm-up of make bench's throughput rows: the target is a throughput cost, measured once both have settled);
 * CAPTURE_AB_EARLY=<seconds> (default 2; 0: none) also measures a window of the same length that early in each
 * round (both at once only), reported beside it: B's extra code, the capture worker's included, takes longer
 * than A's to be optimised, so the first seconds cost B more (bench/results/capwarm-s12-2026-12-06.md);
 * CAPTURE_AB_NODE_ARGS='--trace-gc' adds node flags to both gateways (their output is in each one's tollgate.log);
 * CAPTURE_AB_GATEWAY_CORES=0,1 runs both gateways on those cores instead of the gateway core alone (the
 * client, emulator and bucket stay on theirs): with one core, B's capture worker thread competes with its
 * request thread; with two it can use the client core's idle time. TOLLGATE_CAPTURE_WORKER=off passes
 * through to both gateways (B then captures on its request thread). CAPTURE_AB_COMPARE=<other build root>
 * compares two builds' capture instead: A is BENCH_TOLLGATE_ROOT and B that build, BOTH with the
 * DataPolicy (each writing under its own prefix), so B/A is the second build's capture throughput
 * against the first's in the same rounds (what a change to the capture path is judged by; two runs
 * of the default A/B, minutes apart, move ±0.03). Build first (`npx tsc -p tsconfig.build.json`); other knobs as bench/run.ts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3 } from '../test/s3/seaweedfs.js';
import { readConfig } from './lib/config.js';
import { summariseProfile } from './lib/cpu-profile.js';
import { benchManifests, type Governance } from './lib/manifests.js';
import { startOtlpSink } from './lib/otlp-sink.js';
import { loadAverage, startService, waitUntil } from './lib/proc.js';
import { wrk } from './lib/scenarios.js';
import { freePort, probeChat, type RunningSystem } from './lib/systems.js';

const [roundsArg, secondsArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 5);
const seconds = Number(secondsArg ?? 10);
const profile = process.env.CAPTURE_AB_PROFILE === '1';
// Load before the measured window, as make bench's throughput rows have; and the first seconds' window.
const warmupSeconds = Number(process.env.CAPTURE_AB_WARMUP ?? process.env.BENCH_WARMUP ?? 14);
const earlySeconds = Number(process.env.CAPTURE_AB_EARLY ?? 2);
const sequential = process.env.CAPTURE_AB_MODE === 'sequential';
// B's capture block (to take the cost apart: mode Metadata, sampleRate 0, ...).
const captureSpec = process.env.CAPTURE_AB_CAPTURE ?? '{ mode: Redacted, sampleRate: 1 }';
const governance: Governance = process.env.CAPTURE_AB_GOVERNANCE === 'on' ? 'on' : 'off';
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cfg = readConfig({ ...process.env, BENCH_QUICK: '1', BENCH_SYSTEMS: 'tollgate' }, repoRoot, new Date());
mkdirSync(cfg.rawDir, { recursive: true });
const gatewayCores = process.env.CAPTURE_AB_GATEWAY_CORES ?? String(cfg.gatewayCore);
// Build against build: both capture, B runs this root.
const compareRoot = process.env.CAPTURE_AB_COMPARE === undefined || process.env.CAPTURE_AB_COMPARE === '' ? undefined : resolve(process.env.CAPTURE_AB_COMPARE);
const rootOf = (label: 'A' | 'B'): string => (label === 'B' && compareRoot !== undefined ? compareRoot : cfg.tollgateRoot);
const captures = (label: 'A' | 'B'): boolean => label === 'B' || compareRoot !== undefined;
for (const root of new Set([rootOf('A'), rootOf('B')])) if (!existsSync(join(root, 'dist/cli/tollgate.js'))) throw new Error(`${root}/dist/cli/tollgate.js is missing: build first`);

// JSON-escaped already: wrk/post.lua puts it into the body as it is.
const PROMPT = 'Summarise the ticket from ann.lee@example.com (card 4111 1111 1111 1111, phone +44 20 7946 0958) in one short sentence.';
const BUCKET = 'captures';

const s3 = await startS3(undefined, { core: cfg.clientCore });
await s3.createBucket(BUCKET);
const portFile = join(cfg.rawDir, 'emulator.port');
const emulator = startService('emulator', join(cfg.cacheDir, 'bin', 'emulator'), ['-addr', '127.0.0.1:0', '-port-file', portFile, '-max-life', '2h'], {
  core: cfg.clientCore,
  nice: cfg.nice,
  logFile: join(cfg.rawDir, 'emulator.log'),
  env: { ...process.env, GOMAXPROCS: '1' },
});
await waitUntil('emulator', async () => existsSync(portFile) && readFileSync(portFile, 'utf8') !== '', 10_000, emulator);
const upstreamPort = Number(readFileSync(portFile, 'utf8'));

function dataPolicy(prefix: string): string {
  return `apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: audit }
spec:
  subjects: { routes: [{ name: emu }] }
  capture: ${captureSpec}
  destinations:
    - name: bucket
      s3: { endpoint: "${s3.endpoint}", bucket: ${BUCKET}, prefix: ${prefix}, credentialsSecretRef: { name: bucket-keys }, batchInterval: 1s, maxBatchRecords: 1000 }
---
apiVersion: v1
kind: Secret
metadata: { name: bucket-keys }
stringData: { accessKeyId: ${s3.accessKeyId}, secretAccessKey: ${s3.secretAccessKey} }
`;
}

/** utime + stime of a process, in clock ticks (USER_HZ = 100). */
function cpuTicks(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** utime + stime per thread of a process, in clock ticks, by thread id. */
function threadTicks(pid: number | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (pid === undefined) return out;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended
    }
  }
  return out;
}

/**
 * CPU µs per request by thread over a window: the request (main) thread, the busiest other thread
 * (in B the capture worker), and all the others (V8's GC helpers, libuv's pool: gzip).
 */
function threadSplit(pid: number | undefined, before: Map<number, number>, after: Map<number, number>, requests: number): { main: number; busiest: number; rest: number } {
  const per = (ticks: number): number => (ticks * 10_000) / requests;
  const deltas = [...after].filter(([tid]) => tid !== pid).map(([tid, t]) => t - (before.get(tid) ?? 0)).sort((a, b) => b - a);
  const main = (after.get(pid ?? -1) ?? 0) - (before.get(pid ?? -1) ?? 0);
  return { main: per(main), busiest: per(deltas[0] ?? 0), rest: per(deltas.slice(1).reduce((s, x) => s + x, 0)) };
}

/** `tollgate dev` on the gateway core, with or without the DataPolicy (its records under `prefix`). */
async function startTollgate(label: 'A' | 'B', round: number, prefix: string): Promise<RunningSystem> {
  const dir = join(cfg.rawDir, `r${round}-${label}`);
  mkdirSync(dir, { recursive: true });
  const files = benchManifests({ upstreamBaseUrl: `http://127.0.0.1:${upstreamPort}/v1`, models: ['emu'], governance });
  if (captures(label)) files['data-policy.yaml'] = dataPolicy(compareRoot === undefined ? prefix : `${prefix}-${label}`);
  // The manifests in a directory of their own: `tollgate dev` reloads on every change in it (its log is next to it).
  const manifests = join(dir, 'manifests');
  mkdirSync(manifests, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(manifests, name), content);
  const port = await freePort();
  const nodeArgs = process.env.CAPTURE_AB_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? [];
  const args = [...nodeArgs, ...(profile ? ['--cpu-prof', '--cpu-prof-dir', dir] : []), resolve(rootOf(label), 'dist/cli/tollgate.js'), 'dev', '-f', manifests, '--port', String(port), '--drain-timeout', '10'];
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  delete env.LOG_LEVEL;
  delete env.KUBECONFIG;
  for (const name of Object.keys(env)) if (name.startsWith('OTEL_')) delete env[name];
  const sink = governance === 'off' ? undefined : await startOtlpSink();
  if (sink !== undefined) args.push('--auth', '--otlp-endpoint', sink.url);
  const svc = startService(`tollgate-${label}`, process.execPath, args, { core: gatewayCores, nice: cfg.nice, cwd: dir, env, logFile: join(dir, 'tollgate.log') });
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  await waitUntil(`tollgate ${label}`, () => probeChat(url, []), cfg.startTimeoutSeconds * 1000, svc);
  return {
    url,
    headers: [],
    pid: svc.pid,
    stop: async () => {
      await svc.stop('SIGTERM', 15_000); // drains: the capture queues are written before it exits
      await sink?.close();
    },
  };
}

/** Records (metadata lines) under a prefix, and whether any content line still holds the prompt's PII. */
async function recordsIn(prefix: string): Promise<{ records: number; leaked: boolean; redacted: boolean }> {
  let records = 0;
  let leaked = false;
  let redacted = false;
  for (const key of await s3.list(BUCKET, `${prefix}/metadata/`)) records += (await s3.get(BUCKET, key)).split('\n').filter((l) => l !== '').length;
  for (const key of (await s3.list(BUCKET, `${prefix}/content/`)).slice(0, 3)) {
    const text = await s3.get(BUCKET, key);
    if (text.includes('ann.lee@example.com') || text.includes('4111 1111 1111 1111') || text.includes('7946 0958')) leaked = true;
    if (text.includes('[EMAIL]') && text.includes('[PAYMENT_CARD]')) redacted = true;
  }
  return { records, leaked, redacted };
}

process.env.BENCH_PROMPT = PROMPT;
const rows: { round: number; a: number; b: number; cpuA: number; cpuB: number; served: number; records: number }[] = [];
/** The early window of each round (CAPTURE_AB_EARLY), when there was one. */
const earlyRows: { a: number; b: number }[] = [];
const lines: string[] = [];
const say = (line: string): void => {
  lines.push(line);
  process.stdout.write(`${line}\n`);
};
say(`capture A/B (${sequential ? 'one after the other' : 'both at once'}): ${compareRoot === undefined ? 'B captures' : `A ${cfg.tollgateRoot} and B ${compareRoot} both capture`} ${captureSpec}; capture worker ${process.env.TOLLGATE_CAPTURE_WORKER ?? 'on'}; gateways on core(s) ${gatewayCores}; governance ${governance}, ${rounds} rounds of ${seconds} s after ${warmupSeconds} s of warm-up${!sequential && earlySeconds > 0 && earlySeconds < warmupSeconds ? ` (and a window ${earlySeconds} s after start)` : ''}, load average ${loadAverage()}`);
try {
  for (let r = 1; r <= rounds; r++) {
    const prefix = `r${r}`;
    // Started in alternating order: neither always gets the warmer start.
    const order = r % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const);
    const started: Record<string, RunningSystem> = {};
    const measured: Record<string, { rps: number; requests: number; errors: number; non2xx: number; cpu: number; threads: { main: number; busiest: number; rest: number } }> = {};
    let earlyServedB = 0;
    const measure = async (label: 'A' | 'B', connections: number): Promise<void> => {
      const sys = started[label]!;
      const cpu0 = cpuTicks(sys.pid);
      const threads0 = threadTicks(sys.pid);
      const res = await wrk(cfg, sys, connections, seconds);
      const threads = threadSplit(sys.pid, threads0, threadTicks(sys.pid), res.requests);
      measured[label] = { ...res, cpu: ((cpuTicks(sys.pid) - cpu0) * 10_000) / res.requests, threads };
    };
    const loadBoth = (secs: number): Promise<unknown> => Promise.all([wrk(cfg, started.A!, 32, secs), wrk(cfg, started.B!, 32, secs)]);
    if (sequential) {
      // One after the other, each alone on the gateway core with all 64 connections.
      for (const label of order) {
        started[label] = await startTollgate(label, r, prefix);
        await wrk(cfg, started[label]!, 64, warmupSeconds);
        await measure(label, 64);
        await started[label]!.stop();
      }
    } else {
      for (const label of order) started[label] = await startTollgate(label, r, prefix);
      let loaded = 0;
      if (earlySeconds > 0 && earlySeconds < warmupSeconds) {
        await loadBoth(earlySeconds);
        await Promise.all([measure('A', 32), measure('B', 32)]);
        earlyRows.push({ a: measured.A!.rps, b: measured.B!.rps });
        earlyServedB = measured.B!.requests;
        say(`  first seconds (${earlySeconds}–${earlySeconds + seconds} s after start): A ${measured.A!.rps.toFixed(0)} req/s, B ${measured.B!.rps.toFixed(0)} req/s, B/A ${(measured.B!.rps / measured.A!.rps).toFixed(3)}`);
        loaded = earlySeconds + seconds;
      }
      if (warmupSeconds > loaded) await loadBoth(warmupSeconds - loaded);
      await Promise.all([measure('A', 32), measure('B', 32)]);
      await Promise.all([started.A!.stop(), started.B!.stop()]);
    }
    const ra = measured.A!;
    const rb = measured.B!;
    const cpuA = ra.cpu;
    const cpuB = rb.cpu;
    if (profile) {
      for (const label of ['A', 'B']) {
        const dir = join(cfg.rawDir, `r${r}-${label}`);
        const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
        if (file === undefined) continue;
        const summary = summariseProfile(join(dir, file), 4_000, 25);
        say(`  ${label} profile ${join(dir, file)}:`);
        for (const e of summary.topSelf) say(`    self ${e.selfPct.toFixed(2).padStart(6)}%  ${e.name}  ${e.where}`);
        for (const e of summary.tollgateTotal) say(`    ${(e.totalPct ?? 0).toFixed(2).padStart(6)}%  ${e.name}  ${e.where}`);
      }
    }
    const stored = await recordsIn(compareRoot === undefined ? prefix : `${prefix}-B`);
    if (compareRoot !== undefined && (await recordsIn(`${prefix}-A`)).records < ra.requests) throw new Error(`round ${r}: A's records are missing from the bucket`);
    const contentExpected = !/Metadata|sampleRate: 0[ ,}]/.test(captureSpec);
    // Mode Full keeps the prompt as it was, by design: only the other modes must hold no PII.
    const full = /mode: Full/.test(captureSpec);
    if (full ? !stored.leaked : stored.leaked) throw new Error(`round ${r}: ${full ? 'mode Full stored no prompt' : 'unredacted PII in the bucket'}`);
    if (contentExpected && !full && !stored.redacted) throw new Error(`round ${r}: no redacted content in the bucket`);
    if (!/sampleRate: 0[ ,}]/.test(captureSpec) && stored.records < rb.requests + earlyServedB) throw new Error(`round ${r}: ${stored.records} records in the bucket for ${rb.requests} measured requests`);
    rows.push({ round: r, a: ra.rps, b: rb.rps, cpuA, cpuB, served: rb.requests, records: stored.records });
    const split = (t: { main: number; busiest: number; rest: number }): string => `main ${t.main.toFixed(0)}, busiest other thread ${t.busiest.toFixed(0)}, the rest ${t.rest.toFixed(0)}`;
    say(`  CPU µs/request by thread: A ${split(ra.threads)}; B ${split(rb.threads)}`);
    say(
      `round ${r}: A (${compareRoot === undefined ? 'capture off' : 'capturing'}) ${ra.rps.toFixed(0)} req/s, ${cpuA.toFixed(0)} µs CPU/request; B (${compareRoot === undefined ? `capturing ${captureSpec} to the bucket` : 'the other build, capturing'}) ${rb.rps.toFixed(0)} req/s, ${cpuB.toFixed(0)} µs CPU/request; B/A ${(rb.rps / ra.rps).toFixed(3)}; errors ${ra.errors + rb.errors}, non-2xx ${ra.non2xx + rb.non2xx}; ${stored.records} records in the bucket (B served ${rb.requests} measured requests, plus warm-up)`,
    );
  }
} finally {
  await emulator.stop();
  await s3.stop();
}
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / (xs.length || 1);
const ratios = rows.map((row) => row.b / row.a);
const ratio = mean(rows.map((row) => row.b)) / mean(rows.map((row) => row.a));
say(`A mean ${mean(rows.map((row) => row.a)).toFixed(0)} req/s, B mean ${mean(rows.map((row) => row.b)).toFixed(0)} req/s`);
say(`gateway CPU per request: A ${mean(rows.map((row) => row.cpuA)).toFixed(0)} µs, B ${mean(rows.map((row) => row.cpuB)).toFixed(0)} µs (+${((mean(rows.map((row) => row.cpuB)) / mean(rows.map((row) => row.cpuA)) - 1) * 100).toFixed(1)} %)`);
say(`throughput B/A: ${ratio.toFixed(3)} of means ${compareRoot === undefined ? `(capture costs ${((1 - ratio) * 100).toFixed(1)} %)` : "(B's build against A's, both capturing)"}; per round ${ratios.map((x) => x.toFixed(3)).join(', ')}${compareRoot === undefined ? '; target: at most 15 %' : ''}`);
if (earlyRows.length > 0) {
  const early = mean(earlyRows.map((row) => row.b)) / mean(earlyRows.map((row) => row.a));
  say(`first seconds (${earlySeconds}–${earlySeconds + seconds} s after start, the same rounds): B/A ${early.toFixed(3)} of means; per round ${earlyRows.map((row) => (row.b / row.a).toFixed(3)).join(', ')}`);
}
say(`load average after: ${loadAverage()}`);
const out = join(cfg.rawDir, 'capture-ab.md');
writeFileSync(out, `# Capture A/B (${new Date().toISOString()})\n\n\`\`\`\n${lines.join('\n')}\n\`\`\`\n`);
process.stdout.write(`written to ${out}\n`);
