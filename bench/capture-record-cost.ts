/**
 * CPU per capture record (issue 16), by thread: the request thread's share (what a record takes
 * from serving) and the whole process's (worker thread, GC helpers, thread pool), for records
 * shaped on the request thread (`worker: false`) and on the capture worker thread, in rounds that
 * alternate the two. CPU time, not wall time, so it holds on a busy machine better than req/s do.
 *
 *   node --import tsx bench/capture-record-cost.ts [records=20000] [rounds=3]
 *
 * Each record is the one bench/capture-ab.ts's B records (its prompt, with an e-mail address, a card
 * and a phone number, and the emulator's answer), under a Redacted policy with every built-in
 * detector (CAPTURE_COST_MODE=Metadata for metadata only), offered at ~2,000 records/s in slices
 * of 20, as a gateway would between its other work; the destination takes every batch and drops
 * it. CAPTURE_COST_DESTINATION=s3 writes to the real S3 destination instead (written by the capture
 * worker itself, as in the data plane; batches of up to 1,000 records or 200 ms) against a loopback
 * server in a child process that takes every PUT (its CPU is not counted): the write path's gzip,
 * signing and PUT included. CAPTURE_COST_ONLY=worker (or inline) runs only that path's rounds. Pin it: `taskset -c 1` for one core (the
 * worker then competes with the request thread), `taskset -c 0,1` for two.
 */
import { readFileSync } from 'node:fs';
import type { DataPolicyConfig } from '../dataplane/config/data-policy-config.js';
import { CaptureService } from '../dataplane/policy/capture/capture-service.js';
import { BUILTIN_DETECTORS } from '../dataplane/policy/detectors/index.js';
import { secret } from '../dataplane/config/secret-value.js';
import { captureSampleInput, captureSamplePolicy } from './lib/capture-sample.mjs';
import { startHttpSink } from './lib/http-sink.js';

const toS3 = process.env.CAPTURE_COST_DESTINATION === 's3';
const sink = toS3 ? await startHttpSink() : undefined;
const sinkPort = sink?.port ?? 0;

const records = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);
const mode = process.env.CAPTURE_COST_MODE === 'Metadata' ? 'Metadata' : 'Redacted';

const policy: DataPolicyConfig = captureSamplePolicy(
  mode,
  BUILTIN_DETECTORS,
  toS3
    ? [{ type: 's3', name: 'bucket', endpoint: `http://127.0.0.1:${sinkPort}`, bucket: 'captures', region: 'us-east-1', prefix: 'bench', accessKeyId: secret('AKIDEXAMPLE'), secretAccessKey: secret('wJalrXUtnFEMI/K7MDENG'), batchIntervalMs: 200, maxBatchRecords: 1000 }]
    : [{ type: 'localDirectory', name: 'bucket', path: '/unused' }],
);

const input = captureSampleInput;

/** utime + stime in clock ticks (10 ms): of the request thread (the main thread's task), or of the whole process. */
function ticks(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
const mainThread = `/proc/self/task/${process.pid}/stat`;
const wholeProcess = '/proc/self/stat';

async function run(worker: boolean): Promise<{ main: number; all: number }> {
  let written = 0;
  const count = { exported: (_label: string, n: number) => (written += n), dropped: () => undefined, ready: () => undefined };
  const svc = toS3
    ? new CaptureService({ worker, metrics: count })
    : new CaptureService({ worker, destinations: () => ({ write: (batch) => ((written += batch.length), Promise.resolve()) }), maxBatch: 1000, flushIntervalMs: 200 });
  svc.apply([policy]);
  const decide = (i: number) => svc.decide({ kind: 'anonymous', id: 'anonymous' }, 'default/emu', `req-${i}`, () => undefined)!;
  // Warm up outside the measurement, until the warm-up records are through (the worker started, the code compiled).
  for (let i = 0; i < 2_000; i++) {
    svc.record(decide(i), input(i));
    if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  while (written < 2_000) await new Promise((r) => setTimeout(r, 50));
  written = 0;
  const inputs = Array.from({ length: records }, (_, i) => input(i));
  const { readdirSync } = await import('node:fs');
  const per = () => Object.fromEntries(readdirSync('/proc/self/task').map((t) => { try { return [`${t}:${readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim()}`, ticks(`/proc/self/task/${t}/stat`)]; } catch { return [t, 0]; } }));
  const per0 = per();
  const main0 = ticks(mainThread);
  const all0 = ticks(wholeProcess);
  for (let i = 0; i < records; i += 20) {
    for (let k = i; k < Math.min(records, i + 20); k++) svc.record(decide(k), inputs[k]!);
    await new Promise((r) => setTimeout(r, 10));
  }
  await svc.drain(60_000);
  const main = ((ticks(mainThread) - main0) * 10_000) / records;
  const all = ((ticks(wholeProcess) - all0) * 10_000) / records;
  const per1 = per();
  if (process.env.THREADS) console.log(Object.entries(per1).map(([k, v]) => `${k}=${v - (per0[k] ?? 0)}`).filter((x) => !x.endsWith('=0')).join(' '));
  if (written < records) throw new Error(`${written} of ${records} records written`);
  return { main, all };
}

const results: Record<'inline' | 'worker', { main: number; all: number }[]> = { inline: [], worker: [] };
const only = process.env.CAPTURE_COST_ONLY;
for (let r = 0; r < rounds; r++) {
  for (const worker of (r % 2 === 0 ? [false, true] : [true, false]).filter((w) => only === undefined || only === (w ? 'worker' : 'inline'))) {
    const res = await run(worker);
    results[worker ? 'worker' : 'inline'].push(res);
    process.stdout.write(`round ${r + 1} ${worker ? 'worker' : 'inline'}: request thread ${res.main.toFixed(1)} µs/record, all threads ${res.all.toFixed(1)} µs/record\n`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
for (const [name, rows] of Object.entries(results).filter(([, rows]) => rows.length > 0)) {
  process.stdout.write(`${mode} ${name}: median request thread ${median(rows.map((x) => x.main)).toFixed(1)} µs/record, all threads ${median(rows.map((x) => x.all)).toFixed(1)} µs/record\n`);
}
sink?.stop();
