import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchConfig } from './config.js';
import { memoryOf, processTree, runTool } from './proc.js';
import type { RunningSystem } from './systems.js';

export interface Percentiles {
  count?: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface WrkResult {
  concurrency: number;
  seconds: number;
  requests: number;
  rps: number;
  errors: number;
  non2xx: number;
  latencyUs: Percentiles;
}

export interface RateResult {
  targetRate: number;
  achievedRate: number;
  sent: number;
  ok: number;
  errors: number;
  firstError?: string;
  latencyUs: Percentiles;
  serviceUs: Percentiles;
}

export interface StreamResult {
  streams: number;
  errors: number;
  firstError?: string;
  expectedChunks: number;
  streamsWithAllChunks: number;
  streamsWithUsage: number;
  streamsWithDone: number;
  intervalMs: number;
  ttftUs: Percentiles;
  headersUs: Percentiles;
  gapUs: Percentiles;
  /** Per chunk: arrival at the client minus the time the emulator wrote it. */
  chunkDelayUs: Percentiles;
  /** Content chunks that arrived in the same socket read as an earlier one (delivered together). */
  coalescedChunks: number;
  coalescedFraction: number;
  /** Gaps shorter than a quarter of the interval. */
  shortGaps: number;
  maxEventsPerRead: number;
  jitterUs: Percentiles;
}

/** One system's row of the interleaved c=1 run (loadgen c1). */
export interface C1Row {
  name: string;
  latencyUs: Percentiles;
  ttftUs: Percentiles;
  /** Median of each round's visit: the round-to-round swing. */
  roundP50Us: number[];
  roundTtftP50Us: number[];
}

export interface C1Result {
  rounds: number;
  block: number;
  streamBlock: number;
  streamModel: string;
  seconds: number;
  rows: C1Row[];
}

export interface HoldResult {
  requested: number;
  opened: number;
  errors: number;
  firstError?: string;
  peakRssKiB: number;
  openMs: number;
  during: { pid: number; vmRssKiB: number; vmHwmKiB: number }[];
}

export interface SweepStep {
  rate: number;
  achieved: number;
  p99Ms: number;
  directP99Ms?: number;
  addedP99Ms?: number;
  errors: number;
  pass: boolean;
  reason: string;
}

export interface SweepResult {
  steps: SweepStep[];
  /** Highest ladder rate that passed, if any. */
  maxRate?: number;
  /** First ladder rate above it that failed, and why. */
  failedAt?: { rate: number; reason: string };
}

export interface MemoryResult {
  idleRssKiB: number;
  idleHwmKiB: number;
  processes: number;
  hold?: HoldResult;
  /** Summed VmHWM after the hold: the kernel's peak for this fresh process. */
  peakHwmKiB?: number;
}

/**
 * The start whose RSS with open streams (idle RSS without a hold) is the median of the starts; of an
 * even count, the higher of the two middle ones (never the flattering side).
 */
export function medianMemory(runs: readonly MemoryResult[]): MemoryResult {
  const key = (m: MemoryResult): number => m.hold?.peakRssKiB ?? m.idleRssKiB;
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  const mid = sorted[Math.floor(sorted.length / 2)];
  if (mid === undefined) throw new Error('no memory run');
  return mid;
}

function tool(cfg: BenchConfig, name: string): string {
  return join(cfg.cacheDir, 'bin', name);
}

function parseJson<T>(what: string, stdout: string, stderr: string): T {
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new Error(`${what}: no result (${(stderr || stdout).trim().split('\n').slice(-3).join(' | ').slice(0, 300)})`);
  }
}

async function loadgen<T>(cfg: BenchConfig, mode: string, sys: RunningSystem, args: string[], timeoutMs: number): Promise<T> {
  const headerArgs = sys.headers.flatMap((h) => ['-H', h]);
  const res = await runTool(tool(cfg, 'loadgen'), [mode, '-url', sys.url, ...headerArgs, ...args], { core: cfg.clientCore, nice: cfg.nice, timeoutMs });
  if (res.timedOut) throw new Error(`loadgen ${mode}: timed out after ${Math.round(timeoutMs / 1000)} s`);
  return parseJson<T>(`loadgen ${mode}`, res.stdout, res.stderr);
}

interface WrkJson {
  durationUs: number;
  requests: number;
  non2xx: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  timeouts: number;
  latencyUs: Percentiles;
}

/** Closed-loop load with wrk (one thread, `concurrency` connections) for `seconds`. */
export async function wrk(cfg: BenchConfig, sys: RunningSystem, concurrency: number, seconds: number, model = 'emu'): Promise<WrkResult> {
  const secs = Math.max(1, Math.round(seconds));
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_MODEL: model, BENCH_HEADERS: sys.headers.join('|') };
  const res = await runTool('wrk', ['-t1', `-c${concurrency}`, `-d${secs}s`, '--timeout', '10s', '-s', join(cfg.benchDir, 'wrk', 'post.lua'), sys.url], {
    core: cfg.clientCore, nice: cfg.nice,
    timeoutMs: secs * 1000 + 30_000,
    env,
  });
  const line = res.stdout.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (line === undefined) throw new Error(`wrk: no result (${(res.stderr || res.stdout).trim().slice(-300)})`);
  const j = parseJson<WrkJson>('wrk', line.slice('BENCHJSON '.length), res.stderr);
  const errors = j.connectErrors + j.readErrors + j.writeErrors + j.timeouts;
  return {
    concurrency,
    seconds: j.durationUs / 1e6,
    requests: j.requests,
    rps: j.requests / (j.durationUs / 1e6),
    errors,
    non2xx: j.non2xx,
    latencyUs: j.latencyUs,
  };
}

/** Warm-up (discarded) then a measured wrk run; fails when more than 1% of requests failed. */
export async function closedLoop(cfg: BenchConfig, sys: RunningSystem, concurrency: number, seconds: number): Promise<WrkResult> {
  await wrk(cfg, sys, concurrency, cfg.warmupSeconds);
  const r = await wrk(cfg, sys, concurrency, seconds);
  if (r.requests === 0) throw new Error('no request completed');
  if ((r.errors + r.non2xx) / r.requests > 0.01) throw new Error(`${r.errors} socket errors and ${r.non2xx} non-2xx answers of ${r.requests} requests`);
  return r;
}

/**
 * Latency and TTFT at concurrency 1 of every system at once, interleaved (loadgen c1): each round
 * visits every system in turn, the order rotated per round; a visit is a block of requests back to
 * back on one kept-alive connection, then a block of streams (the first of each not counted).
 */
export async function interleavedC1(cfg: BenchConfig, systems: { key: string; sys: RunningSystem }[]): Promise<C1Result> {
  const args = systems.flatMap(({ key, sys }) => ['-target', [key, sys.url, ...sys.headers].join('|')]);
  args.push('-rounds', String(cfg.c1Rounds), '-block', String(cfg.c1Block), '-stream-block', String(cfg.c1StreamBlock), '-stream-model', cfg.c1StreamModel, '-warm', String(cfg.c1Warm));
  const res = await runTool(tool(cfg, 'loadgen'), ['c1', ...args], { core: cfg.clientCore, nice: cfg.nice, timeoutMs: 11 * 60_000 });
  if (res.timedOut) throw new Error('loadgen c1: timed out');
  return parseJson<C1Result>('loadgen c1', res.stdout, res.stderr);
}

export async function constantRate(cfg: BenchConfig, sys: RunningSystem, rate: number): Promise<RateResult> {
  const total = cfg.sweepSeconds + cfg.sweepWarmupSeconds;
  return loadgen<RateResult>(
    cfg,
    'rate',
    sys,
    ['-rate', String(rate), '-duration', `${cfg.sweepSeconds}s`, '-warmup', `${cfg.sweepWarmupSeconds}s`, '-conns', '256', '-timeout', '10s'],
    total * 1000 + 40_000,
  );
}

/**
 * The highest rate on the ladder whose p99 stays within the budget above direct's p99 at the same
 * rate (open loop, constant rate). Starts near a quarter of the closed-loop throughput, walks up
 * until a rate fails, or down until one passes.
 */
export async function sweep(
  cfg: BenchConfig,
  sys: RunningSystem,
  throughputRps: number | undefined,
  direct: ((rate: number) => Promise<RateResult>) | undefined,
): Promise<SweepResult> {
  const ladder = [...cfg.sweepRates].sort((a, b) => a - b);
  const steps: SweepStep[] = [];
  const budget = cfg.sweepP99BudgetMs;
  const measure = async (rate: number): Promise<SweepStep> => {
    const r = await constantRate(cfg, sys, rate);
    const p99Ms = r.latencyUs.p99 / 1000;
    const base = direct === undefined ? undefined : (await direct(rate)).latencyUs.p99 / 1000;
    const added = base === undefined ? undefined : p99Ms - base;
    let reason = 'ok';
    if (r.errors > 0) reason = `${r.errors} errors${r.firstError ? ` (${r.firstError.slice(0, 80)})` : ''}`;
    else if (r.achievedRate < 0.95 * rate) reason = `achieved only ${Math.round(r.achievedRate)}/s`;
    else if (added !== undefined && added >= budget) reason = `added p99 ${added.toFixed(2)} ms`;
    else if (added === undefined && p99Ms >= budget) reason = `p99 ${p99Ms.toFixed(2)} ms`;
    const step: SweepStep = { rate, achieved: r.achievedRate, p99Ms, errors: r.errors, pass: reason === 'ok', reason };
    if (base !== undefined) step.directP99Ms = base;
    if (added !== undefined) step.addedP99Ms = added;
    steps.push(step);
    return step;
  };
  let i = 0;
  if (throughputRps !== undefined) {
    while (i + 1 < ladder.length && (ladder[i + 1] ?? Infinity) <= throughputRps * 0.25) i++;
  }
  const maxSteps = 9;
  const first = await measure(ladder[i] ?? 1);
  const result: SweepResult = { steps };
  if (first.pass) {
    result.maxRate = first.rate;
    for (let k = i + 1; k < ladder.length && steps.length < maxSteps; k++) {
      const s = await measure(ladder[k] ?? 1);
      if (!s.pass) {
        result.failedAt = { rate: s.rate, reason: s.reason };
        break;
      }
      result.maxRate = s.rate;
    }
  } else {
    result.failedAt = { rate: first.rate, reason: first.reason };
    for (let k = i - 1; k >= 0 && steps.length < maxSteps; k--) {
      const s = await measure(ladder[k] ?? 1);
      if (s.pass) {
        result.maxRate = s.rate;
        break;
      }
      result.failedAt = { rate: s.rate, reason: s.reason };
    }
  }
  return result;
}

export function streamModel(cfg: BenchConfig): string {
  return `emu-c${cfg.streamChunks}-i${cfg.streamIntervalMs}`;
}

/** Long, slow streams for the memory scenario: one chunk a second, two minutes at most. */
export const HOLD_MODEL = 'emu-c120-i1000';

export async function streaming(cfg: BenchConfig, sys: RunningSystem): Promise<StreamResult> {
  const perStream = cfg.streamChunks * cfg.streamIntervalMs;
  const timeoutMs = (cfg.streamCount / Math.max(1, cfg.streamConcurrency) + 10) * (perStream + 500) + 30_000;
  const r = await loadgen<StreamResult>(
    cfg,
    'stream',
    sys,
    [
      '-model', streamModel(cfg),
      '-count', String(cfg.streamCount),
      '-conc', String(cfg.streamConcurrency),
      '-chunks', String(cfg.streamChunks),
      '-interval', `${cfg.streamIntervalMs}ms`,
      '-warm', '5',
    ],
    timeoutMs,
  );
  return r;
}

/** Memory of a freshly started system: idle (after a few requests), then with N open streams. */
export async function memory(cfg: BenchConfig, sys: RunningSystem): Promise<MemoryResult> {
  if (sys.pid === undefined) throw new Error('no process to measure');
  await wrk(cfg, sys, 1, 1);
  await sleep(1000);
  const idle = memoryOf(sys.pid);
  const result: MemoryResult = { idleRssKiB: idle.rssKiB, idleHwmKiB: idle.hwmKiB, processes: idle.pids };
  const ramp = cfg.quick ? 1 : 2;
  const hold = await loadgen<HoldResult>(
    cfg,
    'hold',
    sys,
    [
      '-model', HOLD_MODEL,
      '-streams', String(cfg.holdStreams),
      '-ramp', `${ramp}s`,
      '-hold', `${cfg.holdSeconds}s`,
      '-open-wait', '20s',
      '-pids', processTree(sys.pid).join(','),
    ],
    (ramp + 20 + cfg.holdSeconds + 60) * 1000,
  );
  result.hold = hold;
  result.peakHwmKiB = memoryOf(sys.pid).hwmKiB;
  return result;
}
