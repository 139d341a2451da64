import { z } from 'zod';
import { OUTCOME_CLASSES } from '../../dataplane/config/request-usage.js';
import { objectSchema } from './common.js';

/**
 * Upper bounds (ms) of the latency and time-to-first-token histogram buckets; the last bucket is
 * everything above. Coarse on purpose: 11 counters per hour keep an object small, and p50/p95 read
 * from them are good to a bucket.
 */
export const HISTOGRAM_BOUNDS_MS = [50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000] as const;

/** Keys kept per breakdown (route, model, provider) and hour; the rest is summed under OTHER_KEY. */
export const MAX_BREAKDOWN_KEYS = 10;
/** Upper limit of the configurable number of callers kept by name (top by cost, then requests). */
export const MAX_TOP_CALLERS = 25;
/** Data-plane pods whose last counted sequence number an object keeps (most recently reporting first kept). */
export const MAX_APPLIED_PODS = 200;
/** The key under which a breakdown sums what it does not keep by name. */
export const OTHER_KEY = '(other)';

const count = z.number().int().min(0);

const OUTCOME_DESCRIPTIONS: Record<(typeof OUTCOME_CLASSES)[number], string> = {
  ok: 'Answered (a cache hit too).',
  rate_limited: 'Refused by a rate limit.',
  budget_rejected: 'Refused by an exhausted Budget.',
  guardrail_blocked: 'Blocked by a guardrail.',
  rejected: 'Refused before any upstream was tried: authentication, access, unknown model, bad body.',
  upstream_4xx: 'Refused by the upstream (4xx, relayed).',
  upstream_5xx: 'Failed upstream (5xx, connection error, no target available) after retries and failover.',
  timeout: 'Timed out upstream.',
  cancelled: 'The client left before the response was complete.',
};

const OutcomesSchema = z
  .strictObject(Object.fromEntries(OUTCOME_CLASSES.map((c) => [c, count.optional().describe(OUTCOME_DESCRIPTIONS[c])])) as Record<(typeof OUTCOME_CLASSES)[number], z.ZodOptional<typeof count>>)
  .describe(
    'Requests by outcome class (absent = 0): ok, rate_limited, budget_rejected, guardrail_blocked, rejected (refused before any upstream: authentication, access, unknown model, bad body), upstream_4xx, upstream_5xx, timeout, cancelled (the client left).',
  );

export const UsageStatsSchema = z
  .strictObject({
    requests: count.describe('Requests counted.'),
    outcomes: OutcomesSchema,
    failovers: count.describe('Requests that were served (or failed) on another target after a failed one.'),
    cacheHits: count.describe('Requests answered from the response cache.'),
    inputTokens: count.describe('Input (prompt) tokens.'),
    outputTokens: count.describe('Output (completion) tokens.'),
    cachedInputTokens: count.describe('Input tokens the provider served from its prompt cache.'),
    costUsd: z.number().min(0).describe('Cost in USD at the Provider prices.'),
  })
  .describe('Request, token and cost totals.');
export type UsageStats = z.infer<typeof UsageStatsSchema>;

const HistogramSchema = z.array(count).max(HISTOGRAM_BOUNDS_MS.length + 1);

const BreakdownSchema = z.record(z.string(), UsageStatsSchema);

export const UsageHourSchema = z
  .strictObject({
    hour: z.number().int().min(0).max(23).describe('Hour of the day (UTC), 0-23.'),
    totals: UsageStatsSchema,
    latencyMs: HistogramSchema.describe('Requests per latency bucket (bounds in status.histogramBoundsMs, then one bucket above the last).'),
    ttftMs: HistogramSchema.describe('Streamed requests per time-to-first-token bucket (same bounds).'),
    byRoute: BreakdownSchema.describe(`Per ModelRoute (namespace/name); at most ${MAX_BREAKDOWN_KEYS} by name, the rest under "${OTHER_KEY}".`),
    byModel: BreakdownSchema.describe(`Per public model name; at most ${MAX_BREAKDOWN_KEYS} by name, the rest under "${OTHER_KEY}".`),
    byProvider: BreakdownSchema.describe(`Per Provider that served (namespace/name); at most ${MAX_BREAKDOWN_KEYS} by name, the rest under "${OTHER_KEY}".`),
    byCaller: BreakdownSchema.describe(`Per caller (sa:<ns>/<name>, key:<ns>/<name>, anonymous): the top callers of the day by cost, the rest under "${OTHER_KEY}".`),
  })
  .describe('One hour of the day.');
export type UsageHour = z.infer<typeof UsageHourSchema>;

export const UsageReportStatusSchema = z
  .strictObject({
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).describe('The day (UTC) this report covers, YYYY-MM-DD.'),
    totals: UsageStatsSchema.describe('The whole day.'),
    errors: count.describe('Requests of the day whose outcome is not ok.'),
    histogramBoundsMs: z.array(z.number()).max(HISTOGRAM_BOUNDS_MS.length).describe('Upper bounds (ms) of the histogram buckets; one more bucket counts everything above.'),
    hours: z.array(UsageHourSchema).max(24).describe('The hours that saw requests, in order.'),
    appliedThrough: z
      .record(z.string(), z.number().int())
      .describe(`Per data-plane pod, the last usage record counted here (makes reports idempotent); at most ${MAX_APPLIED_PODS} pods: the data-plane pods the operator knows first, then the most recent.`),
    updatedAt: z.string().describe('When the operator last wrote this report (RFC 3339).'),
  })
  .describe('Usage of one namespace on one day, written by the operator.');
export type UsageReportStatus = z.infer<typeof UsageReportStatusSchema>;

const BREAKDOWNS = ['byRoute', 'byModel', 'byProvider', 'byCaller'] as const;
const AppliedSeqSchema = z.number().int();

/**
 * UsageReportStatusSchema.safeParse, keeping a `__proto__` key of appliedThrough and of the
 * breakdowns: zod leaves that key out of a record (on the plain object it builds, it would set the
 * prototype), but here it is a name from a report (a pod, a public model) like any other. Left out,
 * a pod of that name had its records counted again after every reload.
 */
export function parseUsageReportStatus(raw: unknown): ReturnType<typeof UsageReportStatusSchema.safeParse> {
  const parsed = UsageReportStatusSchema.safeParse(raw);
  if (!parsed.success) return parsed;
  const source = raw as { appliedThrough?: unknown; hours?: unknown[] };
  keepProtoKey(parsed.data.appliedThrough, source.appliedThrough, AppliedSeqSchema);
  parsed.data.hours.forEach((hour, i) => {
    const from = source.hours?.[i] as Record<string, unknown> | undefined;
    for (const dim of BREAKDOWNS) keepProtoKey(hour[dim], from?.[dim], UsageStatsSchema);
  });
  return parsed;
}

function keepProtoKey<T>(into: Record<string, T>, from: unknown, schema: z.ZodType<T>): void {
  if (typeof from !== 'object' || from === null || !Object.hasOwn(from, '__proto__')) return;
  const value = schema.safeParse((from as Record<string, unknown>)['__proto__']);
  if (value.success) Object.defineProperty(into, '__proto__', { value: value.data, enumerable: true, writable: true, configurable: true });
}

/** Written only by the operator: there is nothing to set. */
export const UsageReportSpecSchema = z.strictObject({}).describe('Empty: a UsageReport is written by the operator and has only status.');

export const UsageReportSchema = objectSchema('UsageReport', UsageReportSpecSchema.optional(), UsageReportStatusSchema);
export type UsageReport = z.infer<typeof UsageReportSchema>;
