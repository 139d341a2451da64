/**
 * Young-generation bytes per call of the capture worker's content work (issue 16), per source tree:
 * redact() of capture-ab's prompt and of a short value ("user"), and contentLine() plus its Buffer
 * for capture-ab's record. A count, not a time: it does not move with machine load. What the worker
 * allocates is collected by scavenges on the V8 platform threads (capture-ab's "other threads").
 *
 *   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 --import tsx \
 *     bench/capture-content-alloc.ts <tree> [<tree> ...]
 *
 * New space's used size around a loop of 2,000 calls after a full GC, median of the rounds no
 * scavenge fell into (the 64 MiB semi-space keeps them out). A tree is a directory holding
 * dataplane/ as TypeScript source (bench/build-export.sh, or a git archive).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { loadCaptureTree, PROMPT, REQUEST_JSON as request, RESPONSE_JSON as response } from './lib/capture-tree.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const newSpace = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? 0;

async function perCall(name: string, f: () => unknown, n = 2_000): Promise<void> {
  for (let i = 0; i < 20_000; i++) f();
  const xs: number[] = [];
  for (let r = 0; r < 7; r++) {
    gc!();
    await new Promise((ok) => setTimeout(ok, 5));
    const before = [gcs, newSpace()] as const;
    for (let i = 0; i < n; i++) f();
    const after = newSpace();
    if (gcs === before[0]) xs.push((after - before[1]) / n);
  }
  xs.sort((a, b) => a - b);
  process.stdout.write(`${name.padEnd(60)} ${xs.length > 0 ? xs[xs.length >> 1]!.toFixed(0) : 'n/a'} B/call (${xs.length} clean rounds)\n`);
}

const contentHead = '{"requestId":"req-1-0123456789abcdef","time":"2026-12-06T01:00:00.000Z","namespace":"default","content":';

for (const root of process.argv.slice(2)) {
  const { detectors, policy, contentLine } = await loadCaptureTree(root);
  const parts = { policyId: 'default/audit', namespace: '', time: '', mode: 'Redacted', metadata: '', contentHead, request, response };
  await perCall(`${root}: redact prompt`, () => detectors.redact(PROMPT));
  await perCall(`${root}: redact "user"`, () => detectors.redact('user'));
  await perCall(`${root}: contentLine + Buffer`, () => Buffer.from(contentLine(parts, policy) ?? ''));
}
