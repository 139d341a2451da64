import { describe, expect, it } from 'vitest';
import { waitForOneUtcDay } from './utc-day.js';

describe('waitForOneUtcDay', () => {
  const at = (iso: string) => Date.parse(iso);

  it('waits for nothing when the span ends before midnight', () => {
    expect(waitForOneUtcDay(5 * 60_000, at('2026-12-05T12:00:00Z'))).toBe(0);
    expect(waitForOneUtcDay(5 * 60_000, at('2026-12-05T23:54:59Z'))).toBe(0);
  });

  it('waits until just past midnight when the span would cross it', () => {
    expect(waitForOneUtcDay(5 * 60_000, at('2026-12-05T23:55:00Z'))).toBe(5 * 60_000 + 1_000);
    expect(waitForOneUtcDay(5 * 60_000, at('2026-12-05T23:59:59.500Z'))).toBe(1_500);
    expect(new Date(at('2026-12-05T23:58:00Z') + waitForOneUtcDay(5 * 60_000, at('2026-12-05T23:58:00Z'))).toISOString()).toBe('2026-12-06T00:00:01.000Z');
  });
});
