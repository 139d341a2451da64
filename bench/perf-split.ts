/**
 * Where two gateways' CPU went, per request, from `perf script -F tid,ip,sym,dso` of each (issue 16:
 * what capture adds, and where). bench/perf-capture-ab.sh records both gateways of one capture-ab
 * round and runs this; by hand:
 *
 *   node --import tsx bench/perf-split.ts <A.txt> <A req/s> <B.txt> <B req/s> [seconds=6] [top=25]
 *
 * A sample is `cpu-clock` at ~997 Hz, so samples × 1.003 ms / (req/s × seconds) is µs per request.
 * Prints, for each side: the request thread, the capture worker thread (a stack through
 * node::worker::Worker::Run), V8's platform threads by what they ran (scavenges, marking, sweeping,
 * compiling), and the rest; then the request thread's self time by module (the innermost frame of
 * our code, node's or a dependency's; native-only stacks as one row), B − A; then the capture
 * worker's self time by function. Needs node's `--perf-basic-prof` for JavaScript names.
 */
import { readFileSync } from 'node:fs';

interface Sample {
  tid: number;
  /** Innermost first, as perf script prints them. */
  frames: string[];
}

const [aFile, aRate, bFile, bRate, secondsArg, topArg] = process.argv.slice(2);
if (aFile === undefined || aRate === undefined || bFile === undefined || bRate === undefined) {
  throw new Error('usage: perf-split.ts <A.txt> <A req/s> <B.txt> <B req/s> [seconds=6] [top=25]');
}
const seconds = Number(secondsArg ?? 6);
const top = Number(topArg ?? 25);
const SAMPLE_MS = 1000 / 997;

function load(file: string): Sample[] {
  const samples: Sample[] = [];
  let current: Sample | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') {
      if (current !== undefined) samples.push(current);
      current = undefined;
    } else if (!line.startsWith('\t')) {
      current = { tid: Number(line.trim().split(/\s+/)[0]), frames: [] };
    } else if (current !== undefined) {
      // "<ip> <symbol> (<dso>)": the symbol, without the dso and the build's own path prefix.
      const symbol = line.trim().replace(/^[0-9a-f]+ /, '').replace(/ \([^()]*\)$/, '');
      current.frames.push(symbol.replace(/file:\/\/\S*?\/dist\//, 'dist/').replace(/\/\S*?\/node_modules\//, 'node_modules/'));
    }
  }
  if (current !== undefined) samples.push(current);
  return samples;
}

const HELPER_KINDS: [string, RegExp][] = [
  ['scavenge', /Scaveng/],
  ['marking', /ConcurrentMarking|Marking/],
  ['sweeping', /Sweep/],
  ['compiling', /compiler::|Compil/],
];

type Kind = 'request thread' | 'capture worker' | 'V8 platform' | 'other threads';

function kindOf(sample: Sample, main: number): Kind {
  if (sample.tid === main) return 'request thread';
  if (sample.frames.some((f) => f.includes('node::worker::Worker::Run'))) return 'capture worker';
  if (sample.frames.some((f) => f.includes('PlatformWorkerThread'))) return 'V8 platform';
  return 'other threads';
}

/** The module of a sample's innermost frame of JavaScript code (ours, node's or a dependency's). */
function moduleOf(sample: Sample): string {
  for (const f of sample.frames) {
    const m = /(dist\/\S+?\.js|node_modules\/\S+?\.js|node:[\w/_]+)/.exec(f);
    if (m !== null) return m[1]!;
    if (f.startsWith('JS:')) return '(other JavaScript)';
  }
  return '(native only)';
}

/** The innermost JavaScript function of a sample, with its file. */
function functionOf(sample: Sample): string {
  const f = sample.frames.find((frame) => frame.startsWith('JS:') || frame.startsWith('RegExp:'));
  if (f === undefined) return `(native) ${sample.frames[0] ?? '?'}`;
  return f.replace(/:\d+:\d+$/, '').slice(0, 120);
}

function split(file: string, rate: number): { byKind: Map<string, number>; byModule: Map<string, number>; workerFunctions: Map<string, number> } {
  const samples = load(file);
  const counts = new Map<number, number>();
  for (const s of samples) counts.set(s.tid, (counts.get(s.tid) ?? 0) + 1);
  const main = [...counts.entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? -1;
  const perRequest = SAMPLE_MS * 1000 / (rate * seconds);
  const add = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + perRequest);
  const byKind = new Map<string, number>();
  const byModule = new Map<string, number>();
  const workerFunctions = new Map<string, number>();
  for (const s of samples) {
    const kind = kindOf(s, main);
    add(byKind, kind);
    if (kind === 'V8 platform') add(byKind, `  ${HELPER_KINDS.find(([, re]) => s.frames.some((f) => re.test(f)))?.[0] ?? 'other'}`);
    if (kind === 'request thread') add(byModule, moduleOf(s));
    if (kind === 'capture worker') add(workerFunctions, functionOf(s));
  }
  return { byKind, byModule, workerFunctions };
}

const a = split(aFile, Number(aRate));
const b = split(bFile, Number(bRate));
const fmt = (n: number | undefined): string => (n ?? 0).toFixed(2).padStart(7);

console.log(`µs per request (A ${aRate} req/s, B ${bRate} req/s, ${seconds} s)`);
console.log(`${'thread'.padEnd(24)}      A       B   B − A`);
const kinds = ['request thread', 'capture worker', 'V8 platform', ...HELPER_KINDS.map(([k]) => `  ${k}`), '  other', 'other threads'];
for (const k of kinds) console.log(`${k.padEnd(24)}${fmt(a.byKind.get(k))} ${fmt(b.byKind.get(k))} ${fmt((b.byKind.get(k) ?? 0) - (a.byKind.get(k) ?? 0))}`);

console.log(`\nrequest thread, self time by module, B − A (largest ${top} each way)`);
const modules = [...new Set([...a.byModule.keys(), ...b.byModule.keys()])].map((m) => ({ m, d: (b.byModule.get(m) ?? 0) - (a.byModule.get(m) ?? 0) })).sort((x, y) => y.d - x.d);
const rows = [...modules.slice(0, top), ...modules.slice(Math.max(top, modules.length - 5))];
for (const { m, d } of rows) console.log(`${fmt(d)}   A ${fmt(a.byModule.get(m))}  B ${fmt(b.byModule.get(m))}  ${m}`);

console.log(`\ncapture worker (B), self time by innermost JavaScript function (largest ${top})`);
for (const [f, v] of [...b.workerFunctions.entries()].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${fmt(v)}  ${f}`);
