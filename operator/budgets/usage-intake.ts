import { z } from 'zod';
import { SendWindowSchema, type UsageReport, UsageReportRecordSchema, type UsageReportRecord } from '../../dataplane/config/usage-report.js';

/**
 * What one record may charge. Every pod's usage answer carries every Budget's spend, and JSON has no
 * Infinity (it is sent as null, which pods refuse): two records at a tenant's own price of
 * `perRequest: 1.7e308` made one Budget's sum Infinity and every pod of the installation refuse
 * every answer from then on. A record past this is charged this much, still far past any Budget.
 */
export const MAX_RECORD_USD = 1e9;

/** A record's time must be one a Date can hold (ms since epoch): the day and period math formats it. */
const MAX_RECORD_AT_MS = 8.64e15;

/**
 * A namespace name (an RFC 1123 label). UsageHistory keys its reports `<namespace>/<day>`: a slash
 * in one made it write a UsageReport named after the rest into another namespace.
 */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The report's frame; its records are checked one by one. */
const ReportFrameSchema = z.object({
  // A pod name (a DNS subdomain): it becomes a key of every charged Budget's status.appliedThrough.
  pod: z.string().min(1).max(253),
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
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      rejected.push({ seq: seqOf(raw), reason: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid record'}` });
    } else if (!(parsed.data.at >= 0 && parsed.data.at <= MAX_RECORD_AT_MS)) {
      // Before, `new Date(at).toISOString()` threw while counting: the report was answered 503 and
      // resent for ever, every later record of the pod held behind it.
      rejected.push({ seq: parsed.data.seq, reason: `at: ${parsed.data.at} is not a time (ms since 1970, at most ${MAX_RECORD_AT_MS})` });
    } else if (parsed.data.request !== undefined && !NAMESPACE.test(parsed.data.request.namespace)) {
      rejected.push({ seq: parsed.data.seq, reason: `request.namespace: ${JSON.stringify(parsed.data.request.namespace)} is not a namespace name` });
    } else {
      const record = parsed.data;
      if (record.costUsd > MAX_RECORD_USD) record.costUsd = MAX_RECORD_USD;
      records.push(record);
    }
  }
  const rejectedThrough = rejected.reduce((max, r) => Math.max(max, r.seq ?? 0), 0);
  const window = frame.data.window;
  return { ok: true, report: { pod: frame.data.pod, records, ...(window === undefined ? {} : { window }) }, rejected, rejectedThrough };
}
