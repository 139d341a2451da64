import type { UsageReportRecord } from '../../config/usage-report.js';

/**
 * Records of one run: appended in seq order with `at` never decreasing, so the records inside a
 * window [start, ∞) are always a suffix and moving the window start moves one index.
 */
class Run {
  /** The records themselves (the usage outbox holds them too): a reference costs less than copies of their numbers. */
  readonly records: UsageReportRecord[] = [];
  /** First record the operator has not applied. */
  head = 0;
  /** First record counted: [head, win) fell before the window start, [win, length) are counted. */
  win = 0;
  sumUsd = 0;
  sumTokens = 0;
  /** The window start `win` and the sums refer to. */
  start = Number.NEGATIVE_INFINITY;

  get lastAt(): number {
    return this.records[this.records.length - 1]?.at ?? Number.NEGATIVE_INFINITY;
  }

  get empty(): boolean {
    return this.head >= this.records.length;
  }

  push(record: UsageReportRecord): void {
    this.records.push(record);
    // `at` never decreases within a run: a record before the window start means all before it are too.
    if (record.at < this.start) this.win = this.records.length;
    else {
      this.sumUsd += record.costUsd;
      this.sumTokens += record.tokens;
    }
  }

  /** Moves the window start (either way: `now` is the wall clock, which may step back). */
  moveTo(start: number): void {
    if (start === this.start) return;
    const records = this.records;
    if (start > this.start) {
      while (this.win < records.length && records[this.win]!.at < start) {
        this.sumUsd -= records[this.win]!.costUsd;
        this.sumTokens -= records[this.win]!.tokens;
        this.win++;
      }
    } else {
      while (this.win > this.head && records[this.win - 1]!.at >= start) {
        this.win--;
        this.sumUsd += records[this.win]!.costUsd;
        this.sumTokens += records[this.win]!.tokens;
      }
    }
    this.start = start;
    // Nothing counted is exactly nothing (subtraction leaves rounding residue).
    if (this.win >= records.length) {
      this.sumUsd = 0;
      this.sumTokens = 0;
    }
  }

  /** Forgets the records the operator applied (seq ≤ applied). */
  dropThrough(applied: number): void {
    const records = this.records;
    const before = this.head;
    while (this.head < records.length && records[this.head]!.seq <= applied) this.head++;
    if (this.head === before) return;
    if (this.head > 1024 && this.head * 2 > records.length) {
      records.splice(0, this.head);
      this.win -= this.head;
      this.head = 0;
    }
    this.win = Math.max(this.win, this.head);
    // Summed again in seq order, as the record walk it replaces did.
    this.sumUsd = 0;
    this.sumTokens = 0;
    for (let i = this.win; i < records.length; i++) {
      this.sumUsd += records[i]!.costUsd;
      this.sumTokens += records[i]!.tokens;
    }
  }
}

/**
 * One budget's own records the operator has not applied yet (seq > appliedThrough), with running
 * sums, so that admission costs the same however many records wait for the operator.
 *
 * `at` is the wall clock at metering, which may step back: records are kept as runs in seq order,
 * each with `at` never decreasing, and a record with an earlier `at` than the last one starts a new
 * run (one per clock step, so few).
 */
export class OwnSpendQueue {
  private runs: Run[] = [];

  constructor(
    /** The appliedThrough the queue holds records after. */
    public applied: number,
  ) {}

  push(record: UsageReportRecord): void {
    let last = this.runs[this.runs.length - 1];
    if (last === undefined || record.at < last.lastAt) {
      last = new Run();
      this.runs.push(last);
    }
    last.push(record);
  }

  /** Spend of records with `at` ≥ start, in USD and tokens. */
  since(start: number): { costUsd: number; tokens: number } {
    const runs = this.runs;
    if (runs.length === 1) {
      const run = runs[0]!;
      run.moveTo(start);
      return { costUsd: run.sumUsd, tokens: run.sumTokens };
    }
    let usd = 0;
    let tokens = 0;
    for (const run of runs) {
      run.moveTo(start);
      usd += run.sumUsd;
      tokens += run.sumTokens;
    }
    return { costUsd: usd, tokens };
  }

  /** Applied records leave from the front (seq order). */
  advance(applied: number): void {
    this.applied = applied;
    for (const run of this.runs) run.dropThrough(applied);
    this.runs = this.runs.filter((run) => !run.empty);
  }
}
