/**
 * The capture worker's per-record content work (issue 16), two source trees in one process,
 * interleaved: redact() of single texts with every built-in detector, and contentLine() plus the
 * content line's Buffer for capture-ab's record (its prompt holds an e-mail address, a card and a
 * phone number; its parts decoded from a buffer per record, as the worker has them). CPU time per
 * call (process.cpuUsage), median of the rounds after two warm-up rounds; the two trees alternate
 * round by round, so machine load falls on both alike. Checks that both give the same output first.
 *
 *   node --import tsx bench/capture-content-ab.ts <tree A> <tree B> [rounds=12]
 *
 * A tree is any directory holding dataplane/ as TypeScript source: an export
 * (bash bench/build-export.sh <sha> → .cache/bench/tollgate-<sha>) or a git archive. Pin it:
 * `nice -n 10 taskset -c 1`. bench/results/capwork-s11-2026-12-06.md has its numbers.
 */
import { interleavedCpuMedians } from './lib/interleaved-cpu.js';
import { ANSWER, loadCaptureTree, PROMPT, REQUEST_JSON, RESPONSE_JSON, type TreeDetectors } from './lib/capture-tree.js';

interface Tree {
  name: string;
  detectors: TreeDetectors;
  line(i: number): Buffer;
}

const [rootA, rootB] = process.argv.slice(2, 4);
if (rootA === undefined || rootB === undefined) throw new Error('usage: capture-content-ab.ts <tree A> <tree B> [rounds]');
const rounds = Number(process.argv[4] ?? 12);

const bytes = Buffer.from(REQUEST_JSON + RESPONSE_JSON);
const requestBytes = Buffer.byteLength(REQUEST_JSON);

async function tree(root: string): Promise<Tree> {
  const { detectors, policy, contentLine } = await loadCaptureTree(root);
  const line = (i: number): Buffer => {
    const parts = {
      policyId: 'default/audit',
      namespace: '',
      time: '',
      mode: 'Redacted',
      metadata: '',
      contentHead: `{"requestId":"req-${i}-0123456789abcdef","time":"2026-12-06T01:00:00.000Z","namespace":"default","content":`,
      request: bytes.toString('utf8', 0, requestBytes),
      response: bytes.toString('utf8', requestBytes),
    };
    return Buffer.from(contentLine(parts, policy)!);
  };
  return { name: root, detectors, line };
}

const trees = [await tree(rootA), await tree(rootB)] as const;
const fill = (unit: string, size: number): string => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
const prose = 'The quarterly report covers 12 regions and 2024 revenue; version 3.2 shipped with 41 fixes, and the team met on 2024-06-03 to plan the next steps for the rollout. ';
const cases: [string, number, (t: Tree, i: number) => unknown][] = [
  ['contentLine + Buffer (bench record)', 20_000, (t, i) => t.line(i)],
  ['redact: bench prompt', 20_000, (t) => t.detectors.redact(PROMPT)],
  ['redact: bench answer', 50_000, (t) => t.detectors.redact(ANSWER)],
  ['redact: 1 KB prose with digits', 3_000, (t) => t.detectors.redact(fill(prose, 1_000))],
  ['redact: 100 KB prose with digits', 40, (t) => t.detectors.redact(fill(prose, 100_000))],
  ['redact: 100 KB with some PII', 40, (t) => t.detectors.redact(fill(`${prose.repeat(12)}Contact jane.doe@example.com, card 4111 1111 1111 1111, call +1 415 555 2671 from 10.1.2.3. `, 100_000))],
  ['redact: 100 KB dense PII', 20, (t) => t.detectors.redact(fill('mail a.b@example.com card 4111111111111111 ', 100_000))],
];

const same = (x: unknown): string => (Buffer.isBuffer(x) ? x.toString() : JSON.stringify(x));
process.stdout.write(`A ${trees[0].name}\nB ${trees[1].name}\n`);
for (const [name, n, run] of cases) {
  if (same(run(trees[0], 1)) !== same(run(trees[1], 1))) throw new Error(`${name}: the trees' outputs differ`);
  const [a, b] = interleavedCpuMedians(trees, n, rounds, run);
  process.stdout.write(`${name.padEnd(36)} A ${a.toFixed(3).padStart(9)} µs  B ${b.toFixed(3).padStart(9)} µs  B/A ${(b / a).toFixed(3)}\n`);
}
