import { describe, expect, it } from 'vitest';
import type { BudgetConfig } from '../../config/snapshot.js';
import type { BudgetState, UsageReportRecord } from '../../config/usage-report.js';
import { seededRandom } from '../../../test/support/seeded-random.js';
import { BudgetLedger } from './budget-ledger.js';
import { testBudget, WalkingLedger } from './test-support.js';

const budgets: BudgetConfig[] = [
  testBudget({ id: 'a/day-usd', unit: 'USD', amount: 5, period: 'Day' }),
  testBudget({ id: 'a/month-tokens', unit: 'Tokens', amount: 200_000, period: 'Month', timeZone: 'Europe/Berlin' }),
  testBudget({ id: 'a/rolling-usd', unit: 'USD', amount: 2, period: 'Rolling', windowMs: 90_000 }),
  testBudget({ id: 'a/rolling-tokens', unit: 'Tokens', amount: 50_000, period: 'Rolling', windowMs: 20_000 }),
];
const ids = [...budgets.map((b) => b.id), 'a/gone'];

/**
 * USD sums may differ from the walk's in the last bits once records left a rolling window (the queue
 * subtracts instead of summing again); token counts are integers and must be equal.
 */
function expectSame(actual: Record<string, number | undefined>, expected: Record<string, number | undefined>, where: string): void {
  for (const key of Object.keys(expected)) {
    const a = actual[key];
    const e = expected[key];
    if (a === undefined || e === undefined) expect(a, `${where} ${key}`).toBe(e);
    else expect(Math.abs(a - e), `${where} ${key}: ${a} vs ${e}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(e)));
  }
}

describe('BudgetLedger with an operator', () => {
  it('answers as the walk over every unapplied record did, through random reports, rollovers, clock steps and replica changes', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = seededRandom(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const fast = new BudgetLedger('pod-1', { standalone: false });
      const walk = new WalkingLedger('pod-1');
      // Start shortly before midnight at the end of a month (UTC and Berlin): days and months roll over.
      let now = Date.parse('2026-11-30T22:58:00Z') + Math.floor(rnd() * 3_600_000);
      let seq = 0;
      const applied = new Map<string, number>();
      const spentOf = new Map<string, number>();
      const holds: { id: string; amount: number }[] = [];
      for (let step = 0; step < 600; step++) {
        const where = `seed ${seed} step ${step}`;
        const op = rnd();
        if (op < 0.35) {
          // Metered: `at` is the wall clock, which sometimes steps back.
          const at = rnd() < 0.1 ? now - Math.floor(rnd() * 120_000) : now;
          const n = 1 + Math.floor(rnd() * 3);
          const recordIds = Array.from({ length: n }, () => pick(ids));
          const record: UsageReportRecord = { seq: ++seq, at, costUsd: Math.round(rnd() * 1e6) / 1e7, tokens: Math.floor(rnd() * 3000), budgetIds: recordIds };
          fast.addRecord(record, budgets.filter((b) => recordIds.includes(b.id)));
          walk.addRecord(record);
        } else if (op < 0.45) {
          // The operator's answer: appliedThrough mostly advances, sometimes goes back or is missing.
          const states: Record<string, BudgetState> = {};
          for (const id of ids) {
            const r = rnd();
            if (r < 0.1) continue;
            const before = applied.get(id) ?? 0;
            const next = r < 0.2 ? Math.floor(rnd() * (before + 1)) : before + Math.floor(rnd() * (seq - before + 1));
            applied.set(id, next);
            spentOf.set(id, (spentOf.get(id) ?? 0) + rnd());
            states[id] = { periodStart: now - Math.floor(rnd() * 200_000_000), spent: spentOf.get(id)!, appliedThrough: { 'pod-1': next, 'pod-2': seq } };
          }
          const replicas = 1 + Math.floor(rnd() * 4);
          fast.update(states, replicas);
          walk.update(states, replicas);
        } else if (op < 0.55) {
          const id = pick(ids);
          const amount = Math.round(rnd() * 1e5) / 1e5;
          holds.push({ id, amount });
          fast.reserve(id, amount);
          walk.reserve(id, amount);
        } else if (op < 0.62 && holds.length > 0) {
          const h = holds.splice(Math.floor(rnd() * holds.length), 1)[0]!;
          fast.release(h.id, h.amount);
          walk.release(h.id, h.amount);
        } else if (op < 0.8) {
          // Time passes (up to 40 s, or an idle 5 min; now and then it steps back).
          const r = rnd();
          now += r < 0.05 ? -Math.floor(rnd() * 60_000) : Math.floor(rnd() * (r < 0.25 ? 300_000 : 40_000));
        } else {
          const budget = pick(budgets);
          if (rnd() < 0.7) expectSame({ ...fast.available(budget, now) }, { ...walk.available(budget, now) }, `${where} available ${budget.id}`);
          else expectSame({ ...fast.spent(budget, now) }, { ...walk.spent(budget, now) }, `${where} spent ${budget.id}`);
        }
        expect(fast.unreported, where).toBe(walk.unreported);
      }
    }
  });

  it('keeps answering as the walk did when a long backlog is applied in parts (the queue compacts)', () => {
    const fast = new BudgetLedger('pod-1', { standalone: false });
    const walk = new WalkingLedger('pod-1');
    const budget = testBudget({ id: 'a/b', unit: 'Tokens', amount: 1e9, period: 'Rolling', windowMs: 3_600_000 });
    const t0 = Date.parse('2026-12-05T12:00:00Z');
    for (let seq = 1; seq <= 5000; seq++) {
      const record = { seq, at: t0 + seq * 100, costUsd: 0, tokens: seq, budgetIds: ['a/b'] };
      fast.addRecord(record, [budget]);
      walk.addRecord(record);
    }
    for (const applied of [1500, 3000, 4999, 5000]) {
      const states = { 'a/b': { periodStart: t0, spent: 0, appliedThrough: { 'pod-1': applied } } };
      fast.update(states, 2);
      walk.update(states, 2);
      for (const now of [t0 + 600_000, t0 + 3_900_000, t0 + 600_000]) expect(fast.available(budget, now)).toEqual(walk.available(budget, now));
    }
  });

  it('forgets a deleted Budget: its records, queue and bounds go once no snapshot has it, and the others still count', () => {
    const ledger = new BudgetLedger('pod-1', { standalone: false });
    const keep = testBudget({ id: 'a/keep', unit: 'Tokens', amount: 1000, period: 'Day' });
    const gone = testBudget({ id: 'a/gone', unit: 'Tokens', amount: 1000, period: 'Day' });
    const now = Date.parse('2026-12-05T12:00:00Z');
    ledger.retainBudgets(new Set([keep.id, gone.id]));
    ledger.addRecord({ seq: 1, at: now, costUsd: 0, tokens: 10, budgetIds: [gone.id] }, [gone]);
    ledger.addRecord({ seq: 2, at: now, costUsd: 0, tokens: 20, budgetIds: [keep.id, gone.id] }, [keep, gone]);
    ledger.addRecord({ seq: 3, at: now, costUsd: 0, tokens: 30, budgetIds: [keep.id] }, [keep]);
    expect(ledger.available(gone, now).ownUnreported).toBe(30);
    // The operator reports no state for a deleted Budget: its records looked unapplied for ever.
    ledger.update({}, 1);
    expect(ledger.unreported).toBe(3);
    ledger.retainBudgets(new Set([keep.id]));
    expect(ledger.unreported).toBe(2);
    expect(ledger.available(keep, now).ownUnreported).toBe(50);
    // A request admitted on the older snapshot, metered now: nothing counts it against the deleted Budget.
    ledger.addRecord({ seq: 4, at: now, costUsd: 0, tokens: 40, budgetIds: [gone.id] }, [gone]);
    expect(ledger.unreported).toBe(2);
    ledger.update({ [keep.id]: { periodStart: now - 1000, spent: 50, appliedThrough: { 'pod-1': 3 } } }, 1);
    expect(ledger.unreported).toBe(0);
    expect(ledger.available(keep, now)).toMatchObject({ spent: 50, ownUnreported: 0 });
    // Created again under the same name, it starts from its own status, not the old object's records.
    ledger.retainBudgets(new Set([keep.id, gone.id]));
    expect(ledger.available(gone, now).ownUnreported).toBe(0);
  });

  // A pod's name is its Kubernetes name: `constructor` is a valid one, and must not read Object.prototype's.
  it('counts its own unapplied records when the pod is named constructor and the operator has applied none', () => {
    const ledger = new BudgetLedger('constructor', { standalone: false });
    const budget = testBudget({ id: 'a/b', unit: 'Tokens', amount: 1000, period: 'Day' });
    const now = Date.parse('2026-12-05T12:00:00Z');
    ledger.update({ 'a/b': { periodStart: now - 1000, spent: 5, appliedThrough: { other: 9 } } }, 1);
    ledger.addRecord({ seq: 1, at: now, costUsd: 0, tokens: 10, budgetIds: [budget.id] }, [budget]);
    expect(ledger.unreported).toBe(1);
    expect(ledger.available(budget, now)).toMatchObject({ spent: 15, ownUnreported: 10 });
  });

  it('counts a rolling budget\'s persisted total a moment after the answer (the operator stamps it with its own now − window)', () => {
    const ledger = new BudgetLedger('pod-1', { standalone: false });
    const budget = testBudget({ id: 'a/b', amount: 10, period: 'Rolling', windowMs: 3_600_000 });
    const now = Date.parse('2026-12-05T12:00:00Z');
    // What the operator answers at `now`: periodStart is its now − window.
    ledger.update({ 'a/b': { periodStart: now - 3_600_000, spent: 9, appliedThrough: {} } }, 2);
    for (const later of [now + 1, now + 200, now + 60_000]) {
      expect(ledger.available(budget, later)).toMatchObject({ spent: 9, left: 1, available: 0.5 });
    }
  });

  it('moves a calendar period at once when spec.timeZone is edited, and counts the total persisted for the new one', () => {
    const ledger = new BudgetLedger('pod-1', { standalone: false });
    const utc = testBudget({ id: 'a/b', amount: 10, period: 'Day', timeZone: 'UTC' });
    const now = Date.parse('2026-12-05T06:00:00Z');
    ledger.update({}, 1);
    expect(ledger.available(utc, now).resetsAt).toBe(Date.parse('2026-12-06T00:00:00Z'));
    // UTC−12: it is 18:00 on the 4th there; the operator carried the day's spend over to that day.
    const edited = { ...utc, timeZone: 'Etc/GMT+12' };
    ledger.update({ 'a/b': { periodStart: Date.parse('2026-12-04T12:00:00Z'), resetsAt: Date.parse('2026-12-05T12:00:00Z'), spent: 6, appliedThrough: {} } }, 1);
    expect(ledger.available(edited, now + 1)).toMatchObject({ spent: 6, left: 4, resetsAt: Date.parse('2026-12-05T12:00:00Z') });
  });

  it('answers admission without reading the unapplied records', () => {
    const ledger = new BudgetLedger('pod-1', { standalone: false });
    const budget = testBudget({ id: 'a/b', period: 'Rolling', windowMs: 60_000 });
    const now = Date.parse('2026-12-05T12:00:00Z');
    let reads = 0;
    for (let seq = 1; seq <= 100; seq++) {
      const record = { seq, at: now - 1000 + seq, costUsd: 0.001, tokens: 1, budgetIds: ['a/b'] };
      ledger.addRecord(record, [budget]);
      // Reads from here on are the admission walking the records.
      Object.defineProperty(record, 'budgetIds', { get: () => (reads++, ['a/b']) });
    }
    for (let i = 0; i < 10; i++) ledger.available(budget, now + i);
    expect(reads).toBe(0);
    expect(ledger.available(budget, now).ownUnreported).toBeCloseTo(0.1, 12);
  });
});
