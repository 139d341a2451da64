/**
 * Custom RE2 pattern cost, before (the matcher over the whole text, as scans ran until the window
 * scan) and after (compileDetectors' scan: DFA tests per chunk and half, the matcher on leaves,
 * within the pattern work cap): wall time and the matcher work counted (program size ×
 * characters), for the pattern of the hostile-input audit (program size 146) and its unbounded
 * variant (`+`). "before" is skipped on texts where it costs seconds unless `--before-all`.
 *
 *   node --import tsx bench/custom-pattern-bench.ts [--before-all]
 */
import { performance } from 'node:perf_hooks';
import { compileDetectors, PatternBudget } from '../dataplane/policy/detectors/index.js';
import { compileContentPattern } from '../dataplane/config/content-detectors.js';

const beforeAll = process.argv.includes('--before-all');
const PATTERNS = { bounded: '(?i)[a-z0-9._%+-]{1,64}@corp\\.example\\.com', unbounded: '(?i)[a-z0-9._%+-]+@corp\\.example\\.com' };
const prose = 'The quick brown fox jumps over the lazy dog. ';
const MiB = 1 << 20;
const texts: Record<string, { text: string; slowBefore?: true }> = {
  '1 MiB of "a" + 1 match': { text: `${'a'.repeat(MiB - 40)} a@corp.example.com`, slowBefore: true },
  '1 MiB prose + 1 match': { text: `${prose.repeat(Math.floor(MiB / prose.length))} bob@corp.example.com`, slowBefore: true },
  '1 MiB prose, no match': { text: prose.repeat(Math.floor(MiB / prose.length)) },
  '200 KB prose, 40 matches': { text: `${prose.repeat(110)} bob@corp.example.com `.repeat(40) },
  '1 MiB "a", a match every 300': { text: `${'a'.repeat(280)} x@corp.example.com `.repeat(3500), slowBefore: true },
};

function before(source: string, text: string): number {
  const r = compileContentPattern('p', source);
  if (!r.ok) throw new Error(r.error);
  let found = 0;
  if (!r.re.test(text)) return 0;
  const m = r.re.matcher(text);
  while (m.find()) found++;
  return found;
}

/** CPU time of this process since `from` (user + system), less sensitive than wall time to other processes on the machine. */
const cpuMs = (from: NodeJS.CpuUsage): string => {
  const d = process.cpuUsage(from);
  return ((d.user + d.system) / 1000).toFixed(1);
};

const rows: string[] = ['| pattern | text | before ms (matches) | after ms | after CPU ms | matches | complete | matcher work |', '|---|---|---|---|---|---|---|---|'];
for (const [kind, source] of Object.entries(PATTERNS)) {
  const c = compileDetectors({ detectors: [], customPatterns: [{ name: 'corp-mail', pattern: source }] });
  if (!c.ok) throw new Error(JSON.stringify(c.errors));
  for (const [name, { text, slowBefore }] of Object.entries(texts)) {
    let b = 'skipped';
    if (beforeAll || slowBefore !== true) {
      const t = performance.now();
      const n = before(source, text);
      b = `${(performance.now() - t).toFixed(0)} (${n})`;
    }
    c.detectors.scan(text); // warm-up
    const t = performance.now();
    const cpu = process.cpuUsage();
    const r = c.detectors.scan(text);
    const ms = performance.now() - t;
    rows.push(`| ${kind} | ${name} | ${b} | ${ms.toFixed(1)} | ${cpuMs(cpu)} | ${r.findings.length} | ${r.complete} | ${r.patternWork} |`);
  }
  // One request of four 1 MiB texts, each a match every 300 characters, sharing one budget.
  const budget = new PatternBudget();
  const text = texts['1 MiB "a", a match every 300']!.text;
  const t = performance.now();
  const cpu = process.cpuUsage();
  const results = [0, 1, 2, 3].map(() => c.detectors.scan(text, budget));
  rows.push(`| ${kind} | request of 4 × 1 MiB, a match every 300 | — | ${(performance.now() - t).toFixed(1)} | ${cpuMs(cpu)} | ${results.map((r) => r.findings.length).join('+')} | ${results.map((r) => r.complete).join('/')} | ${budget.spent} |`);
}
console.log(rows.join('\n'));
