import type { Logger } from 'pino';

/**
 * A warning for failures that come per request (a backend down fails every request): said at most
 * once per interval per operation, with how many were not said since the last one (`suppressed`),
 * so that an outage does not flood the log. Metrics count every one.
 */
export function throttledWarning(logger: Logger, message: string, intervalMs = 10_000, now: () => number = Date.now): (err: unknown, op: string) => void {
  // Keyed by operation: a handful of fixed names.
  const last = new Map<string, { at: number; suppressed: number }>();
  return (err, op) => {
    const t = now();
    const seen = last.get(op);
    if (seen !== undefined && t - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    last.set(op, { at: t, suppressed: 0 });
    logger.warn({ err: err instanceof Error ? err.message : String(err), op, ...(suppressed > 0 ? { suppressed } : {}) }, message);
  };
}
