/**
 * Where a gateway's RSS goes outside the V8 heap: /proc/<pid>/smaps summed by mapping kind, the V8
 * heap's own physical size and Node's external/arrayBuffers, and the thread list, idle and with N
 * streams held open (one chunk a second). Exact page counts at the moment of reading, not peaks.
 *   node --import tsx bench/native-memory.ts <tollgate root> [streams=1000]
 * NATIVE_SYSTEM=node-floor measures the Node floor instead; NATIVE_NODE_FLAGS adds node flags; the
 * gateway inherits this process's environment (e.g. MALLOC_ARENA_MAX).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { floorAndTollgateConfig } from './lib/config.js';
import { startEmulator } from './lib/emulator.js';
import { holdStream, holdStreams } from './lib/hold-stream.js';
import { HOLD_MODEL } from './lib/scenarios.js';
import { isThreadArena, type Mapping, mappings } from './lib/smaps.js';
import { systemsFor } from './lib/systems.js';

const [rootArg, streamsArg] = process.argv.slice(2);
if (rootArg === undefined) throw new Error('usage: native-memory.ts <tollgate root> [streams]');
const streams = Number(streamsArg ?? 1000);
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cfg = floorAndTollgateConfig(repoRoot, rootArg, process.env.BENCH_GOVERNANCE ?? 'off');
mkdirSync(cfg.rawDir, { recursive: true });

/** Rss in KiB by kind; `anon arenas` are glibc per-thread malloc arenas (a 64 MiB-aligned rw start whose reservation is 64 MiB). */
function byKind(maps: Mapping[]): Map<string, { rssKiB: number; count: number }> {
  const kinds = new Map<string, { rssKiB: number; count: number }>();
  const add = (k: string, m: Mapping): void => {
    const g = kinds.get(k) ?? { rssKiB: 0, count: 0 };
    g.rssKiB += m.rssKiB;
    g.count++;
    kinds.set(k, g);
  };
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i] as Mapping;
    if (m.path === '[heap]') add('[heap] malloc main arena', m);
    else if (m.path.startsWith('[')) add(m.path, m);
    else if (m.path === process.execPath || m.path.endsWith('/node')) add(`node binary ${m.perms}`, m);
    else if (m.path.includes('.so')) add('shared libraries', m);
    else if (m.path !== '') add(`file ${m.path.split('/').pop() ?? ''}`, m);
    else {
      if (isThreadArena(maps, i)) add('anon glibc thread arenas', m);
      else if (m.perms === '---p') add('anon ---p (reserved, guards)', m);
      else if (m.perms.startsWith('r-x') || m.perms.startsWith('rwx')) add('anon executable (V8 code)', m);
      else add('anon rw (V8 pages, big mallocs, thread stacks)', m);
    }
  }
  return kinds;
}

/** The ICU data in the node binary (the `icudt*_dat` symbol), as [start, end) virtual addresses of the file, if `nm` finds it. */
function icuRange(): [number, number] | undefined {
  try {
    const line = execFileSync('nm', ['-D', '-S', process.execPath], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').find((l) => /icudt\d+_dat$/.test(l));
    const [addr, size] = (line ?? '').split(' ');
    return addr === undefined || size === undefined || line === undefined ? undefined : [parseInt(addr, 16), parseInt(addr, 16) + parseInt(size, 16)];
  } catch {
    return undefined;
  }
}

/** KiB of the ICU data resident in the binary's read-only mappings (present bits of /proc/<pid>/pagemap). */
function icuResidentKiB(pid: number, icu: [number, number]): number {
  let kib = 0;
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  const entry = Buffer.alloc(8);
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) r--p ([0-9a-f]+) \S+ \S+\s+(\S+)$/.exec(line);
      if (m === null || m[4] !== process.execPath) continue;
      const [lo, hi, off] = [parseInt(m[1] as string, 16), parseInt(m[2] as string, 16), parseInt(m[3] as string, 16)];
      for (let a = lo; a < hi; a += 4096) {
        // The file's virtual addresses are its offsets plus the read-only segment's displacement, which
        // nm's address already includes; the segment's first page maps file offset `off`.
        const fileVaddr = a - lo + off + rodataDisplacement;
        if (fileVaddr < icu[0] || fileVaddr >= icu[1]) continue;
        readSync(fd, entry, 0, 8, (a / 4096) * 8);
        if (entry.readBigUInt64LE(0) >> 63n === 1n) kib += 4;
      }
    }
  } finally {
    closeSync(fd);
  }
  return kib;
}

/** Virtual address minus file offset of the binary's .rodata (readelf), 0 if unknown. */
const rodataDisplacement = ((): number => {
  try {
    const m = /\.rodata\s+PROGBITS\s+([0-9a-f]+) ([0-9a-f]+)/.exec(execFileSync('readelf', ['-S', '-W', process.execPath], { encoding: 'utf8' }));
    return m === null ? 0 : parseInt(m[1] as string, 16) - parseInt(m[2] as string, 16);
  } catch {
    return 0;
  }
})();
const icu = icuRange();

function threads(pid: number): Map<string, number> {
  const names = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const name = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
    names.set(name, (names.get(name) ?? 0) + 1);
  }
  return names;
}

function sockets(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

const statsFile = join(cfg.rawDir, 'native-memory-v8.json');
const preload = join(cfg.rawDir, 'native-memory-preload.cjs');
writeFileSync(
  preload,
  `const v8 = require('node:v8'); const fs = require('node:fs');
process.on('SIGUSR2', () => {
  const spaces = v8.getHeapSpaceStatistics().map((s) => ({ name: s.space_name, physical: s.physical_space_size, used: s.space_used_size }));
  fs.writeFileSync(${JSON.stringify(statsFile)}, JSON.stringify({ usage: process.memoryUsage(), heap: v8.getHeapStatistics(), spaces }));
});\n`,
);

interface V8Stats {
  usage: NodeJS.MemoryUsage;
  heap: { total_physical_size: number; malloced_memory: number; external_memory: number };
  spaces: { name: string; physical: number; used: number }[];
}

async function v8Stats(pid: number): Promise<V8Stats> {
  writeFileSync(statsFile, '');
  process.kill(pid, 'SIGUSR2');
  for (;;) {
    await sleep(200);
    const text = readFileSync(statsFile, 'utf8');
    if (text !== '') return JSON.parse(text) as V8Stats;
  }
}

interface Sample {
  kinds: Map<string, { rssKiB: number; count: number }>;
  rssKiB: number;
  v8: V8Stats;
  threads: Map<string, number>;
  sockets: number;
  icuKiB: number | undefined;
}

async function sample(pid: number): Promise<Sample> {
  const v8 = await v8Stats(pid);
  const maps = mappings(pid);
  return { kinds: byKind(maps), rssKiB: maps.reduce((s, m) => s + m.rssKiB, 0), v8, threads: threads(pid), sockets: sockets(pid), icuKiB: icu === undefined ? undefined : icuResidentKiB(pid, icu) };
}

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
function report(label: string, s: Sample, idle?: Sample): void {
  const d = (now: number, before: number | undefined): string => (before === undefined ? '' : ` (${now - before >= 0 ? '+' : ''}${mib(now - before)})`);
  process.stdout.write(`\n== ${label}: RSS ${mib(s.rssKiB * 1024)} MiB${d(s.rssKiB * 1024, idle && idle.rssKiB * 1024)}, sockets ${s.sockets}\n`);
  for (const [k, g] of [...s.kinds].sort((a, b) => b[1].rssKiB - a[1].rssKiB)) {
    const before = idle?.kinds.get(k);
    process.stdout.write(`  ${mib(g.rssKiB * 1024).padStart(7)} MiB  ${String(g.count).padStart(4)} maps  ${k}${d(g.rssKiB * 1024, before && before.rssKiB * 1024)}\n`);
  }
  if (s.icuKiB !== undefined) process.stdout.write(`  of the binary's r--p: ICU data ${mib(s.icuKiB * 1024)} MiB${d(s.icuKiB * 1024, idle?.icuKiB && idle.icuKiB * 1024)}\n`);
  const u = s.v8.usage;
  process.stdout.write(`  V8 heap physical ${mib(s.v8.heap.total_physical_size)} MiB${d(s.v8.heap.total_physical_size, idle?.v8.heap.total_physical_size)}, heapUsed ${mib(u.heapUsed)}, V8 malloced ${mib(s.v8.heap.malloced_memory)}, external ${mib(u.external)}${d(u.external, idle?.v8.usage.external)} (arrayBuffers ${mib(u.arrayBuffers)}${d(u.arrayBuffers, idle?.v8.usage.arrayBuffers)})\n`);
  process.stdout.write(`  spaces: ${s.v8.spaces.map((x) => `${x.name} ${mib(x.physical)}`).join(', ')}\n`);
  process.stdout.write(`  threads: ${[...s.threads].map(([n, c]) => `${n} x${c}`).join(', ')}\n`);
}

const { emulator, port: upstreamPort } = await startEmulator(cfg);
const systemId = process.env.NATIVE_SYSTEM ?? 'tollgate';
const def = systemsFor(cfg).find((x) => x.id === systemId);
if (def === undefined) throw new Error(`no ${systemId} row`);
const sys = await def.start({ cfg, upstreamPort, models: ['emu', HOLD_MODEL], tag: 'native', nodeFlags: ['--require', preload, ...(process.env.NATIVE_NODE_FLAGS ?? '').split(' ').filter(Boolean)] });
try {
  if (sys.pid === undefined) throw new Error('no pid');
  const url = new URL(sys.url);
  for (let i = 0; i < 20; i++) (await holdStream(url, sys.headers)).destroy();
  await sleep(2000);
  const idle = await sample(sys.pid);
  report(`${systemId} idle`, idle);
  const held = await holdStreams(url, sys.headers, streams);
  await sleep(3000);
  report(`${systemId} with ${held.length} streams held`, await sample(sys.pid), idle);
  for (const s of held) s.destroy();
} finally {
  await sys.stop();
  await emulator.stop();
}
