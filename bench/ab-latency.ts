/**
 * Interleaved latency A/B at concurrency 1: direct, the Node floor and two Tollgate builds, all
 * running at once and measured by one client in turn (`loadgen c1`, the method of `make bench`'s
 * c=1 rows, see bench/README.md): each round visits every system in a fresh random order (seeded), after a short pause; a
 * visit is a block of non-streaming requests back to back on a kept-alive connection, then a block
 * of streams (the first of each not counted). Whatever else the machine does falls on every row
 * alike. Prints p50/p90 and the time to the first content chunk (TTFT), each minus direct's and
 * minus the Node floor's, and B − A per round (its median and middle half: how much a short run swings).
 *   node --import tsx bench/ab-latency.ts <root A> <root B> [rounds=40]
 * BENCH_GOVERNANCE (default off) picks the Tollgate row; BENCH_C1_BLOCK (26), BENCH_C1_STREAM_BLOCK
 * (16), BENCH_C1_STREAM_MODEL (emu-c2-i5), BENCH_C1_WARM (1000) as for `make bench`.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.js';
import { startEmulator } from './lib/emulator.js';
import { type C1Row, interleavedC1 } from './lib/scenarios.js';
import { type RunningSystem, systemsFor } from './lib/systems.js';

const [rootA, rootB, roundsArg] = process.argv.slice(2);
if (rootA === undefined || rootB === undefined) throw new Error('usage: ab-latency.ts <root A> <root B> [rounds]');
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const base = readConfig(
  {
    BENCH_C1_STREAM_BLOCK: '16',
    ...process.env,
    BENCH_QUICK: '1',
    BENCH_C1_ROUNDS: roundsArg ?? '40',
    BENCH_SYSTEMS: 'node-floor,tollgate',
    BENCH_GOVERNANCE: process.env.BENCH_GOVERNANCE ?? 'off',
    BENCH_TOLLGATE_QUIET: '0',
  },
  repoRoot,
  new Date(),
);
mkdirSync(base.rawDir, { recursive: true });

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const ms = (us: number): string => (us / 1000).toFixed(3);
const signed = (us: number): string => `${us >= 0 ? '+' : '−'}${Math.abs(us / 1000).toFixed(3)}`;
/** "+0.120 (middle half +0.080 … +0.160)" of per-round differences b[i] − a[i]. */
const rounds = (a: number[], b: number[]): string => {
  const d = b.slice(0, a.length).map((v, i) => v - (a[i] as number));
  return `${signed(quantile(d, 0.5))} (middle half ${signed(quantile(d, 0.25))} … ${signed(quantile(d, 0.75))})`;
};

const { emulator, port: upstreamPort } = await startEmulator(base);
const started: RunningSystem[] = [];
try {
  const defs = systemsFor(base);
  const floorDef = defs.find((d) => d.id === 'node-floor');
  const tollgateDef = defs.find((d) => d.id === 'tollgate');
  if (floorDef === undefined || tollgateDef === undefined) throw new Error('no node-floor or tollgate row');
  const models = ['emu', base.c1StreamModel];
  const targets: { key: string; sys: RunningSystem }[] = [{ key: 'direct', sys: { url: `http://127.0.0.1:${upstreamPort}/v1/chat/completions`, headers: [], stop: async () => undefined } }];
  targets.push({ key: 'node-floor', sys: await floorDef.start({ cfg: base, upstreamPort, models, tag: 'ab-floor' }) });
  for (const [label, root] of [['A', rootA], ['B', rootB]] as const) {
    targets.push({ key: label, sys: await tollgateDef.start({ cfg: { ...base, tollgateRoot: resolve(root) }, upstreamPort, models, tag: `ab-${label}` }) });
  }
  started.push(...targets.map((t) => t.sys));
  const res = await interleavedC1(base, targets);
  const row = (key: string): C1Row => {
    const r = res.rows.find((x) => x.name === key);
    if (r === undefined) throw new Error(`no row for ${key}`);
    return r;
  };
  const [direct, floor, a, b] = ['direct', 'node-floor', 'A', 'B'].map(row) as [C1Row, C1Row, C1Row, C1Row];
  process.stdout.write(
    `${res.rounds} rounds × (${res.block - 1} requests + ${res.streamBlock - 1} streams of ${res.streamModel}) per system, interleaved, ${res.seconds.toFixed(0)} s; governance ${base.governance.join(',')}\nA=${rootA}\nB=${rootB}\n`,
  );
  process.stdout.write('system       p50 ms  p90 ms  added p50  over floor | TTFT p50  TTFT p90  added TTFT  over floor | samples\n');
  for (const [name, r] of [['direct', direct], ['node-floor', floor], ['A', a], ['B', b]] as const) {
    const over = name === 'A' || name === 'B';
    process.stdout.write(
      `${name.padEnd(11)} ${ms(r.latencyUs.p50).padStart(7)} ${ms(r.latencyUs.p90).padStart(7)} ${signed(r.latencyUs.p50 - direct.latencyUs.p50).padStart(10)} ${(over ? signed(r.latencyUs.p50 - floor.latencyUs.p50) : '').padStart(11)} | ${ms(r.ttftUs.p50).padStart(8)} ${ms(r.ttftUs.p90).padStart(9)} ${signed(r.ttftUs.p50 - direct.ttftUs.p50).padStart(11)} ${(over ? signed(r.ttftUs.p50 - floor.ttftUs.p50) : '').padStart(11)} | ${r.latencyUs.count ?? 0} / ${r.ttftUs.count ?? 0}\n`,
    );
  }
  process.stdout.write(`B − A per round, ms: p50 ${rounds(a.roundP50Us, b.roundP50Us)}; TTFT ${rounds(a.roundTtftP50Us, b.roundTtftP50Us)}\n`);
  process.stdout.write(`A − floor per round, ms: p50 ${rounds(floor.roundP50Us, a.roundP50Us)}; TTFT ${rounds(floor.roundTtftP50Us, a.roundTtftP50Us)}\n`);
  process.stdout.write(`B − floor per round, ms: p50 ${rounds(floor.roundP50Us, b.roundP50Us)}; TTFT ${rounds(floor.roundTtftP50Us, b.roundTtftP50Us)}\n`);
} finally {
  for (const s of started) await s.stop();
  await emulator.stop();
}
