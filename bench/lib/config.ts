import { resolve } from 'node:path';

export const SYSTEM_IDS = ['direct', 'nginx', 'node-floor', 'express-floor', 'tollgate', 'portkey', 'litellm'] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];
export type TollgateCommand = 'dataplane' | 'dev';

/**
 * BENCH_TOLLGATE_COMMAND (or an A/B side's AB_TOLLGATE_COMMAND_A/B): dev unless dataplane. Still dev by
 * default: every load generator sends an API key, which `tollgate dataplane` verifies on every request
 * (0.917x governance off against dev, stream-memory-s9), so its governance-off rows would measure
 * identity as well until the clients can send none.
 */
export function tollgateCommand(value: string | undefined, knob = 'BENCH_TOLLGATE_COMMAND'): TollgateCommand {
  if (value === undefined || value === '' || value === 'dev') return 'dev';
  if (value === 'dataplane') return 'dataplane';
  throw new Error(`${knob} must be dataplane or dev (got '${value}')`);
}

/** Every knob of a run, read once from the environment (see bench/README.md). */
export interface BenchConfig {
  quick: boolean;
  systems: SystemId[];
  /** Tollgate variants: `off` (no auth, limits, budget or tracing) and `on` (all of them; see manifests.ts). */
  governance: ('off' | 'on' | 'on-nobudget')[];
  /** Also run Tollgate with --log-level warn, to show what the per-request logging costs. */
  tollgateQuiet: boolean;
  /** What Tollgate runs: `dev` (manifests, compiler, dev server) or `dataplane` (a pod's command, from a compiled snapshot). */
  tollgateCommand: TollgateCommand;
  gatewayCore: number;
  clientCore: number;
  /** Scheduling priority (nice) for everything the harness starts: 0, or negative on a shared, busy machine. */
  nice: number;
  warmupSeconds: number;
  throughputSeconds: number;
  throughputConcurrency: number;
  /** Interleaved c=1 (loadgen c1): rounds, requests and streams per visit, stream model, warm-up requests. */
  c1Rounds: number;
  /** Throughput share: rounds in which the Node floor and the Tollgate rows are each measured once, in turn. */
  shareRounds: number;
  /** Fresh starts of each system for the memory rows; the report quotes the median start. */
  memoryStarts: number;
  shareSeconds: number;
  c1Block: number;
  c1StreamBlock: number;
  c1StreamModel: string;
  c1Warm: number;
  sweepSeconds: number;
  sweepWarmupSeconds: number;
  sweepRates: number[];
  sweepP99BudgetMs: number;
  streamCount: number;
  streamConcurrency: number;
  streamChunks: number;
  streamIntervalMs: number;
  holdStreams: number;
  holdSeconds: number;
  compileSizes: number[];
  compileRepeats: number;
  profileSeconds: number;
  startTimeoutSeconds: number;
  repoRoot: string;
  /** Where the measured Tollgate build lives (dist/cli/tollgate.js): the checkout, or a clean export. */
  tollgateRoot: string;
  benchDir: string;
  resultsDir: string;
  rawDir: string;
  /** Built tools (emulator, loadgen) and install logs: gitignored .cache/bench. */
  cacheDir: string;
  runId: string;
}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return n;
}

function list(env: NodeJS.ProcessEnv, name: string, fallback: number[]): number[] {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  return raw.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: ${s} is not a positive number`);
    return n;
  });
}

function niceValue(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < -20 || n > 19) throw new Error(`BENCH_NICE must be an integer in -20..19, got ${raw}`);
  return n;
}

function systems(raw: string | undefined): SystemId[] {
  if (raw === undefined || raw.trim() === '') return [...SYSTEM_IDS];
  const wanted = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const w of wanted) if (!(SYSTEM_IDS as readonly string[]).includes(w)) throw new Error(`BENCH_SYSTEMS: unknown system ${w}`);
  // Direct is the baseline of every ratio: always measured.
  return SYSTEM_IDS.filter((id) => id === 'direct' || wanted.includes(id));
}

export function readConfig(env: NodeJS.ProcessEnv, repoRoot: string, now: Date): BenchConfig {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const benchDir = resolve(repoRoot, 'bench');
  const resultsDir = resolve(env.BENCH_RESULTS_DIR ?? resolve(benchDir, 'results'));
  const runId = now.toISOString().replace(/[:]/g, '').replace(/\..*$/, 'Z') + (quick ? '-quick' : '');
  const governanceRaw = (env.BENCH_GOVERNANCE ?? 'off,on,on-nobudget').split(',').map((s) => s.trim());
  const governance = governanceRaw.filter((g): g is 'off' | 'on' | 'on-nobudget' => g === 'off' || g === 'on' || g === 'on-nobudget');
  if (governance.length !== governanceRaw.length || governance.length === 0) throw new Error('BENCH_GOVERNANCE must list off, on and/or on-nobudget');
  return {
    quick,
    systems: systems(env.BENCH_SYSTEMS),
    governance,
    tollgateQuiet: (env.BENCH_TOLLGATE_QUIET ?? '1') !== '0',
    tollgateCommand: tollgateCommand(env.BENCH_TOLLGATE_COMMAND),
    gatewayCore: num(env, 'BENCH_GATEWAY_CORE', 0),
    nice: niceValue(env.BENCH_NICE),
    clientCore: num(env, 'BENCH_CLIENT_CORE', 1),
    // As long as the c=1 wrk rows plus the old warm-up used to run before the throughput row (the c=1
    // rows now run interleaved, apart): V8 still compiles a few seconds in, longer for more code.
    warmupSeconds: num(env, 'BENCH_WARMUP', quick ? 4 : 14),
    throughputSeconds: num(env, 'BENCH_THROUGHPUT_SECONDS', quick ? 2 : 10),
    throughputConcurrency: num(env, 'BENCH_THROUGHPUT_CONCURRENCY', 64),
    c1Rounds: num(env, 'BENCH_C1_ROUNDS', quick ? 16 : 40),
    shareRounds: num(env, 'BENCH_SHARE_ROUNDS', quick ? 2 : 6),
    memoryStarts: Math.max(1, num(env, 'BENCH_MEMORY_STARTS', quick ? 1 : 3)),
    shareSeconds: num(env, 'BENCH_SHARE_SECONDS', quick ? 2 : 4),
    c1Block: num(env, 'BENCH_C1_BLOCK', 26),
    c1StreamBlock: num(env, 'BENCH_C1_STREAM_BLOCK', 11),
    c1StreamModel: env.BENCH_C1_STREAM_MODEL ?? 'emu-c2-i5',
    c1Warm: num(env, 'BENCH_C1_WARM', quick ? 500 : 1000),
    sweepSeconds: num(env, 'BENCH_SWEEP_SECONDS', quick ? 1.5 : 4),
    sweepWarmupSeconds: num(env, 'BENCH_SWEEP_WARMUP', quick ? 0.5 : 1),
    sweepRates: list(env, 'BENCH_SWEEP_RATES', [10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 16000, 20000]),
    sweepP99BudgetMs: num(env, 'BENCH_SWEEP_P99_BUDGET_MS', 5),
    streamCount: num(env, 'BENCH_STREAM_COUNT', quick ? 40 : 200),
    streamConcurrency: num(env, 'BENCH_STREAM_CONCURRENCY', 4),
    streamChunks: num(env, 'BENCH_STREAM_CHUNKS', 20),
    streamIntervalMs: num(env, 'BENCH_STREAM_INTERVAL_MS', 10),
    holdStreams: num(env, 'BENCH_HOLD_STREAMS', quick ? 200 : 1000),
    holdSeconds: num(env, 'BENCH_HOLD_SECONDS', quick ? 2 : 4),
    compileSizes: list(env, 'BENCH_COMPILE_SIZES', [100, 1000, 10000]),
    compileRepeats: num(env, 'BENCH_COMPILE_REPEATS', quick ? 2 : 5),
    profileSeconds: num(env, 'BENCH_PROFILE_SECONDS', quick ? 3 : 15),
    startTimeoutSeconds: num(env, 'BENCH_START_TIMEOUT', 90),
    repoRoot,
    tollgateRoot: resolve(env.BENCH_TOLLGATE_ROOT ?? repoRoot),
    benchDir,
    resultsDir,
    rawDir: resolve(resultsDir, 'raw', runId),
    cacheDir: resolve(repoRoot, '.cache', 'bench'),
    runId,
  };
}

/**
 * The config of a one-off diagnostic script (heap-per-stream, chunk-coalescing): quick mode, the
 * Node floor and Tollgate (governance as given, no quiet row), measuring the build at `tollgateRoot`.
 * The caller makes `rawDir`.
 */
export function floorAndTollgateConfig(repoRoot: string, tollgateRoot: string, governance: string): BenchConfig {
  const env = { ...process.env, BENCH_QUICK: '1', BENCH_SYSTEMS: 'node-floor,tollgate', BENCH_GOVERNANCE: governance, BENCH_TOLLGATE_QUIET: '0' };
  return { ...readConfig(env, repoRoot, new Date()), tollgateRoot: resolve(tollgateRoot) };
}
