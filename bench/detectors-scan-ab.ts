/**
 * redact() with every built-in detector, two builds of the detectors in one process, interleaved:
 * capture-ab's prompt and answer, short values with a digit, 1 KB of prose with digits, and 100 KB
 * texts (issue 16: p50 ≤ 2 ms).
 * CPU time per call (process.cpuUsage), median of the rounds after two warm-up rounds; the two
 * builds alternate round by round (A,B then B,A), so machine load falls on both alike. Checks that
 * both give the same output for every case first.
 *
 *   node --import tsx bench/detectors-scan-ab.ts <dir A> <dir B> [rounds=21]
 *
 * A dir holds dataplane/policy/detectors/index.js (a tsc build, `bash bench/build-detectors.sh
 * <commit>`: tsx serves .ts modules with their exports as getters, which costs a call on every
 * imported function) or index.ts. Pin it: `nice -n 10 taskset -c 1`.
 * bench/results/scan-s13-2026-12-06.md has its numbers.
 */
import { loadTreeDetectors, PROMPT } from './lib/capture-tree.js';
import { interleavedCpuMedians } from './lib/interleaved-cpu.js';

const [dirA, dirB] = process.argv.slice(2, 4);
if (dirA === undefined || dirB === undefined) throw new Error('usage: detectors-scan-ab.ts <dir A> <dir B> [rounds]');
const rounds = Number(process.argv[4] ?? 21);

const builds = [await loadTreeDetectors(dirA), await loadTreeDetectors(dirB)] as const;
// Flat strings, made once: the cases time redact() only.
const fill = (unit: string, size: number): string => JSON.parse(JSON.stringify(unit.repeat(Math.ceil(size / unit.length)).slice(0, size))) as string;
const prose = 'The quarterly report covers 12 regions and 2024 revenue; version 3.2 shipped with 41 fixes, and the team met on 2024-06-03 to plan the next steps for the rollout. ';
const somePii = `${prose.repeat(12)}Contact jane.doe@example.com, card 4111 1111 1111 1111, call +1 415 555 2671 from 10.1.2.3. `;
const cases: [string, number, string][] = [
  ['capture-ab prompt', 20_000, PROMPT],
  ['capture-ab answer', 100_000, 'Hello from the benchmark upstream.'],
  // Short values with a digit take the whole path (each string value of a record is redacted).
  ['model name gpt-4o-mini', 100_000, 'gpt-4o-mini'],
  ['timestamp', 100_000, '2024-06-03T10:00:00Z'],
  ['1 KB prose with digits', 3_000, fill(prose, 1_000)],
  ['1 KB prose with digits and PII', 3_000, fill(somePii.slice(-700) + prose, 1_000)],
  ['100 KB with some PII', 40, fill(somePii, 100_000)],
  ['100 KB prose with digits', 40, fill(prose, 100_000)],
];

process.stdout.write(`A ${dirA}\nB ${dirB}\nµs per redact (CPU), median of ${rounds} interleaved rounds\n`);
for (const [name, n, text] of cases) {
  if (JSON.stringify(builds[0].redact(text)) !== JSON.stringify(builds[1].redact(text))) throw new Error(`${name}: the builds' outputs differ`);
  const [a, b] = interleavedCpuMedians(builds, n, rounds, (build) => build.redact(text));
  process.stdout.write(`${name.padEnd(32)} A ${a.toFixed(3).padStart(9)}  B ${b.toFixed(3).padStart(9)}  A/B ${(a / b).toFixed(2)}\n`);
}
