/**
 * How long a snapshot push holds the data plane's event loop, and what that does to the requests
 * of the port beside it. In one process: the admin app (createAdminApp, the real PUT /v1/snapshot:
 * express.json, envelope, validation, build, hash, swap) on one port and a stand-in public port (a
 * bare node:http server answering a small JSON body) on another, on the same event loop. From a
 * worker thread (its own loop): a steady closed-loop load of 4 connections on the public port, and
 * pushes of a snapshot compiled by the operator's compile step (test/support/snapshot-scale.ts) with
 * rising generations. Reported per size: the phases of an apply measured one by one, and during the
 * pushes the event loop's longest delay (perf_hooks monitorEventLoopDelay), the push's answer time,
 * and the public requests' latency (p50/p99/max) in flight during a push against a baseline window.
 * Loopback only, bounded (a few seconds per size).
 *
 * `formats`: the wire forms pushed, each measured on its own: `json` (one JSON document, what
 * operators from before the line form push and what the pod parses in one JSON.parse) and `lines`
 * (snapshot-lines.ts: parsed a line at a time in slices).
 *
 *   node --import tsx bench/snapshot-push-stall.ts [sizes=1000,5000] [pushes=5] [formats=json,lines]
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { createAdminApp } from '../dataplane/admin/admin-app.js';
import { expectedVersion } from '../dataplane/config/content-hash.js';
import { wireJson } from '../dataplane/config/secret-value.js';
import { SnapshotSchema } from '../dataplane/config/snapshot.js';
import { droppedField } from '../dataplane/config/unknown-fields.js';
import { buildRuntimeSnapshot } from '../dataplane/runtime/runtime-snapshot.js';
import { SnapshotStore } from '../dataplane/runtime/snapshot-store.js';
import { HttpTransport } from '../dataplane/upstream/http-transport.js';
import { compile } from '../operator/compile/compile.js';
import { bigInput } from '../test/support/snapshot-scale.js';
import { runToEnd } from '../dataplane/config/sliced.js';
import { parseLinesSteps, SNAPSHOT_LINES_TYPE, wireBodiesSteps } from '../dataplane/config/snapshot-lines.js';

const sizes = (process.argv[2] ?? '1000,5000').split(',').map(Number);
const PUSHES = Number(process.argv[3] ?? '5');
const FORMATS = (process.argv[4] ?? 'json,lines').split(',') as ('json' | 'lines')[];
const TOKEN = 'bench-admin-token';

/** The load and the pushes, on their own event loop. */
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const { publicPort, adminPort, bodies, token, contentType } = workerData;
const samples = []; // [start, end] ms, performance clock of this thread
let running = true;
function one() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port: publicPort, path: '/v1/models', agent }, (res) => {
      res.resume();
      res.on('end', () => { samples.push([t0, performance.now()]); resolve(); });
    });
    req.on('error', () => resolve());
    req.end();
  });
}
async function loop() { while (running) await one(); }
function push(body) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port: adminPort, path: '/v1/snapshot', method: 'PUT', headers: { authorization: 'Bearer ' + token, 'content-type': contentType, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => { if (res.statusCode !== 200) reject(new Error('push: ' + res.statusCode + ' ' + text)); else resolve([t0, performance.now()]); });
    });
    req.on('error', reject);
    req.end(body);
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const loops = [loop(), loop(), loop(), loop()];
  await sleep(500);
  const baseline = [performance.now()];
  await sleep(1000);
  baseline.push(performance.now());
  const pushes = [];
  for (const body of bodies) {
    pushes.push(await push(body));
    await sleep(300);
  }
  running = false;
  await Promise.all(loops);
  agent.destroy();
  parentPort.postMessage({ samples, baseline, pushes });
})().catch((err) => { parentPort.postMessage({ error: String(err && err.stack || err) }); });
`;

interface WorkerResult {
  samples: [number, number][];
  baseline: [number, number];
  pushes: [number, number][];
  error?: string;
}

const pct = (values: number[], p: number): number => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
};
const r1 = (v: number): number => Math.round(v * 10) / 10;
const median = (values: number[]): number => pct(values, 50);

/** The longest step of the line-form parse (what one slice can at least take), ms. */
function longestLineStep(lines: string): number {
  const steps = parseLinesSteps(lines);
  let longest = 0;
  for (;;) {
    const t = performance.now();
    const step = steps.next();
    longest = Math.max(longest, performance.now() - t);
    if (step.done === true) return longest;
  }
}

function phases(body: string, lines: string, reps: number): Record<string, number> {
  const runs: Record<string, number[]> = { jsonParse: [], linesParseTotal: [], linesLongestStep: [], validate: [], droppedField: [], buildIncludingValidate: [], hash: [] };
  const time = <T>(name: string, f: () => T): T => {
    const t = performance.now();
    const v = f();
    runs[name]?.push(performance.now() - t);
    return v;
  };
  const transport = new HttpTransport();
  for (let i = 0; i < reps; i++) {
    const raw = time('jsonParse', () => JSON.parse(body) as { snapshot: Record<string, unknown> });
    time('linesParseTotal', () => runToEnd(parseLinesSteps(lines)));
    runs.linesLongestStep?.push(longestLineStep(lines));
    const parsed = time('validate', () => SnapshotSchema.safeParse(raw.snapshot));
    time('droppedField', () => droppedField(raw.snapshot, parsed.data));
    time('buildIncludingValidate', () => buildRuntimeSnapshot(raw.snapshot, transport));
    time('hash', () => expectedVersion(raw.snapshot));
  }
  return Object.fromEntries(Object.entries(runs).map(([k, v]) => [`${k}Ms`, r1(median(v))]));
}

async function measure(routes: number, format: 'json' | 'lines'): Promise<Record<string, unknown>> {
  const { snapshot } = compile(bigInput(routes));
  const generation0 = Date.now();
  const wire = Array.from({ length: PUSHES }, (_, i) => runToEnd(wireBodiesSteps({ generation: generation0 + i, term: 1, snapshot })));
  const bodies = wire.map((w) => w[format]);
  if (wire[0]?.json !== wireJson({ generation: generation0, term: 1, snapshot })) throw new Error('the JSON form differs from wireJson');
  const store = new SnapshotStore(new HttpTransport());
  const admin = createAdminApp({ store, token: TOKEN, logger: pino({ level: 'silent' }), isDraining: () => false }).listen(0, '127.0.0.1');
  const models = JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] });
  const pub: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(models);
  }).listen(0, '127.0.0.1');
  await Promise.all([once(admin, 'listening'), once(pub, 'listening')]);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const worker = new Worker(workerCode, {
    eval: true,
    workerData: { publicPort: (pub.address() as AddressInfo).port, adminPort: (admin.address() as AddressInfo).port, bodies, token: TOKEN, contentType: format === 'lines' ? SNAPSHOT_LINES_TYPE : 'application/json' },
  });
  const timeout = setTimeout(() => void worker.terminate(), 120_000);
  const [result] = (await once(worker, 'message')) as [WorkerResult];
  clearTimeout(timeout);
  histogram.disable();
  await worker.terminate();
  admin.close();
  pub.close();
  if (result.error !== undefined) throw new Error(result.error);
  // The worker's clock: performance.now() of another thread has another origin, so windows are the worker's own.
  const latency = (from: number, to: number): number[] => result.samples.filter(([s, e]) => e >= from && s <= to).map(([s, e]) => e - s);
  const base = latency(result.baseline[0], result.baseline[1]);
  const during = result.pushes.flatMap(([s, e]) => latency(s, e));
  const pushMs = result.pushes.map(([s, e]) => e - s);
  return {
    routes,
    format,
    snapshotBytes: Buffer.byteLength(bodies[0] ?? ''),
    phases: phases(wire[0]?.json ?? '', wire[0]?.lines ?? '', 3),
    pushes: PUSHES,
    pushAnswerMs: { p50: r1(median(pushMs)), max: r1(Math.max(...pushMs)) },
    eventLoopDelayMaxMs: r1(histogram.max / 1e6),
    eventLoopDelayP99Ms: r1(histogram.percentile(99) / 1e6),
    publicBaselineMs: { n: base.length, p50: r1(pct(base, 50)), p99: r1(pct(base, 99)), max: r1(Math.max(...base)) },
    publicDuringPushMs: { n: during.length, p50: r1(pct(during, 50)), p99: r1(pct(during, 99)), max: r1(Math.max(...during)) },
  };
}

const results = [];
for (const n of sizes) for (const format of FORMATS) results.push(await measure(n, format));
process.stdout.write(`${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
