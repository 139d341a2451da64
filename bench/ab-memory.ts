/**
 * Alternating A/B of Tollgate builds' memory (the bench's memory scenario only): per round each
 * build is started fresh, given 1 s of requests, measured idle, then holds N streams (1 chunk/s).
 *   node --import tsx bench/ab-memory.ts <root A> <root B> [rounds=3]
 * Knobs as for bench/run.ts: BENCH_GOVERNANCE (default off), BENCH_HOLD_STREAMS (default 1000 here).
 * AB_NODE_FLAGS_A / AB_NODE_FLAGS_B: extra node flags for one side (e.g. a V8 heap setting), space-separated.
 * AB_ENV_A / AB_ENV_B: environment variables for one side's gateway (e.g. MALLOC_ARENA_MAX=2), NAME=value space-separated.
 * AB_TOLLGATE_COMMAND_A / _B: dev (default, BENCH_TOLLGATE_COMMAND) or dataplane for one side.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.js';
import { startEmulator } from './lib/emulator.js';
import { HOLD_MODEL, memory } from './lib/scenarios.js';
import { sideCommand, sideEnv } from './lib/side-env.js';
import { systemsFor } from './lib/systems.js';

const [rootA, rootB, roundsArg] = process.argv.slice(2);
if (rootA === undefined || rootB === undefined) throw new Error('usage: ab-memory.ts <root A> <root B> [rounds]');
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const rounds = Number(roundsArg ?? 3);
const base = readConfig(
  { ...process.env, BENCH_QUICK: '1', BENCH_SYSTEMS: 'tollgate', BENCH_GOVERNANCE: process.env.BENCH_GOVERNANCE ?? 'off', BENCH_TOLLGATE_QUIET: '0', BENCH_HOLD_STREAMS: process.env.BENCH_HOLD_STREAMS ?? '1000' },
  repoRoot,
  new Date(),
);
mkdirSync(base.rawDir, { recursive: true });
const { emulator, port: upstreamPort } = await startEmulator(base);
const mib = (kib: number): number => kib / 1024;
const rows: Record<'A' | 'B', { idle: number; held: number }[]> = { A: [], B: [] };
try {
  for (let r = 1; r <= rounds; r++) {
    for (const label of r % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const cfg = { ...base, tollgateRoot: resolve(label === 'A' ? rootA : rootB) };
      const def = systemsFor(cfg)[1];
      if (def === undefined) throw new Error('no tollgate row');
      const flags = (process.env[`AB_NODE_FLAGS_${label}`] ?? '').split(' ').filter((f) => f !== '');
      const sys = await def.start({ cfg, upstreamPort, models: ['emu', HOLD_MODEL], tag: `r${r}-${label}`, nodeFlags: flags, env: sideEnv(label), ...sideCommand(label) });
      try {
        const m = await memory(cfg, sys);
        const held = m.hold?.peakRssKiB ?? 0;
        rows[label].push({ idle: mib(m.idleRssKiB), held: mib(held) });
        process.stdout.write(`round ${r} ${label} idle ${mib(m.idleRssKiB).toFixed(1)} MiB, ${m.hold?.opened}/${m.hold?.requested} streams ${mib(held).toFixed(1)} MiB (errors ${m.hold?.errors})\n`);
      } finally {
        await sys.stop();
      }
    }
  }
} finally {
  await emulator.stop();
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
for (const label of ['A', 'B'] as const) {
  process.stdout.write(`${label} ${label === 'A' ? rootA : rootB}: idle ${mean(rows[label].map((x) => x.idle)).toFixed(1)} MiB, with streams ${mean(rows[label].map((x) => x.held)).toFixed(1)} MiB\n`);
}
