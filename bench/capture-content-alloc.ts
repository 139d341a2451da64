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
import { resolve } from 'node:path';
import v8 from 'node:v8';

interface Detectors {
  redact(text: string): unknown;
}

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

const PROMPT = 'Summarise the ticket from ann.lee@example.com (card 4111 1111 1111 1111, phone +44 20 7946 0958) in one short sentence.';
const ANSWER = 'The customer asks for a one-sentence summary of their ticket.';
const request = JSON.stringify({ messages: [{ role: 'user', content: PROMPT }] });
const response = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: ANSWER }, finish_reason: 'stop' }] });
const contentHead = '{"requestId":"req-1-0123456789abcdef","time":"2026-12-06T01:00:00.000Z","namespace":"default","content":';

for (const root of process.argv.slice(2)) {
  const dir = resolve(root);
  const d = (await import(`${dir}/dataplane/policy/detectors/index.ts`)) as {
    BUILTIN_DETECTORS: readonly string[];
    compileDetectors(spec: { detectors: readonly string[]; customPatterns: [] }): { ok: true; detectors: Detectors } | { ok: false };
  };
  const { contentLine } = (await import(`${dir}/dataplane/policy/capture/serialise-capture.ts`)) as { contentLine(parts: object, policy: object): string | undefined };
  const compiled = d.compileDetectors({ detectors: d.BUILTIN_DETECTORS, customPatterns: [] });
  if (!compiled.ok) throw new Error(`${root}: detectors do not compile`);
  const config = { id: 'default/audit', mode: 'Redacted', parts: { request: true, response: true }, maxRecordBytes: 262_144, redaction: { detectors: d.BUILTIN_DETECTORS, customPatterns: [] } };
  const policy = { config, detectors: compiled.detectors };
  const parts = { policyId: 'default/audit', namespace: '', time: '', mode: 'Redacted', metadata: '', contentHead, request, response };
  await perCall(`${root}: redact prompt`, () => compiled.detectors.redact(PROMPT));
  await perCall(`${root}: redact "user"`, () => compiled.detectors.redact('user'));
  await perCall(`${root}: contentLine + Buffer`, () => Buffer.from(contentLine(parts, policy) ?? ''));
}
