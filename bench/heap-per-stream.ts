/**
 * What one held stream keeps alive in a Tollgate build: heap snapshots of `tollgate dev` idle and
 * with N streams held open (one chunk a second), diffed by node type and constructor, per stream.
 * Counts live objects only (each snapshot follows a full GC), so it does not depend on the load.
 *   node --import tsx bench/heap-per-stream.ts <tollgate root> [streams=1000] [top=40]
 * HEAP_SYSTEM=node-floor measures the Node floor instead; HEAP_NODE_FLAGS adds node flags.
 * The snapshots are deleted afterwards unless HEAP_KEEP=1.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { floorAndTollgateConfig } from './lib/config.js';
import { startEmulator } from './lib/emulator.js';
import { holdStream, holdStreams } from './lib/hold-stream.js';
import { HOLD_MODEL } from './lib/scenarios.js';
import { systemsFor } from './lib/systems.js';

const [rootArg, streamsArg, topArg] = process.argv.slice(2);
if (rootArg === undefined) throw new Error('usage: heap-per-stream.ts <tollgate root> [streams] [top]');
const streams = Number(streamsArg ?? 1000);
const top = Number(topArg ?? 40);
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cfg = floorAndTollgateConfig(repoRoot, rootArg, process.env.BENCH_GOVERNANCE ?? 'off');
mkdirSync(cfg.rawDir, { recursive: true });

interface Group {
  count: number;
  bytes: number;
}

/** Counts and self sizes by `type name` (strings by type only). */
function groups(file: string): Map<string, Group> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const out = new Map<string, Group>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType] as number] ?? '?';
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' ? '' : (snap.strings[snap.nodes[i + iName] as number] ?? '').slice(0, 60);
    const key = `${type} ${name}`;
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += snap.nodes[i + iSize] as number;
    out.set(key, g);
  }
  return out;
}

async function snapshot(pid: number, dir: string, label: string): Promise<string> {
  const before = new Set(readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')));
  process.kill(pid, 'SIGUSR2');
  for (;;) {
    await sleep(500);
    const fresh = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (fresh.length === 0) continue;
    const file = join(dir, fresh[0] as string);
    const size = statSync(file).size;
    await sleep(1500);
    if (statSync(file).size === size && size > 0) {
      process.stdout.write(`${label}: ${file} (${(size / 1e6).toFixed(1)} MB)\n`);
      return file;
    }
  }
}

const { emulator, port: upstreamPort } = await startEmulator(cfg);
const systemId = process.env.HEAP_SYSTEM ?? 'tollgate';
const def = systemsFor(cfg).find((d) => d.id === systemId);
if (def === undefined) throw new Error('no tollgate row');
const sys = await def.start({ cfg, upstreamPort, models: ['emu', HOLD_MODEL], tag: 'heap', nodeFlags: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${cfg.rawDir}`, ...(process.env.HEAP_NODE_FLAGS ?? '').split(' ').filter(Boolean)] });
const sockets: Socket[] = [];
try {
  if (sys.pid === undefined) throw new Error('no pid');
  const pid = sys.pid;
  const url = new URL(sys.url);
  // Warm the path (the first request compiles the stage chain, opens the pool) and let it settle.
  for (let i = 0; i < 20; i++) (await holdStream(url, sys.headers)).destroy();
  await sleep(2000);
  const idleFile = await snapshot(pid, cfg.rawDir, 'idle');
  const idle = groups(idleFile);
  sockets.push(...(await holdStreams(url, sys.headers, streams)));
  const heldFile = await snapshot(pid, cfg.rawDir, `${streams} held`);
  const held = groups(heldFile);
  if (process.env.HEAP_KEEP !== '1') for (const f of [idleFile, heldFile]) rmSync(f);
  const rows = [...held].map(([key, g]) => {
    const base = idle.get(key) ?? { count: 0, bytes: 0 };
    return { key, count: (g.count - base.count) / streams, bytes: (g.bytes - base.bytes) / streams };
  });
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  process.stdout.write(`per held stream: ${total.toFixed(0)} bytes of heap objects (self sizes)\n`);
  rows.sort((a, b) => b.bytes - a.bytes);
  for (const r of rows.slice(0, top)) process.stdout.write(`${r.bytes.toFixed(0).padStart(7)} B  ${r.count.toFixed(2).padStart(6)}  ${r.key}\n`);
} finally {
  for (const s of sockets) s.destroy();
  await sys.stop();
  await emulator.stop();
}
