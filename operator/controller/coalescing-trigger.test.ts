import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CoalescingTrigger } from './coalescing-trigger.js';

// Fake timers: the trigger's debounce and wait are the subject, and real ones under a loaded
// machine fire late (a run still going when the test expected it over, 400 ms passed in a slow loop).
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CoalescingTrigger', () => {
  it('merges a burst into one run and never overlaps runs', async () => {
    let active = 0;
    let maxActive = 0;
    const trigger = new CoalescingTrigger(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(30);
        active--;
      },
      20,
      1000,
      () => undefined,
    );
    for (let i = 0; i < 100; i++) trigger.trigger();
    await vi.advanceTimersByTimeAsync(100);
    expect(trigger.runs).toBe(1);
    expect(active).toBe(0);
    trigger.trigger();
    await vi.advanceTimersByTimeAsync(25);
    expect(active).toBe(1);
    trigger.trigger(); // during the second run: exactly one more
    trigger.trigger();
    await vi.advanceTimersByTimeAsync(150);
    expect(trigger.runs).toBe(3);
    expect(maxActive).toBe(1);
  });

  it('runs within maxWait even when events never stop', async () => {
    const trigger = new CoalescingTrigger(async () => undefined, 50, 120, () => undefined);
    let waited = 0;
    while (trigger.runs === 0 && waited < 1000) {
      trigger.trigger();
      await vi.advanceTimersByTimeAsync(10);
      waited += 10;
    }
    // Events every 10 ms would push a plain 50 ms debounce back forever; maxWait fires it at 120 ms.
    expect(trigger.runs).toBe(1);
    expect(waited).toBe(120);
  });

  it('starts runs at least minInterval apart, however often events come', async () => {
    const starts: number[] = [];
    const trigger = new CoalescingTrigger(
      async () => {
        starts.push(Date.now());
      },
      10,
      50,
      () => undefined,
      500,
    );
    const t0 = Date.now();
    for (let elapsed = 0; elapsed < 2_000; elapsed += 20) {
      trigger.trigger();
      await vi.advanceTimersByTimeAsync(20);
    }
    await vi.advanceTimersByTimeAsync(600);
    // An endpoint event every 20 ms for 2 s: without the floor, a run every 50 ms (40 runs).
    expect(starts.length).toBeGreaterThanOrEqual(4);
    expect(starts.length).toBeLessThanOrEqual(6);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(500);
    expect(starts[0]! - t0).toBeLessThanOrEqual(50);
  });
});
