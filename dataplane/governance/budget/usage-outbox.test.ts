import { describe, expect, it } from 'vitest';
import type { UsageReportRecord, UsageReportResponse } from '../../config/usage-report.js';
import { MAX_PENDING_HISTORY, UsageOutbox } from './usage-outbox.js';

const T0 = 1_000_000;
const history = (seq: number): UsageReportRecord => ({
  seq,
  at: T0,
  costUsd: 0.01,
  tokens: 15,
  budgetIds: [],
  request: { namespace: 'team-a', outcome: 'ok', failovers: 0, cacheHit: false, inputTokens: 10, outputTokens: 5, cachedInputTokens: 0, latencyMs: 100 },
});
const spend = (seq: number): UsageReportRecord => ({ seq, at: T0, costUsd: 1, tokens: 15, budgetIds: ['team-a/b'] });
const answer = (over: Partial<UsageReportResponse>): UsageReportResponse => ({ ackedThrough: 0, replicas: 1, budgets: {}, ...over });
const seqs = (records: readonly UsageReportRecord[]): number[] => records.map((r) => r.seq);

function filled(n: number): UsageOutbox {
  const box = new UsageOutbox(T0);
  for (let seq = 1; seq <= n; seq++) box.push(history(seq));
  return box;
}

describe('usage send window', () => {
  it('sends each record once while the term holds, and keeps it until it is persisted', () => {
    const box = filled(3);
    const first = box.next(T0);
    expect(first.window).toEqual({ after: 0, durable: 0 });
    expect(seqs(first.records)).toEqual([1, 2, 3]);
    box.answered(first, answer({ epoch: 'A', receivedThrough: 3 }), T0);
    // Received, not persisted: nothing goes again, the records stay.
    const idle = box.next(T0 + 200);
    expect(idle).toEqual({ window: { epoch: 'A', after: 3, durable: 0 }, records: [] });
    box.answered(idle, answer({ epoch: 'A', receivedThrough: 3 }), T0 + 200);
    box.push(history(4));
    const second = box.next(T0 + 400);
    expect(seqs(second.records)).toEqual([4]);
    box.answered(second, answer({ epoch: 'A', receivedThrough: 4, ackedThrough: 3 }), T0 + 400);
    expect(seqs(box.records)).toEqual([4]);
    expect(box.recordsSent).toBe(4);
    expect(box.resends).toBe(0);
  });

  it('a report without an answer goes again as it was (the operator counts a resent record once)', () => {
    const box = filled(2);
    const lost = box.next(T0);
    box.push(history(3));
    const again = box.next(T0 + 200);
    expect(again.window).toEqual(lost.window);
    expect(seqs(again.records)).toEqual([1, 2, 3]);
  });

  it('a new term gets everything not persisted again, once', () => {
    const box = filled(5);
    box.answered(box.next(T0), answer({ epoch: 'A', receivedThrough: 5, ackedThrough: 2 }), T0);
    // The leader changed: the new term does not continue A's window and says so (no receivedThrough).
    const stale = box.next(T0 + 200);
    expect(stale.window).toEqual({ epoch: 'A', after: 5, durable: 2 });
    box.answered(stale, answer({ epoch: 'B' }), T0 + 200);
    const resend = box.next(T0 + 400);
    expect(resend.window).toEqual({ epoch: 'B', after: 2, durable: 2 });
    expect(seqs(resend.records)).toEqual([3, 4, 5]);
    box.answered(resend, answer({ epoch: 'B', receivedThrough: 5 }), T0 + 400);
    expect(box.next(T0 + 600).records).toEqual([]);
    expect(box.resends).toBe(1);
  });

  it('a term that takes over at the durable point continues without resending', () => {
    const box = filled(2);
    const first = box.next(T0);
    box.answered(first, answer({ epoch: 'A', receivedThrough: 2, ackedThrough: 2 }), T0);
    box.push(history(3));
    // Everything sent to A is persisted: B continues from there.
    box.answered(box.next(T0 + 200), answer({ epoch: 'B', receivedThrough: 3 }), T0 + 200);
    expect(box.next(T0 + 400).records).toEqual([]);
    expect(box.resends).toBe(0);
  });

  it('resends what is not persisted only after a silence well beyond the write interval', () => {
    const box = filled(2);
    box.answered(box.next(T0), answer({ epoch: 'A', receivedThrough: 2, flushIntervalMs: 10_000 }), T0);
    // 12 × the operator's 10 s write interval (> the 60 s floor).
    expect(box.next(T0 + 119_000).records).toEqual([]);
    const late = box.next(T0 + 120_000);
    expect(seqs(late.records)).toEqual([1, 2]);
    expect(late.window.after).toBe(0);
    expect(box.resends).toBe(1);
    box.answered(late, answer({ epoch: 'A', receivedThrough: 2 }), T0 + 120_000);
    // Persisting resets the clock.
    box.push(history(3));
    box.answered(box.next(T0 + 150_000), answer({ epoch: 'A', receivedThrough: 3, ackedThrough: 2 }), T0 + 150_000);
    expect(box.next(T0 + 150_000 + 119_000).records).toEqual([]);
    expect(box.next(T0 + 150_000 + 120_000).records).toHaveLength(1);
  });

  it('with an operator older than the window: oldest first every time, and an acknowledgement trusted only from the durable point', () => {
    const box = filled(4);
    box.answered(box.next(T0), answer({ epoch: 'A', receivedThrough: 4 }), T0);
    box.push(history(5));
    // The leader is now an old operator: it acknowledges through the last record it was sent (5),
    // though it never saw 1..4. That acknowledgement is not trusted.
    const past = box.next(T0 + 200);
    expect(seqs(past.records)).toEqual([5]);
    box.answered(past, answer({ ackedThrough: 5 }), T0 + 200);
    expect(box.size).toBe(5);
    const oldest = box.next(T0 + 400);
    expect(oldest.window).toEqual({ after: 0, durable: 0 });
    expect(seqs(oldest.records)).toEqual([1, 2, 3, 4, 5]);
    box.answered(oldest, answer({ ackedThrough: 3 }), T0 + 400);
    expect(seqs(box.records)).toEqual([4, 5]);
    expect(seqs(box.next(T0 + 600).records)).toEqual([4, 5]);
  });

  it('memory is bounded: past the limit the oldest history records are dropped and counted, spend never', () => {
    const box = new UsageOutbox(T0);
    box.push(spend(1));
    let dropped = 0;
    for (let seq = 2; seq <= MAX_PENDING_HISTORY + 2; seq++) dropped += box.push(history(seq));
    expect(dropped).toBe(MAX_PENDING_HISTORY / 10);
    expect(box.historyDropped).toBe(dropped);
    expect(box.size).toBe(MAX_PENDING_HISTORY + 2 - dropped);
    expect(box.records[0]?.seq).toBe(1);
    expect(box.records[1]?.seq).toBe(2 + dropped);
  });
});
