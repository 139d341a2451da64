/**
 * Where a fresh gateway's idle RSS goes, start after start: per start, /proc/<pid>/smaps_rollup,
 * glibc's main arena ([heap]) and thread arenas, and V8's heap spaces (physical) at ready, then after
 * the memory scenario's 1 s of requests at c=1 and 1 s of rest (the moment bench/ab-memory.ts calls
 * "idle"), with the scavenges and mark-compacts so far (--trace-gc lines in the gateway's log).
 *   node --import tsx bench/idle-rss.ts <tollgate root> [starts=10]
 * IDLE_HOLD_STREAMS=n: then also n held streams (3 s after opening them). IDLE_TRIM=1: then gdb calls
 * malloc_stats() and malloc_trim(0) in the gateway and it is sampled again (what glibc held free).
 * IDLE_SYSTEM=node-floor (with BENCH_SYSTEMS naming it) samples that row instead of Tollgate.
 * IDLE_V8=0: neither the preload nor --trace-gc (the high-[heap] mode was rarer with them).
 * IDLE_NODE_FLAGS adds node flags; the gateway inherits this process's environment (e.g.
 * TOLLGATE_SINGLE_THREADED_GC=on, MALLOC_TRIM_THRESHOLD_, BENCH_TOLLGATE_COMMAND=dataplane).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { floorAndTollgateConfig } from './lib/config.js';
import { startEmulator } from './lib/emulator.js';
import { holdStreams } from './lib/hold-stream.js';
import { HOLD_MODEL, wrk } from './lib/scenarios.js';
import { isThreadArena, mappings } from './lib/smaps.js';
import { systemsFor } from './lib/systems.js';

const [rootArg, startsArg] = process.argv.slice(2);
if (rootArg === undefined) throw new Error('usage: idle-rss.ts <tollgate root> [starts]');
const starts = Number(startsArg ?? 10);
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cfg = floorAndTollgateConfig(repoRoot, rootArg, process.env.BENCH_GOVERNANCE ?? 'off');
mkdirSync(cfg.rawDir, { recursive: true });

const statsFile = join(cfg.rawDir, 'idle-rss-v8.json');
const preload = join(cfg.rawDir, 'idle-rss-preload.cjs');
writeFileSync(
  preload,
  `const v8 = require('node:v8'); const fs = require('node:fs');
process.on('SIGUSR2', () => {
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.physical_space_size]));
  fs.writeFileSync(${JSON.stringify(statsFile)}, JSON.stringify({ spaces, total: v8.getHeapStatistics().total_physical_size, malloced: v8.getHeapStatistics().malloced_memory }));
});\n`,
);

interface Sample {
  rss: number;
  anon: number;
  file: number;
  v8: { spaces: Record<string, number>; total: number; malloced: number };
  scavenges: number;
  markCompacts: number;
  mallocMain: number;
  mallocArenas: number;
}

/** Bytes resident in glibc's main arena ([heap]) and in its thread arenas. */
function malloc(pid: number): { main: number; arenas: number } {
  const maps = mappings(pid);
  let main = 0;
  let arenas = 0;
  maps.forEach((m, i) => {
    if (m.path === '[heap]') main += m.rssKiB * 1024;
    else if (isThreadArena(maps, i)) arenas += m.rssKiB * 1024;
  });
  return { main, arenas };
}

// V8 figures read 0 with IDLE_V8=0.
const probeV8 = process.env.IDLE_V8 !== '0';

async function sample(pid: number, log: string): Promise<Sample> {
  let text = JSON.stringify({ spaces: {}, total: 0, malloced: 0 });
  if (probeV8) {
    writeFileSync(statsFile, '');
    process.kill(pid, 'SIGUSR2');
    text = '';
    while (text === '') {
      await sleep(100);
      text = readFileSync(statsFile, 'utf8');
    }
  }
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
  const trace = readFileSync(log, 'utf8');
  const m = malloc(pid);
  return {
    mallocMain: m.main,
    mallocArenas: m.arenas,
    rss: kib('Rss'),
    anon: kib('Anonymous'),
    file: kib('Rss') - kib('Anonymous'),
    v8: JSON.parse(text) as Sample['v8'],
    scavenges: (trace.match(/Scavenge/g) ?? []).length,
    markCompacts: (trace.match(/Mark-Compact/g) ?? []).length,
  };
}

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
function line(label: string, s: Sample): string {
  const sp = s.v8.spaces;
  return `${label} RSS ${mib(s.rss)} (anon ${mib(s.anon)}, file ${mib(s.file)}) | V8 ${mib(s.v8.total)}: new ${mib(sp.new_space ?? 0)}, old ${mib(sp.old_space ?? 0)}, code ${mib(sp.code_space ?? 0)}, lo ${mib(sp.large_object_space ?? 0)}, malloced ${mib(s.v8.malloced)} | malloc [heap] ${mib(s.mallocMain)}, arenas ${mib(s.mallocArenas)} | scavenges ${s.scavenges}, mark-compacts ${s.markCompacts}`;
}

const { emulator, port: upstreamPort } = await startEmulator(cfg);
const def = systemsFor(cfg).find((x) => x.id === (process.env.IDLE_SYSTEM ?? 'tollgate'));
if (def === undefined) throw new Error(`no ${process.env.IDLE_SYSTEM ?? 'tollgate'} row`);
try {
  for (let i = 1; i <= starts; i++) {
    const tag = `idle${i}`;
    const flags = [...(probeV8 ? ['--require', preload, '--trace-gc'] : []), ...(process.env.IDLE_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
    const sys = await def.start({ cfg, upstreamPort, models: ['emu', HOLD_MODEL], tag, nodeFlags: flags });
    const log = join(cfg.rawDir, `${def.key}-${tag}.log`);
    try {
      if (sys.pid === undefined) throw new Error('no pid');
      const ready = await sample(sys.pid, log);
      const load = await wrk(cfg, sys, 1, 1);
      await sleep(1000);
      const idle = await sample(sys.pid, log);
      process.stdout.write(`start ${i} (${load.requests} requests in the 1 s)\n  ${line('ready', ready)}\n  ${line('idle ', idle)}\n`);
      const streams = Number(process.env.IDLE_HOLD_STREAMS ?? 0);
      if (streams > 0) {
        const held = await holdStreams(new URL(sys.url), sys.headers, streams);
        await sleep(3000);
        process.stdout.write(`  ${line('held ', await sample(sys.pid, log))} (${held.length} streams)\n`);
        if (process.env.IDLE_TRIM === '1') await trim(sys.pid, log);
        for (const h of held) h.destroy();
      } else if (process.env.IDLE_TRIM === '1') await trim(sys.pid, log);
    } finally {
      await sys.stop();
    }
  }
} finally {
  await emulator.stop();
}

/** Whether what glibc holds is free: malloc_stats() (to the gateway's log), then malloc_trim(0) and a new sample. */
async function trim(pid: number, log: string): Promise<void> {
  spawnSync('gdb', ['-p', String(pid), '-batch', '-ex', 'call (void)malloc_stats()', '-ex', 'call (int)malloc_trim(0)'], { stdio: 'ignore' });
  const lines = readFileSync(log, 'utf8').split('\n');
  const at = lines.lastIndexOf('Arena 0:');
  const stats = lines.slice(at).filter((l) => /^(Arena|system bytes|in use bytes)/.test(l)).map((l) => l.replace(/\s+/g, ' ')).join('; ');
  process.stdout.write(`  ${line('trim ', await sample(pid, log))}\n  malloc_stats before the trim: ${stats}\n`);
}
