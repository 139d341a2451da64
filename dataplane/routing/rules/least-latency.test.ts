import { describe, expect, it } from 'vitest';
import type { TargetConfig } from '../../config/snapshot.js';
import { orderTargetsBy } from '../strategies.js';
import { EXPLORE_EVERY, TargetStats } from '../target-stats.js';

const t = (model: string): TargetConfig => ({ providerId: 'ns/p', model, priority: 0, weight: 1, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0 } });

describe('least-latency', () => {
  it('puts the fastest first, and once in EXPLORE_EVERY orderings the least recently measured', () => {
    const stats = new TargetStats();
    const [fast, slow] = [t('fast'), t('slow')];
    stats.observeLatency(slow, 400);
    stats.observeLatency(fast, 20);
    const firsts = Array.from({ length: EXPLORE_EVERY * 2 }, () => orderTargetsBy('least-latency', [slow, fast], stats)[0]?.model);
    expect(firsts.filter((m) => m === 'slow')).toHaveLength(2);
    expect(firsts.filter((m) => m === 'fast')).toHaveLength(EXPLORE_EVERY * 2 - 2);
  });

  it('shifts away from a target whose latency rises (EWMA)', () => {
    const stats = new TargetStats();
    const [a, b] = [t('a'), t('b')];
    stats.observeLatency(a, 10);
    stats.observeLatency(b, 30);
    expect(orderTargetsBy('least-latency', [a, b], stats)[0]?.model).toBe('a');
    stats.observeLatency(a, 200);
    expect(orderTargetsBy('least-latency', [a, b], stats)[0]?.model).toBe('b');
  });
});
