/**
 * Capture's CPU per record in the first records after a DataPolicy is applied (issue 16: capture-ab
 * at its default 2 s warm-up shows B/A 0.74, 0.83 after 20 s), by thread, build against build:
 *
 *   nice -n 10 taskset -c 0 node --import tsx bench/capture-warm-start.ts <root>[,<root>...] [repetitions=6]
 *
 * Each repetition starts, per build root (bench/build-export.sh; order alternating), a fresh process
 * (bench/lib/capture-warm-child.mjs: nothing compiled yet, as in a gateway that has just started) that
 * applies capture-ab's policy (Redacted at 100 %, every built-in detector, S3 batches of 1 s / 1,000
 * records to a loopback sink in another process) through the build's CaptureService with its capture
 * worker, waits until the warm-up is done (CPU idle), then records capture-ab's record at
 * CAPTURE_WARM_RATE records/s (default 4,000, in slices of 25) and reads every thread's CPU (schedstat,
 * ns) at the end of each window of CAPTURE_WARM_WINDOWS thousand records (default 2,5,10,20,40): µs
 * per record of the request thread (capture's own share of it), the capture worker, and the rest (V8's
 * compiler and GC threads, libuv's pool). CPU time per record, not throughput: it holds on a shared machine.
 * Medians over repetitions. The warm-up's own CPU (from apply until the process is idle) is printed in ms.
 * The measured processes run under `nice -n 10 taskset -c CAPTURE_WARM_CORE` (default 1: the capture
 * worker shares the request thread's core, as in a gateway); this driver and the sink should run on the
 * other core (as above), or the sink answers late and records are dropped (reported when they are).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHttpSink } from './lib/http-sink.js';

const [rootsArg, repsArg] = process.argv.slice(2);
if (rootsArg === undefined) throw new Error('usage: capture-warm-start.ts <root>[,<root>...] [repetitions=6]');
const roots = rootsArg.split(',').map((r) => resolve(r));
for (const root of roots) if (!existsSync(join(root, 'dist/dataplane/policy/capture/capture-service.js'))) throw new Error(`${root}: no build (bench/build-export.sh)`);
const reps = Number(repsArg ?? 6);
const windows = process.env.CAPTURE_WARM_WINDOWS ?? '2,5,10,20,40';
const rate = process.env.CAPTURE_WARM_RATE ?? '4000';
const core = process.env.CAPTURE_WARM_CORE ?? '1';
const child = fileURLToPath(new URL('./lib/capture-warm-child.mjs', import.meta.url));

interface Cost {
  main: number;
  worker: number;
  rest: number;
}
interface ChildResult {
  warm: Cost;
  windows: Cost[];
  written: number;
  dropped: Record<string, number>;
}

const names = windows.split(',').map((k, i, all) => `${i === 0 ? 0 : all[i - 1]}-${k}k`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (c: Cost): string => `${c.main.toFixed(1)}/${c.worker.toFixed(1)}/${c.rest.toFixed(1)}`;

const sink = await startHttpSink();
const results = new Map<string, ChildResult[]>(roots.map((r) => [r, []]));
try {
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? roots : [...roots].reverse();
    for (const root of order) {
      const out = execFileSync('taskset', ['-c', core, 'nice', '-n', '10', process.execPath, child, root, String(sink.port), windows, rate], { encoding: 'utf8', timeout: 120_000 });
      const r = JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
      results.get(root)!.push(r);
      process.stdout.write(`rep ${rep + 1} ${root.split('/').pop()}: warm-up ${fmt(r.warm)} ms; ${r.windows.map((w, i) => `${names[i]} ${fmt(w)}`).join(', ')} (main/worker/rest µs per record)${Object.keys(r.dropped).length > 0 ? `; written ${r.written}, dropped ${JSON.stringify(r.dropped)}` : ''}\n`);
    }
  }
} finally {
  sink.stop();
}
process.stdout.write(`medians of ${reps} (request thread / capture worker / rest; warm-up in ms of CPU, windows in µs per record; all threads in brackets):\n`);
for (const root of roots) {
  const rs = results.get(root)!;
  const med = (pick: (r: ChildResult) => Cost): string => {
    const cs = rs.map(pick);
    const m = { main: median(cs.map((c) => c.main)), worker: median(cs.map((c) => c.worker)), rest: median(cs.map((c) => c.rest)) };
    return `${fmt(m)} [${median(cs.map((c) => c.main + c.worker + c.rest)).toFixed(1)}]`;
  };
  process.stdout.write(`  ${root.split('/').pop()}: warm-up ${med((r) => r.warm)}; ${names.map((n, i) => `${n} ${med((r) => r.windows[i]!)}`).join('; ')}\n`);
}
