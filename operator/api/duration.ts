const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
const PART = /([0-9]+)(ms|h|m|s)/g;

/** Parses a Gateway API duration ("1m30s", "250ms") into milliseconds. The API schema has validated the shape. */
export function durationToMs(value: string): number {
  let total = 0;
  for (const match of value.matchAll(PART)) {
    const amount = Number(match[1]);
    const unit = UNIT_MS[match[2] ?? ''];
    if (unit === undefined) throw new Error(`bad duration unit in ${value}`);
    total += amount * unit;
  }
  return total;
}
