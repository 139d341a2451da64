import { describe, expect, it, vi } from 'vitest';
import { bucketStart, heldZoneFormatters, isTimeZone, periodBounds } from './budget-period.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('periodBounds', () => {
  const now = Date.parse('2026-03-29T10:30:00Z'); // a Sunday; Europe/Berlin switches to summer time at 01:00 UTC

  it('computes calendar days, ISO weeks and months in UTC', () => {
    expect([iso(periodBounds('Day', 'UTC', undefined, now).start), iso(periodBounds('Day', 'UTC', undefined, now).end)]).toEqual(['2026-03-29T00:00:00.000Z', '2026-03-30T00:00:00.000Z']);
    const week = periodBounds('Week', 'UTC', undefined, now);
    expect([iso(week.start), iso(week.end)]).toEqual(['2026-03-23T00:00:00.000Z', '2026-03-30T00:00:00.000Z']);
    const month = periodBounds('Month', 'UTC', undefined, Date.parse('2026-12-31T23:59:59Z'));
    expect([iso(month.start), iso(month.end)]).toEqual(['2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
  });

  it('starts periods at local midnight in the Budget time zone, across a DST change', () => {
    const day = periodBounds('Day', 'Europe/Berlin', undefined, now);
    // Midnight was still CET (UTC+1); the next midnight is CEST (UTC+2): a 23-hour day.
    expect([iso(day.start), iso(day.end)]).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
    const ny = periodBounds('Month', 'America/New_York', undefined, Date.parse('2026-04-01T02:00:00Z'));
    expect(iso(ny.start)).toBe('2026-03-01T05:00:00.000Z'); // still March in New York
  });

  it('holds one formatter per zone, however many spellings of it Budgets use', () => {
    // Intl takes a zone name in any case: keyed by the name as written, each spelling held its own
    // formatter (~28 KB of ICU data) for the life of the process.
    const name = 'america/los_angeles';
    const spellings = new Set<string>();
    for (let i = 0; spellings.size < 300; i++) spellings.add([...name].map((c, j) => ((i >> j) & 1 ? c.toUpperCase() : c)).join(''));
    const before = heldZoneFormatters();
    const expected = periodBounds('Day', 'America/Los_Angeles', undefined, now);
    for (const tz of spellings) {
      expect(isTimeZone(tz)).toBe(true);
      expect(periodBounds('Day', tz, undefined, now)).toEqual(expected);
    }
    expect(heldZoneFormatters() - before).toBeLessThanOrEqual(1);
    expect(iso(expected.start)).toBe('2026-03-29T07:00:00.000Z');
  });

  it('handles rolling windows and buckets', () => {
    expect(periodBounds('Rolling', 'UTC', 3_600_000, now)).toEqual({ start: now - 3_600_000, end: undefined });
    expect(bucketStart(3_600_000, now + 123_456) % 150_000).toBe(0);
  });

  it('validates IANA time zones', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });

  it('UTC, the default, needs no Intl (its first DateTimeFormat keeps ~8 MiB of ICU data resident) and gives what Intl gives', () => {
    const intl = vi.spyOn(Intl, 'DateTimeFormat');
    try {
      expect(isTimeZone('UTC')).toBe(true);
      for (const kind of ['Day', 'Week', 'Month'] as const) periodBounds(kind, 'UTC', undefined, now);
      expect(intl).not.toHaveBeenCalled();
    } finally {
      intl.mockRestore();
    }
    // Etc/UTC is the same zone through Intl: every kind agrees at month, year and leap-day edges and at random instants.
    const instants = ['2024-02-29T23:59:59.999Z', '2024-03-01T00:00:00Z', '2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00Z', '2026-03-29T00:00:00Z', '1970-01-01T00:00:00Z', '2100-02-28T12:00:00Z'].map(Date.parse);
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      instants.push(Date.UTC(1990, 0, 1) + Math.floor((seed / 2147483648) * 150 * 365.25 * 86_400_000));
    }
    for (const at of instants) {
      for (const kind of ['Day', 'Week', 'Month'] as const) expect(periodBounds(kind, 'UTC', undefined, at)).toEqual(periodBounds(kind, 'Etc/UTC', undefined, at));
    }
  });
});
