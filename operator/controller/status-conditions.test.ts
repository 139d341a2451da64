import { describe, expect, it } from 'vitest';
import { mergeConditions, sameConditions } from './status-conditions.js';

const t0 = '2026-01-01T00:00:00Z';
const t1 = '2026-01-02T00:00:00Z';

describe('mergeConditions', () => {
  it('keeps lastTransitionTime while the status holds and moves it when it flips', () => {
    const first = mergeConditions(undefined, [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', observedGeneration: 1 }], t0);
    expect(first[0]?.lastTransitionTime).toBe(t0);
    const same = mergeConditions(first, [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'still ok', observedGeneration: 2 }], t1);
    expect(same[0]).toMatchObject({ lastTransitionTime: t0, message: 'still ok', observedGeneration: 2 });
    const flipped = mergeConditions(same, [{ type: 'Accepted', status: 'False', reason: 'Conflicted', message: 'x', observedGeneration: 2 }], t1);
    expect(flipped[0]?.lastTransitionTime).toBe(t1);
  });

  it('reports no change when nothing changed, so that no write happens', () => {
    const a = mergeConditions(undefined, [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok' }], t0);
    const b = mergeConditions(a, [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok' }], t1);
    expect(sameConditions(a, b)).toBe(true);
    expect(sameConditions(a, mergeConditions(a, [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'new' }], t1))).toBe(false);
  });
});
