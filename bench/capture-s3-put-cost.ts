/**
 * CPU of the S3 capture destination's write path (issue 16): what one batch costs the thread that
 * writes it (the capture worker in the data plane), cold and warm. Builds the batch as the worker
 * does (records of the size bench/capture-ab.ts's B writes: a metadata line and a content line
 * each), then `s3Destination(...).write` against a loopback server in a child process (so that its
 * CPU is not counted), which takes every PUT and answers 200.
 *
 *   node --import tsx bench/capture-s3-put-cost.ts [batches=400] [records per batch=256]
 *
 * Prints the process CPU (all threads: gzip runs on libuv's pool) of the first write (module loading
 * and first compilation included), then the median CPU per write over rounds of 50 after a warm-up,
 * Run it under `taskset -c 1` next to another build's
 * copy, alternating, to compare.
 */
import { secret } from '../dataplane/config/secret-value.js';
import { type LineGroup, lineGroups } from '../dataplane/policy/capture/line-batch.js';
import { startHttpSink } from './lib/http-sink.js';


const batches = Number(process.argv[2] ?? 400);
const perBatch = Number(process.argv[3] ?? 256);
const sink = await startHttpSink();
const { port } = sink;
const cpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const PROMPT = 'Summarise the ticket from [EMAIL] (card [PAYMENT_CARD], phone [PHONE]) in one short sentence.';
const batch = (b: number): LineGroup[] =>
  lineGroups(Array.from({ length: perBatch }, (_, i) => {
    const requestId = `req-${b}-${i}-0123456789abcdef`;
    const time = new Date().toISOString();
    const metadata = `{"schema":"tollgate.capture.v1","requestId":"${requestId}","time":"${time}","durationMs":2,"namespace":"default","caller":{"kind":"anonymous"},"model":"emu","stream":false,"status":200,"decision":"served","policy":{"id":"default/audit","mode":"Redacted"},"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","route":"default/emu","provider":"default/emu","upstreamModel":"emu","tokens":{"input":31,"output":12,"cached":0},"costUsd":0.000093}\n`;
    const content = `{"requestId":"${requestId}","time":"${time}","namespace":"default","content":{"request":{"messages":[{"role":"user","content":"${PROMPT}"}]},"response":{"choices":[{"index":0,"message":{"role":"assistant","content":"The customer asks for a refund of order ${b * perBatch + i}."},"finish_reason":"stop"}]}}}\n`;
    return { policyId: 'default/audit', namespace: 'default', time, metadata: Buffer.from(metadata), content: Buffer.from(content) };
  }));
const t0 = cpu();
const { s3Destination } = await import('../dataplane/policy/capture/destinations/s3.js');
const writer = s3Destination({ type: 's3', name: 'bucket', endpoint: `http://127.0.0.1:${port}`, bucket: 'captures', region: 'us-east-1', prefix: 'bench', accessKeyId: secret('AKIDEXAMPLE'), secretAccessKey: secret('wJalrXUtnFEMI/K7MDENG'), batchIntervalMs: 1000, maxBatchRecords: perBatch });
const first = batch(0);
const t1 = cpu();
await writer.write(first);
const t2 = cpu();
console.log(`first write: ${((t2 - t1) / 1000).toFixed(1)} ms CPU (import ${((t1 - t0) / 1000).toFixed(1)} ms)`);
const warm = Math.min(100, Math.floor(batches / 4));
for (let b = 1; b <= warm; b++) await writer.write(batch(b));
const perWrite: number[] = [];
const ready = Array.from({ length: 50 }, (_, i) => batch(i));
for (let done = 0; done < batches - warm; done += 50) {
  const start = cpu();
  for (const records of ready) await writer.write(records);
  perWrite.push((cpu() - start) / ready.length);
}
perWrite.sort((a, b) => a - b);
const median = perWrite[Math.floor(perWrite.length / 2)]!;
console.log(`warm: ${(median / 1000).toFixed(3)} ms CPU per write of ${perBatch} records (${(median / perBatch).toFixed(2)} µs per record; rounds ${perWrite.map((v) => (v / 1000).toFixed(2)).join(' ')})`);
sink.stop();
