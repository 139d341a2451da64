import { describe, expect, it } from 'vitest';
import { CoalescingTrigger } from './coalescing-trigger.js';

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
    await sleep(100);
    expect(trigger.runs).toBe(1);
    trigger.trigger();
    await sleep(25);
    trigger.trigger(); // during the second run: exactly one more
    trigger.trigger();
    await sleep(150);
    expect(trigger.runs).toBe(3);
    expect(maxActive).toBe(1);
  });

  it('runs within maxWait even when events never stop', async () => {
    const trigger = new CoalescingTrigger(async () => undefined, 50, 120, () => undefined);
    const started = Date.now();
    while (trigger.runs === 0 && Date.now() - started < 1000) {
      trigger.trigger();
      await sleep(10);
    }
    expect(Date.now() - started).toBeLessThan(400);
  });
});
