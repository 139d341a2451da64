import { z } from 'zod';
import { SendWindowSchema, type UsageReport, UsageReportRecordSchema, type UsageReportRecord } from '../../dataplane/config/usage-report.js';

/** The report's frame; its records are checked one by one. */
const ReportFrameSchema = z.object({
  pod: z.string().min(1),
  records: z.array(z.unknown()).max(5000),
  window: SendWindowSchema.optional(),
});

/** A record that cannot be counted (negative or fractional tokens, a negative cost, a missing field). */
export interface RejectedRecord {
  seq: number | undefined;
  reason: string;
}

export type UsageIntake =
  | { ok: true; report: UsageReport; rejected: RejectedRecord[]; /** Highest sequence among rejected records (0 if none): acknowledged too. */ rejectedThrough: number }
  | { ok: false; error: string };

function seqOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const seq = (value as { seq?: unknown }).seq;
  return typeof seq === 'number' && Number.isInteger(seq) && seq > 0 ? seq : undefined;
}

/**
 * Parses a pod's usage report record by record. A record that cannot be counted is set aside (the
 * caller logs and counts it) and acknowledged with the rest, so one bad record never makes the
 * operator refuse every later report of that pod: the pod resends unacknowledged records forever.
 */
export function parseUsageReport(body: unknown): UsageIntake {
  const frame = ReportFrameSchema.safeParse(body);
  if (!frame.success) return { ok: false, error: frame.error.issues[0]?.message ?? 'invalid report' };
  const records: UsageReportRecord[] = [];
  const rejected: RejectedRecord[] = [];
  for (const raw of frame.data.records) {
    const parsed = UsageReportRecordSchema.safeParse(raw);
    if (parsed.success) records.push(parsed.data);
    else {
      const issue = parsed.error.issues[0];
      rejected.push({ seq: seqOf(raw), reason: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid record'}` });
    }
  }
  const rejectedThrough = rejected.reduce((max, r) => Math.max(max, r.seq ?? 0), 0);
  const window = frame.data.window;
  return { ok: true, report: { pod: frame.data.pod, records, ...(window === undefined ? {} : { window }) }, rejected, rejectedThrough };
}
