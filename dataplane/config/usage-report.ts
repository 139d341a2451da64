import { z } from 'zod';
import { RequestUsageSchema } from './request-usage.js';

/** One budget's spend as the operator persisted it, sent back to pods with every usage report. */
export const BudgetStateSchema = z.object({
  periodStart: z.number(),
  /** undefined for rolling windows */
  resetsAt: z.number().optional(),
  spent: z.number(),
  /** Last report sequence counted, per pod. */
  appliedThrough: z.record(z.string(), z.number()),
});
export type BudgetState = z.infer<typeof BudgetStateSchema>;

/** A metered request, as a pod reports it. */
export const UsageReportRecordSchema = z.object({
  seq: z.number().int().positive(),
  /** When the response ended, ms since epoch. */
  at: z.number(),
  costUsd: z.number().min(0),
  tokens: z.number().int().min(0),
  budgetIds: z.array(z.string()),
  /** Set on the one record per finished request that feeds usage history (UsageReport); such a record has no budgetIds. */
  request: RequestUsageSchema.optional(),
});
export type UsageReportRecord = z.infer<typeof UsageReportRecordSchema>;

/**
 * The channel's send window (absent from pods older than it, which resend every unacknowledged record
 * each time): a pod sends each record once per leader term, and resends only what is not durable yet
 * when the term changes (or after a long silence). See docs/governance.md, "Usage reports".
 */
export const SendWindowSchema = z.object({
  /** The leader term `after` refers to, as the last answer named it (absent before the first answer). */
  epoch: z.string().optional(),
  /** That term already has every record of this pod with seq ≤ after; `records` holds the ones after it. */
  after: z.number().int().min(0),
  /** Every record of this pod with seq ≤ durable is persisted (the highest ackedThrough the pod was given). */
  durable: z.number().int().min(0),
});
export type SendWindow = z.infer<typeof SendWindowSchema>;

export const UsageReportSchema = z.object({
  pod: z.string().min(1),
  records: z.array(UsageReportRecordSchema).max(5000),
  window: SendWindowSchema.optional(),
});
export type UsageReport = z.infer<typeof UsageReportSchema>;

export const UsageReportResponseSchema = z.object({
  /** Every record of this pod with seq ≤ ackedThrough is persisted. */
  ackedThrough: z.number().int(),
  /** Ready data-plane pods: each enforces its share of what is left. */
  replicas: z.number().int().min(1),
  budgets: z.record(z.string(), BudgetStateSchema),
  /** The leader term that answered (absent from operators older than the send window). */
  epoch: z.string().optional(),
  /**
   * That term has every record of this pod with seq ≤ receivedThrough (counted in memory or
   * persisted): the pod sends only what follows. Absent when the report did not continue what the
   * term has (another term, or a gap): the pod then resends everything not durable.
   */
  receivedThrough: z.number().int().optional(),
  /** How often the leader persists usage history: a received record becomes durable within about this long. */
  flushIntervalMs: z.number().int().positive().optional(),
});
export type UsageReportResponse = z.infer<typeof UsageReportResponseSchema>;

export function amountOf(unit: 'USD' | 'Tokens', record: { costUsd: number; tokens: number }): number {
  return unit === 'USD' ? record.costUsd : record.tokens;
}
