/**
 * What DataPolicy capture costs per request, by thread, in a real gateway at a fixed request rate
 * (issue 16): a measure that does not depend on how busy the machine is, to find where capture's
 * extra CPU on the request thread goes (capture-ab.ts measures the throughput, at saturation, and
 * only on a quiet machine).
 *
 *   node --import tsx bench/capture-thread-cost.ts <root>[,<root>...] [requests=8000] [warmup=4000]
 *
 * Per round, and for every <root> (a clean export, bench/build-export.sh) and capture variant
 * (CAPTURE_THREAD_VARIANTS, default "off,Metadata,Redacted"; "Redacted-inline" is Redacted with
 * TOLLGATE_CAPTURE_WORKER=off, the records shaped on the request thread), a fresh `tollgate dev` of the bench
 * manifests (governance off, default log level), B's with a DataPolicy on the route (the variant's
 * mode at sampleRate 1, every built-in detector, to an S3 destination with capture-ab's batching)
 * is loaded at a fixed rate (CAPTURE_THREAD_RATE req/s, default 800, from CAPTURE_THREAD_CONNECTIONS
 * = 16 keep-alive connections, each on its own schedule: not saturation) with capture-ab's request
 * (a prompt with an e-mail address, a card and a phone number). After <warmup> requests and a
 * settle, the window is the next <requests>; per request it reports the CPU of the request (main)
 * thread, of the busiest other thread (the capture worker, where there is one) and of all the
 * others, from /proc/<pid>/task/<tid>/schedstat (nanoseconds, not 10 ms ticks), each read after a
 * settle (CAPTURE_THREAD_SETTLE_MS, default 1500: the destination's 1 s batches inside the window),
 * and the bytes the request thread's heap allocated (bench/lib/alloc-probe.mjs). Rounds
 * (CAPTURE_THREAD_ROUNDS, default 3) visit the cases in rotated order; medians at the end, and each
 * variant's difference to "off" of the same root.
 *
 * The gateway runs under `nice -n 10 taskset -c CAPTURE_THREAD_GATEWAY_CORES` (default 1: the capture
 * worker shares the request thread's core, as in capture-ab); the emulator and this driver should run
 * on the other core (`nice -n 10 taskset -c 0 node --import tsx bench/capture-thread-cost.ts ...`).
 * CAPTURE_THREAD_DESTINATION=s3 writes to a real SeaweedFS bucket (test/s3/build.sh) instead of the
 * default loopback sink (a child process that answers every PUT 200; its CPU is not the gateway's).
 * CAPTURE_THREAD_PROFILE=1 also writes a CPU profile of the request thread over each window and
 * prints, per variant, the functions whose self time per request grew most against "off" of the
 * same root (the profiler's own cost is in those windows: their CPU numbers are not comparable with
 * an unprofiled run's). CAPTURE_THREAD_SITES=<n> samples the request thread's allocations over each window
 * (V8's sampling heap profiler, as bench/alloc-per-request.ts; CAPTURE_THREAD_SITE_DEPTH frames per site)
 * and prints the n sites that grew most against "off". CAPTURE_THREAD_EACH=1 prints every thread's CPU per request
 * (by thread id minus the pid: 0 is the request thread). TOLLGATE_CAPTURE_WORKER passes through to the gateways.
 * CAPTURE_THREAD_NODE_ARGS adds node flags to the gateways (e.g. --trace-gc; output in each one's tollgate.log).
 *
 * CAPTURE_THREAD_WINDOWS=5,10,25,50,70 measures the first requests after start instead, in windows of
 * thousands of requests answered (0–5,000, 5,000–10,000, ...): no warm-up, the load starts as soon as
 * the gateway answers and runs until the last boundary; CPU per request is reported per thread for each
 * window. Windows count requests, not seconds, because what changes early (V8 tiering up on call
 * counts, heaps growing on bytes allocated) follows the work done: capture-ab's 2 s warm-up at its
 * ~2,500 req/s per gateway measures requests ~5,000–25,000, its 20 s warm-up ~50,000–70,000. "worker"
 * is the non-request thread with the most CPU over the whole run (the capture worker when there is one).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startS3 } from '../test/s3/seaweedfs.js';
import { readConfig } from './lib/config.js';
import { postChat } from './lib/post-chat.js';
import { startEmulator } from './lib/emulator.js';
import { startHttpSink } from './lib/http-sink.js';
import { benchManifests } from './lib/manifests.js';
import { loadAverage, startService, waitUntil } from './lib/proc.js';
import { freePort, probeChat } from './lib/systems.js';

const [rootsArg, requestsArg, warmupArg] = process.argv.slice(2);
if (rootsArg === undefined) throw new Error('usage: capture-thread-cost.ts <root>[,<root>...] [requests=8000] [warmup=4000]');
const roots = rootsArg.split(',').map((r) => resolve(r));
const requests = Number(requestsArg ?? 8_000);
const warmup = Number(warmupArg ?? 4_000);
const rate = Number(process.env.CAPTURE_THREAD_RATE ?? 800);
const connections = Number(process.env.CAPTURE_THREAD_CONNECTIONS ?? 16);
const rounds = Number(process.env.CAPTURE_THREAD_ROUNDS ?? 3);
const settleMs = Number(process.env.CAPTURE_THREAD_SETTLE_MS ?? 1_500);
const gatewayCores = process.env.CAPTURE_THREAD_GATEWAY_CORES ?? '1';
const profile = process.env.CAPTURE_THREAD_PROFILE === '1';
const sites = Number(process.env.CAPTURE_THREAD_SITES ?? 0);
const windows = process.env.CAPTURE_THREAD_WINDOWS === undefined || process.env.CAPTURE_THREAD_WINDOWS === '' ? undefined : process.env.CAPTURE_THREAD_WINDOWS.split(',').map(Number);
const nodeArgs = process.env.CAPTURE_THREAD_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? [];
const variants = (process.env.CAPTURE_THREAD_VARIANTS ?? 'off,Metadata,Redacted').split(',').map((v) => v.trim());
// `<mode>-inline`: that gateway shapes records on its request thread (TOLLGATE_CAPTURE_WORKER=off), to compare the two in one run.
for (const v of variants) if (!['off', 'Metadata', 'Redacted', 'Full'].includes(v.replace(/-inline$/, ''))) throw new Error(`unknown variant ${v}`);
for (const root of roots) if (!existsSync(join(root, 'dist/cli/tollgate.js'))) throw new Error(`${root}/dist/cli/tollgate.js is missing: bench/build-export.sh`);

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const probe = join(repoRoot, 'bench', 'lib', 'alloc-probe.mjs');
// The emulator (and the driver, as started) on core 0, away from the gateway's.
const cfg = readConfig({ ...process.env, BENCH_QUICK: '1', BENCH_SYSTEMS: 'tollgate', BENCH_CLIENT_CORE: process.env.BENCH_CLIENT_CORE ?? '0', BENCH_NICE: process.env.BENCH_NICE ?? '10' }, repoRoot, new Date());
mkdirSync(cfg.rawDir, { recursive: true });

// capture-ab's request: the prompt carries an e-mail address, a card number and a phone number.
const PROMPT = 'Summarise the ticket from ann.lee@example.com (card 4111 1111 1111 1111, phone +44 20 7946 0958) in one short sentence.';
const body = JSON.stringify({ model: 'emu', messages: [{ role: 'user', content: PROMPT }], max_tokens: 32 });
const BUCKET = 'captures';

interface Destination {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

async function startDestination(): Promise<Destination> {
  if (process.env.CAPTURE_THREAD_DESTINATION === 's3') {
    const s3 = await startS3(undefined, { core: cfg.clientCore });
    await s3.createBucket(BUCKET);
    return { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, stop: () => s3.stop() };
  }
  const sink = await startHttpSink();
  // Placeholders: the sink checks no signature.
  return { endpoint: `http://127.0.0.1:${sink.port}`, accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'bench-placeholder', stop: () => Promise.resolve(sink.stop()) };
}

function dataPolicy(mode: string, dest: Destination, prefix: string): string {
  return `apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: audit }
spec:
  subjects: { routes: [{ name: emu }] }
  capture: { mode: ${mode}, sampleRate: 1 }
  destinations:
    - name: bucket
      s3: { endpoint: "${dest.endpoint}", bucket: ${BUCKET}, prefix: ${prefix}, credentialsSecretRef: { name: bucket-keys }, batchInterval: 1s, maxBatchRecords: 1000 }
---
apiVersion: v1
kind: Secret
metadata: { name: bucket-keys }
stringData: { accessKeyId: ${dest.accessKeyId}, secretAccessKey: ${dest.secretAccessKey} }
`;
}

/** CPU nanoseconds per thread of a process (schedstat's first field), by thread id. */
function threadNs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** µs per request: the main thread, the busiest other thread, all the other threads. */
function split(pid: number, before: Map<number, number>, after: Map<number, number>): { main: number; busiest: number; rest: number } {
  const per = (ns: number): number => ns / 1000 / requests;
  const deltas = [...after].filter(([tid]) => tid !== pid).map(([tid, t]) => t - (before.get(tid) ?? 0)).sort((a, b) => b - a);
  return { main: per(after.get(pid)! - before.get(pid)!), busiest: per(deltas[0] ?? 0), rest: per(deltas.slice(1).reduce((s, x) => s + x, 0)) };
}

/** Sends `count` requests at `rate` req/s in all, each connection on its own fixed schedule (late: at once); throws on a non-200. */
async function drive(url: string, agent: Agent, count: number, answered: () => void = () => undefined): Promise<void> {
  const interval = (1000 * connections) / rate;
  const start = performance.now();
  let sent = 0;
  const one = (): Promise<void> => postChat(url, agent, body);
  const connection = async (c: number): Promise<void> => {
    for (let k = 0; sent < count; k++) {
      const due = start + (c / connections) * interval + k * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      if (sent >= count) return;
      sent++;
      await one();
      answered();
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, c) => connection(c)));
}

async function waitFor(file: string): Promise<void> {
  for (let i = 0; i < 600 && !existsSync(file); i++) await sleep(50);
  if (!existsSync(file)) throw new Error(`${file} never appeared`);
}

interface Measured {
  main: number;
  busiest: number;
  rest: number;
  /** Bytes the request thread's heap allocated per request. */
  bytes: number;
  /** The request thread's young-generation collections per 10,000 requests. */
  scavenges: number;
  profile?: string;
  /** Sampled allocation sites of the window (CAPTURE_THREAD_SITES), bytes per request. */
  sites?: Map<string, number>;
  /** CAPTURE_THREAD_WINDOWS: the cost per window after start. */
  windows?: WindowCost[];
}

async function measure(root: string, variant: string, tag: string, upstreamPort: number, dest: Destination): Promise<Measured> {
  const dir = join(cfg.rawDir, `thread-${tag}`);
  const manifests = join(dir, 'manifests');
  mkdirSync(manifests, { recursive: true });
  const files = benchManifests({ upstreamBaseUrl: `http://127.0.0.1:${upstreamPort}/v1`, models: ['emu'], governance: 'off' });
  if (variant !== 'off') files['data-policy.yaml'] = dataPolicy(variant.replace(/-inline$/, ''), dest, tag);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(manifests, name), content);
  const port = await freePort();
  const out = join(dir, 'alloc.json');
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', ALLOC_PROBE_OUT: out, ALLOC_PROBE_SITES: sites > 0 ? '1' : '0', ALLOC_PROBE_DEPTH: process.env.CAPTURE_THREAD_SITE_DEPTH ?? '1', ALLOC_PROBE_CPU: profile ? '1' : '0' };
  delete env.LOG_LEVEL;
  delete env.KUBECONFIG;
  for (const name of Object.keys(env)) if (name.startsWith('OTEL_')) delete env[name];
  if (variant.endsWith('-inline')) env.TOLLGATE_CAPTURE_WORKER = 'off';
  const args = [...nodeArgs, `--import=${probe}`, resolve(root, 'dist/cli/tollgate.js'), 'dev', '-f', manifests, '--port', String(port), '--drain-timeout', '5'];
  const spawned = performance.now();
  const svc = startService(`tollgate-${tag}`, process.execPath, args, { core: gatewayCores, nice: 10, cwd: dir, env, logFile: join(dir, 'tollgate.log') });
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  try {
    await waitUntil(`tollgate ${tag}`, () => probeChat(url, []), cfg.startTimeoutSeconds * 1000, svc);
    if (windows !== undefined) {
      const began = performance.now();
      const costs = await windowed(svc.pid, url, agent);
      // Where the load began on the gateway's clock (what --trace-gc's "ms" count from, about), to place its lines in the windows.
      say(`  ${tag}: load began ${((began - spawned) / 1000).toFixed(2)} s after the gateway was started; windows end at ${costs.map((w) => (w.seconds + (began - spawned) / 1000).toFixed(2)).join(', ')} s`);
      return { main: 0, busiest: 0, rest: 0, bytes: 0, scavenges: 0, windows: costs };
    }
    await drive(url, agent, warmup);
    await sleep(settleMs);
    process.kill(svc.pid, 'SIGUSR2');
    await waitFor(`${out}.started`);
    const before = threadNs(svc.pid);
    await drive(url, agent, requests);
    await sleep(settleMs);
    const after = threadNs(svc.pid);
    // Every thread's share in order of creation (main, V8's platform workers, libuv's, then a capture worker's).
    if (process.env.CAPTURE_THREAD_EACH === '1') say(`  ${tag} threads: ${[...after].map(([tid, ns]) => `${tid - svc.pid}:${((ns - (before.get(tid) ?? 0)) / 1000 / requests).toFixed(1)}`).join(' ')}`);
    process.kill(svc.pid, 'SIGUSR2');
    await waitFor(out);
    const alloc = JSON.parse(readFileSync(out, 'utf8')) as { allocatedBySpace: Record<string, number>; gcs: Record<string, number>; sites?: [string, number][] };
    const bytes = Object.values(alloc.allocatedBySpace).reduce((a, b) => a + b, 0) / requests;
    const scavenges = (((alloc.gcs['Scavenge'] ?? 0) + (alloc.gcs['MinorMarkCompact'] ?? 0)) * 10_000) / requests;
    const siteMap = alloc.sites === undefined ? {} : { sites: new Map(alloc.sites.map(([site, b]) => [site, b / requests])) };
    return { ...split(svc.pid, before, after), bytes, scavenges, ...siteMap, ...(profile ? { profile: `${out}.cpuprofile` } : {}) };
  } finally {
    agent.destroy();
    await svc.stop('SIGTERM', 15_000);
  }
}

/** Per window of CAPTURE_THREAD_WINDOWS: its seconds after the load began, CPU µs per request of the request thread, the worker (see above), the rest. */
interface WindowCost {
  seconds: number;
  main: number;
  worker: number;
  rest: number;
}

/** Loads the gateway from now until the last window's end at the fixed rate, reading every thread's CPU at each boundary. */
async function windowed(pid: number, url: string, agent: Agent): Promise<WindowCost[]> {
  const bounds = windows!.map((k) => k * 1000);
  let answered = 0;
  const start = performance.now();
  const snaps: { at: number; ns: Map<number, number> }[] = [{ at: start, ns: threadNs(pid) }];
  await drive(url, agent, bounds[bounds.length - 1]!, () => {
    answered++;
    if (answered === bounds[snaps.length - 1]) snaps.push({ at: performance.now(), ns: threadNs(pid) });
  });
  const first = snaps[0]!.ns;
  const last = snaps[snaps.length - 1]!.ns;
  const grew = (tid: number): number => last.get(tid)! - (first.get(tid) ?? 0);
  const others = [...last.keys()].filter((tid) => tid !== pid);
  const worker = [...others].sort((a, b) => grew(b) - grew(a))[0];
  return snaps.slice(1).map((snap, i) => {
    const before = snaps[i]!;
    const n = bounds[i]! - (i === 0 ? 0 : bounds[i - 1]!);
    const d = (tid: number): number => (snap.ns.get(tid) ?? 0) - (before.ns.get(tid) ?? 0);
    const restNs = others.filter((tid) => tid !== worker).reduce((s, tid) => s + d(tid), 0);
    return { seconds: (snap.at - start) / 1000, main: d(pid) / 1000 / n, worker: worker === undefined ? 0 : d(worker) / 1000 / n, rest: restNs / 1000 / n };
  });
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self time per function (name file:line), µs per request, from a .cpuprofile of the window. */
function selfPerRequest(file: string): Map<string, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const n = byId.get(samples[i]!);
    if (n === undefined) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    const where = url === '' ? '' : ` ${url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    out.set(key, (out.get(key) ?? 0) + Math.max(0, deltas[i + 1] ?? 0) / requests);
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const lines: string[] = [];
const say = (line: string): void => {
  lines.push(line);
  process.stdout.write(`${line}\n`);
};
const cases = roots.flatMap((root, r) => variants.map((variant) => ({ root, name: `${roots.length > 1 ? `root${r + 1}:` : ''}${variant}`, variant, rootIndex: r })));
const results = new Map<string, Measured[]>(cases.map((c) => [c.name, []]));
say(`capture thread cost: ${requests} requests after ${warmup} at ${rate} req/s from ${connections} connections; gateways on core(s) ${gatewayCores}; destination ${process.env.CAPTURE_THREAD_DESTINATION === 's3' ? 'SeaweedFS' : 'loopback sink'}; capture worker ${process.env.TOLLGATE_CAPTURE_WORKER ?? 'on'}; load average ${loadAverage()}`);
roots.forEach((root, r) => say(`  root${r + 1}: ${root}${existsSync(join(root, '.bench-commit')) ? ` (${readFileSync(join(root, '.bench-commit'), 'utf8').trim()})` : ''}`));
const { emulator, port: upstreamPort } = await startEmulator(cfg);
const dest = await startDestination();
try {
  for (let round = 1; round <= rounds; round++) {
    const shift = (round - 1) % cases.length;
    for (const c of [...cases.slice(shift), ...cases.slice(0, shift)]) {
      const m = await measure(c.root, c.variant, `${c.name.replace(':', '-')}-${round}`, upstreamPort, dest);
      results.get(c.name)!.push(m);
      if (m.windows !== undefined) {
        say(`round ${round} ${c.name.padEnd(16)} ${m.windows.map((w, i) => `${windowName(i)}: ${w.main.toFixed(0)}/${w.worker.toFixed(0)}/${w.rest.toFixed(0)} (to ${w.seconds.toFixed(1)} s)`).join(', ')} (main/worker/rest µs per request; load ${loadAverage()})`);
        continue;
      }
      say(`round ${round} ${c.name.padEnd(16)} main ${m.main.toFixed(1).padStart(6)} µs, busiest other ${m.busiest.toFixed(1).padStart(5)}, rest ${m.rest.toFixed(1).padStart(5)}, request-thread heap ${(m.bytes / 1000).toFixed(2)} KB, ${m.scavenges.toFixed(1)} scavenges per 10k (load ${loadAverage()})`);
    }
  }
} finally {
  await emulator.stop();
  await dest.stop();
}

function windowName(i: number): string {
  return `${i === 0 ? 0 : windows![i - 1]}-${windows![i]}k`;
}

if (windows !== undefined) {
  say('medians per window of requests after start (µs CPU per request: main / worker / rest / all threads), and all threads against "off" of the same root:');
  for (const c of cases) {
    const ms = results.get(c.name)!;
    const off = results.get(cases.find((o) => o.rootIndex === c.rootIndex && o.variant === 'off')?.name ?? '');
    const cells = windows.map((_, i) => {
      const ws = ms.map((m) => m.windows![i]!);
      const all = median(ws.map((w) => w.main + w.worker + w.rest));
      const offAll = off === undefined || c.variant === 'off' ? undefined : median(off.map((m) => m.windows![i]!).map((w) => w.main + w.worker + w.rest));
      return `${windowName(i)} ${median(ws.map((w) => w.main)).toFixed(1)} / ${median(ws.map((w) => w.worker)).toFixed(1)} / ${median(ws.map((w) => w.rest)).toFixed(1)} / ${all.toFixed(1)}${offAll === undefined ? '' : ` (${all - offAll >= 0 ? '+' : ''}${(all - offAll).toFixed(1)})`}`;
    });
    say(`  ${c.name.padEnd(16)} ${cells.join('; ')}`);
  }
}

say('medians per request (µs CPU; KB allocated on the request thread), and against "off" of the same root:');
for (const c of cases) {
  if (windows !== undefined) break;
  const ms = results.get(c.name)!;
  const all = (m: Measured): number => m.main + m.busiest + m.rest;
  const med = { main: median(ms.map((m) => m.main)), busiest: median(ms.map((m) => m.busiest)), rest: median(ms.map((m) => m.rest)), all: median(ms.map(all)), bytes: median(ms.map((m) => m.bytes)) };
  const off = results.get(cases.find((o) => o.rootIndex === c.rootIndex && o.variant === 'off')?.name ?? '');
  const diff =
    off === undefined || c.variant === 'off'
      ? ''
      : `; − off: main ${(med.main - median(off.map((m) => m.main))).toFixed(1)}, busiest ${(med.busiest - median(off.map((m) => m.busiest))).toFixed(1)}, rest ${(med.rest - median(off.map((m) => m.rest))).toFixed(1)}, all threads ${(med.all - median(off.map(all))).toFixed(1)}, ${((med.bytes - median(off.map((m) => m.bytes))) / 1000).toFixed(2)} KB`;
  say(`  ${c.name.padEnd(16)} main ${med.main.toFixed(1)}, busiest other ${med.busiest.toFixed(1)}, rest ${med.rest.toFixed(1)}, all threads ${med.all.toFixed(1)}, ${(med.bytes / 1000).toFixed(2)} KB${diff}`);
}

if (profile) {
  // Per function, the median over rounds of self µs per request; the variant's growth against off.
  const selfMedians = (name: string): Map<string, number> => {
    const maps = results.get(name)!.flatMap((m) => (m.profile !== undefined && existsSync(m.profile) ? [selfPerRequest(m.profile)] : []));
    const keys = new Set(maps.flatMap((m) => [...m.keys()]));
    return new Map([...keys].map((k) => [k, median(maps.map((m) => m.get(k) ?? 0))]));
  };
  for (const c of cases) {
    if (c.variant === 'off') continue;
    const off = cases.find((o) => o.rootIndex === c.rootIndex && o.variant === 'off');
    if (off === undefined) continue;
    const a = selfMedians(off.name);
    const b = selfMedians(c.name);
    const total = (m: Map<string, number>): number => [...m.values()].reduce((s, x) => s + x, 0);
    const growth = [...new Set([...a.keys(), ...b.keys()])].map((k) => [k, (b.get(k) ?? 0) - (a.get(k) ?? 0)] as const).sort((x, y) => y[1] - x[1]);
    say(`profile ${c.name} against ${off.name}: request thread self time ${total(b).toFixed(1)} against ${total(a).toFixed(1)} µs per request; largest growth (µs per request):`);
    for (const [k, d] of growth.slice(0, 30)) say(`  ${d.toFixed(2).padStart(6)}  ${k}`);
  }
}

if (sites > 0) {
  // Per site, the median over rounds of sampled bytes per request; the variant's growth against off.
  const siteMedians = (name: string): Map<string, number> => {
    const maps = results.get(name)!.flatMap((m) => (m.sites === undefined ? [] : [m.sites]));
    const keys = new Set(maps.flatMap((m) => [...m.keys()]));
    return new Map([...keys].map((k) => [k, median(maps.map((m) => m.get(k) ?? 0))]));
  };
  for (const c of cases) {
    const off = cases.find((o) => o.rootIndex === c.rootIndex && o.variant === 'off');
    if (c.variant === 'off' || off === undefined) continue;
    const a = siteMedians(off.name);
    const b = siteMedians(c.name);
    const growth = [...new Set([...a.keys(), ...b.keys()])].map((k) => [k, (b.get(k) ?? 0) - (a.get(k) ?? 0)] as const).sort((x, y) => y[1] - x[1]);
    say(`allocation sites ${c.name} against ${off.name} (sampled bytes per request, the 40 largest sites of each window):`);
    for (const [k, d] of growth.slice(0, sites)) say(`  ${d.toFixed(0).padStart(6)}  ${k}`);
  }
}

const file = join(cfg.rawDir, 'capture-thread-cost.md');
writeFileSync(file, `# Capture thread cost (${new Date().toISOString()})\n\n\`\`\`\n${lines.join('\n')}\n\`\`\`\n`);
process.stdout.write(`written to ${file}\n`);
