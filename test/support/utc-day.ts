const DAY_MS = 86_400_000;

/**
 * How long to wait before a stretch of `spanMs` starting now stays inside one UTC day: 0 when it
 * does, else until just past the coming midnight.
 */
export function waitForOneUtcDay(spanMs: number, now = Date.now()): number {
  const left = DAY_MS - (now % DAY_MS);
  return left > spanMs ? 0 : left + 1_000;
}

/**
 * Resolves when the next `spanMs` fall on one UTC day. Usage reports, Day and Month budgets and
 * capture partitions are per UTC day: a test whose traffic and reads straddled midnight would read
 * yesterday's totals under today's name (or see a budget reset mid-test).
 */
export async function oneUtcDay(spanMs: number): Promise<void> {
  const ms = waitForOneUtcDay(spanMs);
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}
