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

export const UsageReportSchema = z.object({
  pod: z.string().min(1),
  records: z.array(UsageReportRecordSchema).max(5000),
});
export type UsageReport = z.infer<typeof UsageReportSchema>;

export const UsageReportResponseSchema = z.object({
  /** Every record of this pod with seq ≤ ackedThrough is persisted. */
  ackedThrough: z.number().int(),
  /** Ready data-plane pods: each enforces its share of what is left. */
  replicas: z.number().int().min(1),
  budgets: z.record(z.string(), BudgetStateSchema),
});
export type UsageReportResponse = z.infer<typeof UsageReportResponseSchema>;

export function amountOf(unit: 'USD' | 'Tokens', record: { costUsd: number; tokens: number }): number {
  return unit === 'USD' ? record.costUsd : record.tokens;
}
