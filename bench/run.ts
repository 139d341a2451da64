/**
 * The benchmark harness (issue 8): one upstream emulator, then each system in turn (direct, nginx,
 * Tollgate, Portkey, LiteLLM) through the same scenarios, the control-plane compile benchmark and
 * CPU profiles of Tollgate; writes a Markdown report. `make bench` installs the tools and runs this.
 *
 * Environment knobs: see bench/README.md (BENCH_QUICK=1 for a smoke run).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.js';
import { summariseProfile } from './lib/cpu-profile.js';
import { type LoadSample, machineInfo, sampleLoad } from './lib/machine.js';
import { runTool, type Service, startService, waitUntil } from './lib/proc.js';
import { type CompileSizeResult, type ProfileResult, renderReport, type RunResult, type SystemResult } from './lib/report.js';
import { type C1Row, closedLoop, constantRate, HOLD_MODEL, interleavedC1, memory, type MemoryResult, medianMemory, type RateResult, streaming, streamModel, sweep, wrk } from './lib/scenarios.js';
import { type RunningSystem, type StartContext, type SystemDef, systemsFor } from './lib/systems.js';
import { shareSystems, visitOrder } from './lib/throughput-share.js';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cfg = readConfig(process.env, repoRoot, new Date());
const own = new Set<number>([process.pid]);
const loads: LoadSample[] = [];
let emulator: Service | undefined;
let running: RunningSystem | undefined;
/** Every system at once, during the interleaved c=1 run. */
const runningAll: RunningSystem[] = [];

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function cleanup(): Promise<void> {
  for (const sys of runningAll.splice(0)) await sys.stop().catch(() => undefined);
  await running?.stop().catch(() => undefined);
  running = undefined;
  await emulator?.stop().catch(() => undefined);
  emulator = undefined;
}

// Bounded in time whatever happens: a full run takes ~15 min; give up (cleanly) well after that.
const HARD_LIMIT_MS = Number(process.env.BENCH_HARD_LIMIT_MINUTES ?? (cfg.quick ? 15 : 45)) * 60_000;
const hardStop = setTimeout(() => {
  log(`hard time limit reached; stopping`);
  void cleanup().finally(() => process.exit(3));
}, HARD_LIMIT_MS);
hardStop.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping what the harness started`);
    void cleanup().finally(() => process.exit(130));
  });
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 400);
}

async function startEmulator(): Promise<number> {
  const portFile = join(cfg.rawDir, 'emulator.port');
  emulator = startService('emulator', join(cfg.cacheDir, 'bin', 'emulator'), ['-addr', '127.0.0.1:0', '-port-file', portFile, '-max-life', '2h'], {
    core: cfg.clientCore, nice: cfg.nice,
    logFile: join(cfg.rawDir, 'emulator.log'),
    env: { ...process.env, GOMAXPROCS: '1' },
  });
  own.add(emulator.pid);
  const svc = emulator;
  await waitUntil('emulator', async () => existsSync(portFile) && readFileSync(portFile, 'utf8') !== '', 10_000, svc);
  const port = Number(readFileSync(portFile, 'utf8'));
  await waitUntil('emulator', async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 10_000, svc);
  return port;
}

async function scenario<T>(result: SystemResult, name: string, run: () => Promise<T>): Promise<T | undefined> {
  log(`  ${result.key}: ${name}`);
  try {
    return await run();
  } catch (err) {
    result.scenarioErrors[name] = errorText(err);
    log(`  ${result.key}: ${name} failed: ${result.scenarioErrors[name]}`);
    return undefined;
  }
}

async function measureSystem(def: SystemDef, ctx: Omit<StartContext, 'tag'>, directRate: (rate: number) => Promise<RateResult>): Promise<SystemResult> {
  const result: SystemResult = { key: def.key, id: def.id, label: def.label, notes: def.notes, scenarioErrors: {} };
  try {
    result.version = def.version();
  } catch (err) {
    result.error = errorText(err);
    log(`${def.key}: unavailable: ${result.error}`);
    return result;
  }
  log(`${def.key}: ${result.version}`);
  loads.push(await sampleLoad(`before ${def.key}`, own));
  try {
    running = await def.start({ ...ctx, tag: 'main' });
  } catch (err) {
    result.error = `could not start: ${errorText(err)}`;
    log(`${def.key}: ${result.error}`);
    return result;
  }
  const sys = running;
  if (sys.pid !== undefined) own.add(sys.pid);
  result.throughput = await scenario(result, 'throughput', () => closedLoop(cfg, sys, cfg.throughputConcurrency, cfg.throughputSeconds));
  result.sweep = await scenario(result, 'sweep', () => sweep(cfg, sys, result.throughput?.rps, def.id === 'direct' ? undefined : directRate));
  result.stream = await scenario(result, 'stream', () => streaming(cfg, sys));
  await sys.stop();
  running = undefined;

  if (def.id !== 'direct') {
    // Memory on a fresh process, so that earlier load does not inflate it; several starts, because
    // one start's RSS can land a few MiB either way (glibc arenas, when V8 last collected).
    const runs: MemoryResult[] = [];
    for (let i = 1; i <= cfg.memoryStarts; i++) {
      const run = await scenario(result, 'memory', async () => {
        running = await def.start({ ...ctx, tag: cfg.memoryStarts === 1 ? 'memory' : `memory${i}` });
        const fresh = running;
        if (fresh.pid !== undefined) own.add(fresh.pid);
        try {
          return await memory(cfg, fresh);
        } finally {
          await fresh.stop();
          running = undefined;
        }
      });
      if (run === undefined) break;
      runs.push(run);
    }
    if (runs.length > 0) {
      result.memoryRuns = runs;
      result.memory = medianMemory(runs);
    }
  }
  return result;
}

/**
 * Latency and TTFT at concurrency 1: every system started at once and measured interleaved, so the
 * c=1 rows share the same seconds of the machine (a row measured alone, minutes after another, can
 * land on a busier or quieter moment than the row it is compared with). Rows by system key.
 */
async function interleavedLatency(defs: SystemDef[], ctx: Omit<StartContext, 'tag'>): Promise<{ rows: Map<string, C1Row>; errors: Map<string, string>; info: RunResult['c1'] }> {
  const rows = new Map<string, C1Row>();
  const errors = new Map<string, string>();
  const started: { key: string; sys: RunningSystem }[] = [];
  log('latency at c=1: every system at once, interleaved');
  loads.push(await sampleLoad('latency at c=1', own));
  for (const def of defs) {
    try {
      def.version();
      const sys = await def.start({ ...ctx, tag: 'c1' });
      runningAll.push(sys);
      if (sys.pid !== undefined) own.add(sys.pid);
      started.push({ key: def.key, sys });
    } catch (err) {
      errors.set(def.key, errorText(err));
    }
  }
  let info: RunResult['c1'];
  try {
    const res = await interleavedC1(cfg, started);
    for (const row of res.rows) rows.set(row.name, row);
    info = { rounds: res.rounds, block: res.block, streamBlock: res.streamBlock, streamModel: res.streamModel, seconds: res.seconds };
  } catch (err) {
    info = { error: errorText(err) };
    for (const { key } of started) errors.set(key, errorText(err));
  }
  for (const sys of runningAll.splice(0)) await sys.stop().catch(() => undefined);
  return { rows, errors, info };
}

/**
 * The Node floor and the Tollgate rows started at once and measured in turn at c=64, round after
 * round (bench/lib/throughput-share.ts says why): each row warmed up first, then every round visits
 * each row once for BENCH_SHARE_SECONDS, in an order changed every round (visitOrder), each visit after a 1 s pause (so
 * that what the previous row does after its load is done). Only the visited row has load.
 */
async function interleavedShare(defs: SystemDef[], ctx: Omit<StartContext, 'tag'>): Promise<RunResult['share']> {
  const picked = shareSystems(defs);
  if (picked.length === 0) return undefined;
  log(`throughput share: ${picked.map((d) => d.key).join(', ')} at once, visited in turn`);
  loads.push(await sampleLoad('throughput share', own));
  try {
    const started: { key: string; sys: RunningSystem }[] = [];
    for (const def of picked) {
      def.version();
      const sys = await def.start({ ...ctx, tag: 'share' });
      runningAll.push(sys);
      if (sys.pid !== undefined) own.add(sys.pid);
      started.push({ key: def.key, sys });
    }
    for (const { sys } of started) await wrk(cfg, sys, cfg.throughputConcurrency, cfg.warmupSeconds);
    const rps: Record<string, number[]> = {};
    for (let r = 0; r < cfg.shareRounds; r++) {
      for (const { key, sys } of visitOrder(started, r)) {
        await sleep(1000);
        const res = await wrk(cfg, sys, cfg.throughputConcurrency, cfg.shareSeconds);
        if (res.requests === 0 || (res.errors + res.non2xx) / res.requests > 0.01) throw new Error(`${key}: ${res.errors} socket errors and ${res.non2xx} non-2xx answers of ${res.requests} requests`);
        (rps[key] ??= []).push(res.rps);
      }
    }
    return { rounds: cfg.shareRounds, seconds: cfg.shareSeconds, rps };
  } catch (err) {
    log(`throughput share failed: ${errorText(err)}`);
    return { error: errorText(err) };
  } finally {
    for (const sys of runningAll.splice(0)) await sys.stop().catch(() => undefined);
  }
}

async function compileBenchmark(): Promise<RunResult['compile']> {
  log('control plane: compile benchmark');
  const res = await runTool(process.execPath, ['--import', 'tsx', join(cfg.benchDir, 'compile-bench.ts'), cfg.compileSizes.join(','), String(cfg.compileRepeats)], {
    core: cfg.gatewayCore,
    nice: cfg.nice,
    timeoutMs: 300_000,
    cwd: cfg.repoRoot,
  });
  try {
    return JSON.parse(res.stdout) as { node: string; results: CompileSizeResult[] };
  } catch {
    return { error: `compile-bench failed (${res.timedOut ? 'timed out' : `exit ${String(res.code)}`}): ${res.stderr.trim().slice(-300)}` };
  }
}

async function profileTollgate(def: SystemDef, ctx: Omit<StartContext, 'tag'>): Promise<ProfileResult[]> {
  const out: ProfileResult[] = [];
  const workloads: { name: string; workload: string; run: (sys: RunningSystem) => Promise<unknown> }[] = [
    {
      name: 'Non-streaming, concurrency 64',
      workload: `wrk, 64 connections, ${cfg.profileSeconds} s of POST /v1/chat/completions (instant upstream)`,
      run: (sys) => wrk(cfg, sys, 64, cfg.profileSeconds),
    },
    {
      name: 'Streaming, 64 concurrent streams',
      workload: `loadgen stream, 64 at a time, 50 chunks 2 ms apart, about ${cfg.profileSeconds} s`,
      run: (sys) =>
        runTool(
          join(cfg.cacheDir, 'bin', 'loadgen'),
          ['stream', '-url', sys.url, '-model', 'emu-c50-i2', '-count', String(Math.round(64 * cfg.profileSeconds * 5)), '-conc', '64', '-chunks', '50', '-interval', '2ms', '-warm', '0'],
          { core: cfg.clientCore, nice: cfg.nice, timeoutMs: cfg.profileSeconds * 4000 + 60_000 },
        ),
    },
  ];
  for (const [i, w] of workloads.entries()) {
    const dir = join(cfg.rawDir, `profile-${i + 1}`);
    mkdirSync(dir, { recursive: true });
    const result: ProfileResult = { name: w.name, workload: w.workload, file: dir.slice(cfg.repoRoot.length + 1) };
    log(`profile: ${w.name}`);
    try {
      const spawned = Date.now();
      running = await def.start({ ...ctx, tag: `profile-${i + 1}`, nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir] });
      const sys = running;
      await wrk(cfg, sys, 8, 1); // JIT warm-up, left out of the summary with start-up
      const loadStarts = Date.now();
      await w.run(sys);
      await sys.stop();
      running = undefined;
      await sleep(500);
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file === undefined) throw new Error('no .cpuprofile written');
      result.file = join(result.file, file);
      result.summary = summariseProfile(join(dir, file), Math.max(0, loadStarts - spawned - 50));
    } catch (err) {
      result.error = errorText(err);
      await running?.stop().catch(() => undefined);
      running = undefined;
    }
    out.push(result);
  }
  return out;
}

async function main(): Promise<void> {
  mkdirSync(cfg.rawDir, { recursive: true });
  for (const bin of ['emulator', 'loadgen']) {
    if (!existsSync(join(cfg.cacheDir, 'bin', bin))) throw new Error(`${bin} is not built: run bench/install.sh (make bench does)`);
  }
  const startedAt = new Date().toISOString();
  log(`run ${cfg.runId}${cfg.quick ? ' (quick)' : ''}: systems ${cfg.systems.join(', ')}; raw output in ${cfg.rawDir}`);
  const machine = machineInfo();
  loads.push(await sampleLoad('start', own));
  const upstreamPort = await startEmulator();
  const models = [...new Set(['emu', streamModel(cfg), HOLD_MODEL, 'emu-c50-i2', cfg.c1StreamModel])];
  const ctx = { cfg, upstreamPort, models };
  const defs = systemsFor(cfg);
  const directDef = defs.find((d) => d.id === 'direct');
  if (directDef === undefined) throw new Error('direct is always part of a run');
  const directSys = await directDef.start({ ...ctx, tag: 'rate' });
  const directRates = new Map<number, RateResult>();
  const directRate = async (rate: number): Promise<RateResult> => {
    const cached = directRates.get(rate);
    if (cached !== undefined) return cached;
    const r = await constantRate(cfg, directSys, rate);
    directRates.set(rate, r);
    return r;
  };

  const c1 = await interleavedLatency(defs, ctx);
  const share = await interleavedShare(defs, ctx);
  const systems: SystemResult[] = [];
  for (const def of defs) {
    log(`== ${def.label}`);
    const result = await measureSystem(def, ctx, directRate);
    const row = c1.rows.get(def.key);
    if (row !== undefined) result.latency = row;
    else if (result.error === undefined) result.scenarioErrors.latency = c1.errors.get(def.key) ?? 'no row in the interleaved run';
    systems.push(result);
  }
  loads.push(await sampleLoad('control plane', own));
  const compile = await compileBenchmark();
  const tollgateDef = defs.find((d) => d.key === 'tollgate-off');
  const profiles = tollgateDef === undefined || process.env.BENCH_PROFILE === '0' ? [] : await profileTollgate(tollgateDef, ctx);
  loads.push(await sampleLoad('end', own));
  await cleanup();

  // "kubectl apply → first request served" (1 and 20 data planes) needs a real API server and a
  // network namespace: bench/apply-to-served.ts (`make bench-apply`).

  const result: RunResult = {
    runId: cfg.runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    loads,
    systems,
    compile,
    profiles,
    c1: c1.info,
    share,
    commands: [
      'make bench   # = make build && bash bench/install.sh && taskset -c 1 node --import tsx bench/run.ts',
      cfg.quick ? 'BENCH_QUICK=1 make bench' : 'BENCH_QUICK=1 make bench   # smoke run, report under bench/results/raw/',
      `loadgen c1 -target <system>|<url> … -rounds ${cfg.c1Rounds} -block ${cfg.c1Block} -stream-block ${cfg.c1StreamBlock} -stream-model ${cfg.c1StreamModel} -warm ${cfg.c1Warm}   # every system at once, interleaved`,
      `wrk -t1 -c${cfg.throughputConcurrency} -d${cfg.throughputSeconds}s --timeout 10s -s bench/wrk/post.lua <url>`,
      `wrk -t1 -c${cfg.throughputConcurrency} -d${cfg.shareSeconds}s … <url>   # throughput share: the Node floor and Tollgate rows at once, ${cfg.shareRounds} rounds visiting each in turn`,
      `loadgen rate -url <url> -rate R -duration ${cfg.sweepSeconds}s -warmup ${cfg.sweepWarmupSeconds}s -conns 256`,
      `loadgen stream -url <url> -model ${streamModel(cfg)} -count ${cfg.streamCount} -conc ${cfg.streamConcurrency}`,
      `loadgen hold -url <url> -model ${HOLD_MODEL} -streams ${cfg.holdStreams} -hold ${cfg.holdSeconds}s -pids <gateway pids>`,
      `node --import tsx bench/compile-bench.ts ${cfg.compileSizes.join(',')} ${cfg.compileRepeats}`,
    ],
  };
  writeFileSync(join(cfg.rawDir, 'results.json'), `${JSON.stringify({ config: cfg, ...result }, null, 2)}\n`);
  const markdown = renderReport(result, cfg);
  // Quick runs are smoke tests: their report stays with the raw output, out of the repository.
  const reportFile = cfg.quick ? join(cfg.rawDir, 'report.md') : join(cfg.resultsDir, `${cfg.runId}.md`);
  writeFileSync(reportFile, markdown);
  log(`report: ${reportFile}`);
}

main()
  .catch(async (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => clearTimeout(hardStop));

