// Child of bench/capture-warm-start.ts: one fresh process (fresh isolates, nothing compiled) of a
// build's capture path, its CPU per record by thread in windows of records after the policy is applied.
//   node bench/lib/capture-warm-child.mjs <build root> <sink port> <windows, e.g. 2,5,10,20,40 (thousands)> <records/s>
// Prints one JSON line: the warm-up's CPU (ns per thread class, from apply until idle) and per window
// µs per record of the request thread, the capture worker thread and every other thread.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { captureSampleInput, captureSamplePolicy } from './capture-sample.mjs';

const [root, portArg, windowsArg, rateArg] = process.argv.slice(2);
const dist = `${root}/dist/dataplane`;
const { CaptureService } = await import(`${dist}/policy/capture/capture-service.js`);
const { BUILTIN_DETECTORS } = await import(`${dist}/policy/detectors/index.js`);
const { secret } = await import(`${dist}/config/secret-value.js`);
const bounds = windowsArg.split(',').map((k) => Number(k) * 1000);
const rate = Number(rateArg);
const slice = 25;

// capture-ab's destination: S3, batches of 1 s / 1,000 records (here to a loopback sink that takes every PUT).
const policy = captureSamplePolicy('Redacted', BUILTIN_DETECTORS, [
  { type: 's3', name: 'bucket', endpoint: `http://127.0.0.1:${portArg}`, bucket: 'captures', region: 'us-east-1', prefix: 'bench', accessKeyId: secret('AKIDEXAMPLE'), secretAccessKey: secret('wJalrXUtnFEMI/K7MDENG'), batchIntervalMs: 1000, maxBatchRecords: 1000 },
]);
const input = captureSampleInput;

/** CPU ns per thread (schedstat), by thread id. */
function threads() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(Number(tid), Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      // ended
    }
  }
  return out;
}

let exported = 0;
const dropped = {};
const metrics = { exported: (_l, n) => (exported += n), dropped: (reason, _l, n) => (dropped[reason] = (dropped[reason] ?? 0) + n), ready: () => undefined };
const svc = new CaptureService({ worker: true, metrics });
const before = threads();
svc.apply([policy]);
// The worker starts and warms on apply; wait until it is idle (its CPU stops growing).
let last = threads();
for (let i = 0; i < 100; i++) {
  await sleep(250);
  const now = threads();
  const grew = [...now].reduce((s, [tid, ns]) => s + ns - (last.get(tid) ?? 0), 0);
  last = now;
  if (i >= 3 && grew < 2e6) break;
}
const worker = [...last.keys()].filter((tid) => !before.has(tid)).sort((a, b) => last.get(b) - last.get(a))[0];
const split = (a, b, n) => {
  const d = (tid) => (b.get(tid) ?? 0) - (a.get(tid) ?? 0);
  let rest = 0;
  for (const tid of b.keys()) if (tid !== process.pid && tid !== worker) rest += d(tid);
  return { main: d(process.pid) / 1000 / n, worker: worker === undefined ? 0 : d(worker) / 1000 / n, rest: rest / 1000 / n };
};
const warm = split(before, last, 1000); // ms
const decide = (i) => svc.decide({ kind: 'anonymous', id: 'anonymous' }, 'default/emu', `req-${i}`, () => undefined);
const windows = [];
let snap = threads();
let from = 0;
if (process.env.CAPTURE_WARM_MARK === "1") process.stdout.write("=== traffic begins\n");
const start = performance.now();
for (let i = 0; i < bounds[bounds.length - 1]; i += slice) {
  for (let k = i; k < i + slice; k++) svc.record(decide(k), input(k));
  const due = start + ((i + slice) * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 1) await sleep(wait);
  if (i + slice === bounds[windows.length]) {
    // The records of the window through the worker (its batches are 50 ms apart) before the window is read.
    await sleep(60);
    const now = threads();
    windows.push(split(snap, now, i + slice - from));
    snap = now;
    from = i + slice;
  }
}
await svc.drain(30_000);
// Every record written, or the drops said (a bench on a loaded machine can see the sink answer late).
process.stdout.write(`${JSON.stringify({ warm, windows, written: exported, dropped })}\n`);
process.exit(0);
