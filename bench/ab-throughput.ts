/**
 * Alternating A/B throughput of Tollgate builds, governance on, at concurrency 64: the side-by-side
 * comparison a shared 2-core machine allows (single numbers drift with the load; ratios of adjacent
 * runs do not). One emulator; per round each build is started, warmed up, measured with wrk, stopped.
 *   node --import tsx bench/ab-throughput.ts <root A> <root B> [rounds=5] [seconds=10]
 * Roots are clean exports (bench/build-export.sh). AB_PROFILE=1 adds --cpu-prof to every start and
 * prints the profile summary. AB_MODE=concurrent runs both builds at the same time instead (see
 * concurrentRound). AB_WARMUP: seconds of load before each measurement (default 2). AB_NODE_FLAGS_A / AB_NODE_FLAGS_B: extra node flags for one build (e.g. a V8
 * heap setting), space-separated; AB_ENV_A / AB_ENV_B: environment variables for one build's process
 * (e.g. MALLOC_ARENA_MAX=2), NAME=value space-separated; AB_TOLLGATE_COMMAND_A / _B: dev (default) or dataplane for one build. Environment knobs as for bench/run.ts (BENCH_GOVERNANCE, cores, BENCH_NICE).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.js';
import { startEmulator } from './lib/emulator.js';
import { summariseProfile } from './lib/cpu-profile.js';
import { wrk } from './lib/scenarios.js';
import { sideCommand, sideEnv } from './lib/side-env.js';
import { systemsFor } from './lib/systems.js';

const [rootA, rootB, roundsArg, secondsArg] = process.argv.slice(2);
if (rootA === undefined || rootB === undefined) throw new Error('usage: ab-throughput.ts <root A> <root B> [rounds] [seconds]');
const roots: Record<'A' | 'B', string> = { A: rootA, B: rootB };
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const rounds = Number(roundsArg ?? 5);
const seconds = Number(secondsArg ?? 10);
const profile = process.env.AB_PROFILE === '1';
/** Seconds of load before each measurement (AB_WARMUP, default 2): longer when the machine is so busy that V8 is still compiling after 2 s. */
const warmup = Number(process.env.AB_WARMUP ?? 2);
/** Node flags for one build's processes: the profiler when asked for, and AB_NODE_FLAGS_<label>. */
const nodeFlagsOf = (label: 'A' | 'B', dir: string): string[] => [
  ...(profile ? ['--cpu-prof', '--cpu-prof-dir', dir] : []),
  ...(process.env[`AB_NODE_FLAGS_${label}`] ?? '').split(' ').filter((f) => f !== ''),
];
const base = readConfig({ ...process.env, BENCH_QUICK: '1', BENCH_SYSTEMS: 'tollgate', BENCH_GOVERNANCE: process.env.BENCH_GOVERNANCE ?? 'on', BENCH_TOLLGATE_QUIET: '0' }, repoRoot, new Date());
mkdirSync(base.rawDir, { recursive: true });

const { emulator, port: upstreamPort } = await startEmulator(base);

const results: Record<string, number[]> = { A: [], B: [] };
const cpuPerReq: Record<string, number[]> = { A: [], B: [] };

/** utime + stime of a process, in clock ticks (USER_HZ = 100). */
function cpuTicks(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Per-core busy and total jiffies from /proc/stat. */
function coreTicks(): { busy: number; total: number }[] {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d/.test(l))
    .map((l) => {
      const v = l.split(/\s+/).slice(1).map(Number);
      const total = v.reduce((a, b) => a + b, 0);
      const idle = (v[3] ?? 0) + (v[4] ?? 0);
      return { busy: total - idle, total };
    });
}
/**
 * Both builds at once on the gateway core, each under its own wrk (half the connections each): they
 * share the core and whatever else runs on the machine alike, so the ratio of their throughputs is
 * the inverse ratio of their CPU cost per request even when the machine is too busy for
 * back-to-back runs to compare.
 */
async function concurrentRound(r: number): Promise<void> {
  const started = await Promise.all(
    (r % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const)).map(async (label) => {
      const cfg = { ...base, tollgateRoot: resolve(roots[label]), rawDir: join(base.rawDir, `r${r}-${label}`) };
      mkdirSync(cfg.rawDir, { recursive: true });
      const def = systemsFor(cfg)[1];
      if (def === undefined) throw new Error('no tollgate row');
      const spawned = Date.now();
      const sys = await def.start({ cfg, upstreamPort, models: ['emu'], tag: `r${r}-${label}`, nodeFlags: nodeFlagsOf(label, cfg.rawDir), env: sideEnv(label), ...sideCommand(label) });
      return { label, cfg, sys, spawned };
    }),
  );
  await Promise.all(started.map(({ cfg, sys }) => wrk(cfg, sys, 32, warmup)));
  const cpu0 = started.map(({ sys }) => cpuTicks(sys.pid));
  const loadStarts = Date.now();
  const res = await Promise.all(started.map(({ cfg, sys }) => wrk(cfg, sys, 32, seconds)));
  const loadEnds = Date.now();
  const cpu = started.map(({ sys }, i) => ((cpuTicks(sys.pid) - (cpu0[i] ?? 0)) * 10 * 1000) / (res[i]?.requests ?? 1));
  await Promise.all(started.map(({ sys }) => sys.stop()));
  if (profile) {
    // The measured window, and the CPU time per request it really took (a profile's sample times
    // are wall-clock time, inflated when the machine is busy; their proportions still hold).
    for (const [i, { cfg, spawned }] of started.entries()) {
      writeFileSync(join(cfg.rawDir, 'window.json'), JSON.stringify({ fromMs: loadStarts - spawned, toMs: loadEnds - spawned, requests: res[i]?.requests, cpuUsPerRequest: cpu[i] }));
    }
  }
  for (const [i, { label }] of started.entries()) {
    const rps = res[i]?.rps ?? 0;
    results[label]?.push(rps);
    cpuPerReq[label]?.push(cpu[i] ?? 0);
    process.stdout.write(`round ${r} ${label} ${rps.toFixed(0)} req/s concurrently, gateway CPU ${(cpu[i] ?? 0).toFixed(0)} µs/request (errors ${res[i]?.errors}, non-2xx ${res[i]?.non2xx})\n`);
  }
}

try {
  if (process.env.AB_MODE === 'concurrent') for (let r = 1; r <= rounds; r++) await concurrentRound(r);
  else for (let r = 1; r <= rounds; r++) {
    const order: ['A' | 'B', string][] = r % 2 === 1 ? [['A', rootA], ['B', rootB]] : [['B', rootB], ['A', rootA]];
    for (const [label, root] of order) {
      const cfg = { ...base, tollgateRoot: resolve(root) };
      const def = systemsFor(cfg)[1];
      if (def === undefined) throw new Error('no tollgate row');
      const dir = join(base.rawDir, `r${r}-${label}`);
      mkdirSync(dir, { recursive: true });
      const spawned = Date.now();
      const sys = await def.start({ cfg, upstreamPort, models: ['emu'], tag: `r${r}-${label}`, nodeFlags: nodeFlagsOf(label, dir), env: sideEnv(label), ...sideCommand(label) });
      await wrk(cfg, sys, 64, warmup);
      const loadStarts = Date.now();
      const cpu0 = cpuTicks(sys.pid);
      const others0 = [cpuTicks(process.pid), cpuTicks(emulator.pid)];
      const cores0 = coreTicks();
      const res = await wrk(cfg, sys, 64, seconds);
      const loadEnds = Date.now();
      const cpuMs = ((cpuTicks(sys.pid) - cpu0) * 1000) / 100;
      const others = [cpuTicks(process.pid), cpuTicks(emulator.pid)].map((t, i) => ((t - (others0[i] ?? 0)) * 10 * 1000) / res.requests);
      process.stdout.write(`  harness (OTLP receiver) ${others[0]?.toFixed(0)} µs/request, emulator ${others[1]?.toFixed(0)} µs/request\n`);
      const cores = coreTicks().map((c, i) => {
        const before = cores0[i] ?? c;
        return (100 * (c.busy - before.busy)) / Math.max(1, c.total - before.total);
      });
      cpuPerReq[label]?.push((cpuMs * 1000) / res.requests);
      process.stdout.write(`  gateway CPU ${((cpuMs * 1000) / res.requests).toFixed(0)} µs/request; cores busy ${cores.map((c) => `${c.toFixed(0)}%`).join(' ')}\n`);
      await sys.stop();
      process.stdout.write(`  ${def.notes.find((n) => n.startsWith('OTLP receiver')) ?? ''} (${res.requests} measured requests)\n`);
      results[label]?.push(res.rps);
      process.stdout.write(`round ${r} ${label} ${res.rps.toFixed(0)} req/s (errors ${res.errors}, non-2xx ${res.non2xx})\n`);
      if (profile) {
        await new Promise((done) => setTimeout(done, 500));
        const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
        if (file !== undefined) {
          // The window of the measured load only: start-up, warm-up and the shutdown's drain grace left out.
          writeFileSync(join(dir, 'window.json'), JSON.stringify({ fromMs: loadStarts - spawned, toMs: loadEnds - spawned, requests: res.requests }));
          const s = summariseProfile(join(dir, file), Math.max(0, loadStarts - spawned + 3000), 25);
          process.stdout.write(`  profile ${join(dir, file)} idle ${s.idlePct.toFixed(1)}%\n`);
          for (const e of s.topSelf) process.stdout.write(`    ${e.selfPct.toFixed(2).padStart(6)}%  ${e.name}  ${e.where}\n`);
          process.stdout.write('  tollgate inclusive:\n');
          for (const e of s.tollgateTotal) process.stdout.write(`    ${(e.totalPct ?? 0).toFixed(2).padStart(6)}%  ${e.name}  ${e.where}\n`);
        }
      }
    }
  }
} finally {
  await emulator.stop();
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
const a = results.A ?? [];
const b = results.B ?? [];
const pairs = a.map((x, i) => (b[i] ?? 0) / x);
process.stdout.write(`A ${rootA}: ${a.map((x) => x.toFixed(0)).join(', ')} mean ${mean(a).toFixed(0)}\n`);
process.stdout.write(`B ${rootB}: ${b.map((x) => x.toFixed(0)).join(', ')} mean ${mean(b).toFixed(0)}\n`);
process.stdout.write(`gateway CPU µs/request: A ${mean(cpuPerReq.A ?? []).toFixed(0)}, B ${mean(cpuPerReq.B ?? []).toFixed(0)}\n`);
process.stdout.write(`B/A of means ${(mean(b) / mean(a)).toFixed(3)}; per round ${pairs.map((p) => p.toFixed(3)).join(', ')}; mean of per-round ratios ${mean(pairs).toFixed(3)}\n`);
