/**
 * Prints the compact tables docs/performance.md carries: the side-by-side summary of one run, and
 * the key numbers of several runs next to each other (to show the run-to-run spread).
 *
 *   node --import tsx bench/summary.ts bench/results/raw/<latest>/results.json [older results.json …]
 */
import { readFileSync } from 'node:fs';
import { derive, type RunResult, type SystemResult } from './lib/report.js';

type Run = RunResult & { config: { holdStreams: number; sweepP99BudgetMs: number } };

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: summary.ts <results.json> [more results.json …]\n');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Run);

const ms = (us: number | undefined): string => (us === undefined ? '–' : `${us >= 0 ? '+' : '−'}${Math.abs(us / 1000).toFixed(2)}`);
const int = (n: number | undefined): string => (n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const mib = (kib: number | undefined): string => (kib === undefined ? '–' : (kib / 1024).toFixed(0));
const times = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}×`);
const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
const head = (cells: string[]): string => `${row(cells)}\n${row(cells.map(() => '---'))}`;

function sideBySide(run: Run): string {
  const direct = run.systems.find((s) => s.id === 'direct');
  const tollgate = run.systems.find((s) => s.key === 'tollgate-off');
  const lines = [
    head([
      'System',
      'added p50 / p99 at c=1, ms',
      'req/s at c=64',
      'Tollgate ÷ this (c=64)',
      `max rate, added p99 < ${run.config.sweepP99BudgetMs} ms`,
      'added TTFT p50, ms',
      'added chunk delay p50 / p99, ms',
      'chunks delivered together',
      `RSS idle / ${run.config.holdStreams.toLocaleString('en-US')} streams, MiB`,
    ]),
  ];
  for (const s of run.systems) {
    const d = derive(s, direct);
    const st = s.stream;
    lines.push(
      row([
        s.label,
        s.id === 'direct' ? `${(s.latency?.latencyUs.p50 ?? 0) / 1000} / ${((s.latency?.latencyUs.p99 ?? 0) / 1000).toFixed(2)} (absolute)` : `${ms(d.addedP50Us)} / ${ms(d.addedP99Us)}`,
        int(s.throughput?.rps),
        s.key === 'tollgate-off' ? '1' : times(tollgate?.throughput?.rps, s.throughput?.rps),
        s.sweep === undefined ? '–' : s.sweep.maxRate === undefined ? 'none' : `${int(s.sweep.maxRate)}/s`,
        s.id === 'direct' ? `${((st?.ttftUs.p50 ?? 0) / 1000).toFixed(2)} (absolute)` : ms(d.addedTtftP50Us),
        s.id === 'direct' ? '0 / 0' : `${ms(d.addedChunkDelayP50Us)} / ${ms(d.addedChunkDelayP99Us)}`,
        st === undefined ? '–' : `${st.coalescedChunks} of ${st.streams * st.expectedChunks}`,
        s.memory === undefined ? '–' : `${mib(s.memory.idleRssKiB)} / ${mib(s.memory.hold?.peakRssKiB)}${s.memory.hold !== undefined && s.memory.hold.opened < s.memory.hold.requested ? ` (${s.memory.hold.opened} opened)` : ''}`,
      ]),
    );
  }
  return lines.join('\n');
}

function across(all: Run[]): string {
  const pick = (run: Run, key: string): SystemResult | undefined => run.systems.find((s) => s.key === key);
  const lines = [
    head(['Run', 'load average (1 min) during the run', 'Tollgate req/s c=64 (log warn)', 'nginx', 'Node floor', 'Express floor', 'Portkey', 'LiteLLM', 'Tollgate ÷ Portkey', 'Tollgate ÷ LiteLLM', 'Tollgate added p50 c=1, ms', 'Portkey added p50 c=1, ms']),
  ];
  for (const run of all) {
    const loads = run.loads.map((l) => Number(l.load.split(' ')[0]));
    const direct = run.systems.find((s) => s.id === 'direct');
    const t = pick(run, 'tollgate-off');
    const q = pick(run, 'tollgate-off-quiet');
    const p = pick(run, 'portkey');
    const l = pick(run, 'litellm');
    lines.push(
      row([
        run.runId,
        `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
        `${int(t?.throughput?.rps)} (${int(q?.throughput?.rps)})`,
        int(pick(run, 'nginx')?.throughput?.rps),
        int(pick(run, 'node-floor')?.throughput?.rps),
        int(pick(run, 'express-floor')?.throughput?.rps),
        int(p?.throughput?.rps),
        int(l?.throughput?.rps),
        times(t?.throughput?.rps, p?.throughput?.rps),
        times(t?.throughput?.rps, l?.throughput?.rps),
        t === undefined ? '–' : ms(derive(t, direct).addedP50Us),
        p === undefined ? '–' : ms(derive(p, direct).addedP50Us),
      ]),
    );
  }
  return lines.join('\n');
}

const [latest] = runs;
if (latest !== undefined) process.stdout.write(`${sideBySide(latest)}\n\n${across(runs)}\n`);
