/**
 * How long one config change holds the operator's event loop: the compile of N ModelRoutes (the
 * generated config of test/support/snapshot-scale.ts) and the serialisation of the envelope's wire
 * forms, run the way the reconciler runs them. `before`: compile() and one JSON.stringify of the
 * envelope (wireJson), each in one piece. `after`: compileSteps and wireBodiesSteps through
 * runSliced (10 ms slices, setImmediate between them). Reported: the total time, the event loop's
 * longest delay (perf_hooks monitorEventLoopDelay, resolution 1 ms) and the longest slice measured
 * between the pauses. In one process, no I/O; bounded by the sizes given.
 *
 *   node --import tsx bench/operator-compile-stall.ts [sizes=1000,5000] [repeats=3]
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as immediate } from 'node:timers/promises';
import { compile, compileSteps } from '../operator/compile/compile.js';
import { wireJson } from '../dataplane/config/secret-value.js';
import { runSliced } from '../dataplane/config/sliced.js';
import { wireBodiesSteps } from '../dataplane/config/snapshot-lines.js';
import { bigInput } from '../test/support/snapshot-scale.js';

const sizes = (process.argv[2] ?? '1000,5000').split(',').map(Number);
const REPEATS = Number(process.argv[3] ?? '3');
const r1 = (v: number): number => Math.round(v * 10) / 10;
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;

async function once(kind: 'before' | 'after', routes: number): Promise<{ totalMs: number; loopDelayMaxMs: number; longestSliceMs: number }> {
  const input = bigInput(routes);
  await immediate();
  const h = monitorEventLoopDelay({ resolution: 1 });
  // A turn of the loop first, so the histogram has a baseline.
  h.enable();
  await new Promise((r) => setTimeout(r, 20));
  let longest = 0;
  const t0 = performance.now();
  if (kind === 'before') {
    const { snapshot } = compile(input);
    wireJson({ generation: 1, term: 1, snapshot });
    longest = performance.now() - t0;
  } else {
    let last = performance.now();
    const pause = async (): Promise<void> => {
      longest = Math.max(longest, performance.now() - last);
      await immediate();
      last = performance.now();
    };
    const slices = { sliceMs: 10, pause };
    const { snapshot } = await runSliced(compileSteps(input), slices);
    await runSliced(wireBodiesSteps({ generation: 1, term: 1, snapshot }), slices);
    longest = Math.max(longest, performance.now() - last);
  }
  const totalMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 20));
  h.disable();
  return { totalMs, loopDelayMaxMs: h.max / 1e6, longestSliceMs: longest };
}

const results = [];
// JIT warm-up, not reported.
await once('before', 200);
await once('after', 200);
for (const routes of sizes) {
  for (const kind of ['before', 'after'] as const) {
    const runs = [];
    for (let i = 0; i < REPEATS; i++) runs.push(await once(kind, routes));
    results.push({
      routes,
      kind,
      runs: REPEATS,
      totalMs: r1(median(runs.map((r) => r.totalMs))),
      loopDelayMaxMs: { median: r1(median(runs.map((r) => r.loopDelayMaxMs))), max: r1(Math.max(...runs.map((r) => r.loopDelayMaxMs))) },
      longestSliceMs: { median: r1(median(runs.map((r) => r.longestSliceMs))), max: r1(Math.max(...runs.map((r) => r.longestSliceMs))) },
    });
  }
}
process.stdout.write(`${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
