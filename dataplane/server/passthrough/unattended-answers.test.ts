import { describe, expect, it } from 'vitest';
import { UnattendedAnswers } from './unattended-answers.js';

describe('UnattendedAnswers', () => {
  it('waits for answers to be charged, then cuts those still open and waits for them (bounded)', async () => {
    const answers = new UnattendedAnswers();
    const charged: string[] = [];
    const done1 = answers.add(() => charged.push('cut 1'));
    setTimeout(() => {
      charged.push('read 1');
      done1();
    }, 20);
    // Cut: charged on its next event.
    const done2 = answers.add(() => setTimeout(() => {
      charged.push('cut 2');
      done2();
    }, 5));
    // Never ends, even cut: given up after the grace.
    answers.add(() => charged.push('cut 3'));
    const started = Date.now();
    expect(await answers.settle(60, 100)).toBe(2);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(charged).toEqual(['read 1', 'cut 3', 'cut 2']);
    expect(answers.size).toBe(1);
  });

  it('resolves at once when none is open', async () => {
    expect(await new UnattendedAnswers().settle(10_000)).toBe(0);
  });
});
