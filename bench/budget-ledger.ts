/**
 * Cost of one budget admission check (`BudgetLedger.available`) with an operator, against how many
 * of this pod's usage records the operator has not applied yet: the walk every record did before
 * (test-support's WalkingLedger, a copy of it) and the per-budget queues, side by side in one
 * process, in rounds that alternate the two.
 *
 *   node --expose-gc --import tsx bench/budget-ledger.ts [rounds=3]   (--expose-gc adds heap per record)
 *
 * Each record counts against three budgets (Day USD, Month tokens, 1 h Rolling USD); the check asks
 * for the Rolling one with `now` moving 1 ms a call, as admissions at a steady rate do.
 */
import type { BudgetConfig } from '../dataplane/config/snapshot.js';
import { BudgetLedger } from '../dataplane/governance/budget/budget-ledger.js';
import { testBudget, WalkingLedger } from '../dataplane/governance/budget/test-support.js';

const rounds = Number(process.argv[2] ?? 3);
const backlogs = [0, 2_500, 25_000, 250_000];
const budgets: BudgetConfig[] = [
  testBudget({ id: 'a/day', unit: 'USD', amount: 1e9, period: 'Day' }),
  testBudget({ id: 'a/month', unit: 'Tokens', amount: 1e12, period: 'Month' }),
  testBudget({ id: 'a/rolling', unit: 'USD', amount: 1e9, period: 'Rolling', windowMs: 3_600_000 }),
];
const ids = budgets.map((b) => b.id);
const t0 = Date.parse('2026-12-05T12:00:00Z');

interface Ledger {
  addRecord(record: { seq: number; at: number; costUsd: number; tokens: number; budgetIds: string[] }, budgets: readonly BudgetConfig[]): void;
  available(budget: BudgetConfig, now: number): { available: number };
}

/** ns per available() call, after `backlog` records at 10 ms apart that end at t0. */
function measure(ledger: Ledger, backlog: number, calls: number): number {
  for (let seq = 1; seq <= backlog; seq++) ledger.addRecord({ seq, at: t0 - (backlog - seq) * 10, costUsd: 0.0001, tokens: 10, budgetIds: ids }, budgets);
  const rolling = budgets[2]!;
  let sink = 0;
  for (let i = 0; i < 200; i++) sink += ledger.available(rolling, t0 + i).available;
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += ledger.available(rolling, t0 + 200 + i).available;
  const ns = Number(process.hrtime.bigint() - started) / calls;
  if (Number.isNaN(sink)) throw new Error('unreachable');
  return ns;
}

const rows = new Map<number, { old: number[]; queue: number[] }>(backlogs.map((b) => [b, { old: [], queue: [] }]));
for (let round = 1; round <= rounds; round++) {
  for (const backlog of backlogs) {
    const row = rows.get(backlog)!;
    // Alternate which side goes first.
    const sides = round % 2 === 1 ? (['old', 'queue'] as const) : (['queue', 'old'] as const);
    for (const side of sides) {
      const ledger: Ledger = side === 'old' ? new WalkingLedger('pod-1') : new BudgetLedger('pod-1', { standalone: false });
      // The walk: about 50 ms of calls (at least 1,000); the queues: 200,000 calls (~ the same time).
      const calls = side === 'old' ? Math.max(1_000, Math.min(200_000, Math.floor(20_000_000 / Math.max(1, backlog)))) : 200_000;
      row[side].push(measure(ledger, backlog, calls));
    }
    console.log(`round ${round} backlog ${backlog}: walk ${row.old.at(-1)!.toFixed(0)} ns, queue ${row.queue.at(-1)!.toFixed(0)} ns`);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('\n| unapplied records | walk (ns/check, median) | queues (ns/check, median) | walk ÷ queues per round |');
console.log('|---:|---:|---:|---|');
for (const [backlog, row] of rows) {
  const ratios = row.old.map((o, i) => (o / row.queue[i]!).toFixed(1));
  console.log(`| ${backlog.toLocaleString('en')} | ${median(row.old).toFixed(0)} | ${median(row.queue).toFixed(0)} | ${ratios.join(', ')} |`);
}

// Heap held per unapplied record (run with --expose-gc): the record itself (also held by the usage
// outbox in a gateway) plus what each ledger keeps for it, as what dropping the ledger frees.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc !== undefined) {
  for (const side of ['old', 'queue', 'old', 'queue'] as const) {
    const held: Ledger[] = [side === 'old' ? new WalkingLedger('pod-1') : new BudgetLedger('pod-1', { standalone: false })];
    measure(held[0]!, 250_000, 1_000);
    gc();
    gc();
    const with_ = process.memoryUsage().heapUsed;
    held.length = 0;
    gc();
    gc();
    console.log(`${side === 'old' ? 'walk' : 'queues'}: ${((with_ - process.memoryUsage().heapUsed) / 250_000).toFixed(0)} bytes of heap per unapplied record (3 budgets each)`);
  }
}
