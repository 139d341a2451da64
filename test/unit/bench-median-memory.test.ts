import { describe, expect, it } from 'vitest';
import { medianMemory, type MemoryResult } from '../../bench/lib/scenarios.js';

const run = (idleMiB: number, streamsMiB?: number): MemoryResult => ({
  idleRssKiB: idleMiB * 1024,
  idleHwmKiB: idleMiB * 1024,
  processes: 1,
  ...(streamsMiB === undefined ? {} : { hold: { requested: 1000, opened: 1000, openMs: 2000, errors: 0, peakRssKiB: streamsMiB * 1024, during: [] } }),
});

describe('bench memory rows over several fresh starts', () => {
  it('quotes the start with the median RSS under open streams, not the lowest or the first', () => {
    expect(medianMemory([run(120, 155), run(110, 141), run(118, 148)]).hold?.peakRssKiB).toBe(148 * 1024);
    // An even count takes the higher middle start, a single start itself.
    expect(medianMemory([run(1, 150), run(1, 140), run(1, 160), run(1, 145)]).hold?.peakRssKiB).toBe(150 * 1024);
    expect(medianMemory([run(90, 130)]).idleRssKiB).toBe(90 * 1024);
  });

  it('falls back to idle RSS when no start held streams', () => {
    expect(medianMemory([run(100), run(80), run(90)]).idleRssKiB).toBe(90 * 1024);
  });
});
