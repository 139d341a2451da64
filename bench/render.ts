/**
 * Re-renders a run's Markdown report from its raw results (after a change to the report layout):
 *   node --import tsx bench/render.ts bench/results/raw/<run id>/results.json [out.md]
 * Writes bench/results/<run id>.md unless an output file is given.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig } from './lib/config.js';
import { renderReport, type RunResult } from './lib/report.js';

const [input, output] = process.argv.slice(2);
if (input === undefined) {
  process.stderr.write('usage: render.ts <results.json> [out.md]\n');
  process.exit(2);
}
const raw = JSON.parse(readFileSync(input, 'utf8')) as RunResult & { config: BenchConfig };
const { config, ...result } = raw;
// Runs before the interleaved c=1 rows measured c=1 with wrk, one system after another: no TTFT, no rounds.
const none = { count: 0, min: NaN, mean: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
for (const s of result.systems) {
  if (s.latency !== undefined && !('ttftUs' in s.latency)) s.latency = { name: s.key, latencyUs: (s.latency as { latencyUs: typeof none }).latencyUs, ttftUs: none, roundP50Us: [], roundTtftP50Us: [] };
}
const out = output ?? join(config.resultsDir, `${result.runId}.md`);
writeFileSync(out, renderReport(result, config));
process.stdout.write(`${out}\n`);
