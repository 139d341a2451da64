import { describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import type { Tracing } from '../telemetry/tracing.js';
import { thenFlush } from './launch.js';
import { shutdownDeadlineMs, USAGE_REPORT_ALLOWANCE_MS, usageReportBudgetMs } from './shutdown-deadline.js';

describe('the usage-report part of a shutdown', () => {
  const started = 1_000_000;

  it('gets what is left of the drain timeout plus the allowance, counted from the drain start', () => {
    // Requests finished early: the rest of the drain timeout is not spent waiting, and reports may use it.
    expect(usageReportBudgetMs(started, 30_000, started + 2_000)).toBe(28_000 + USAGE_REPORT_ALLOWANCE_MS);
    // An idle keep-alive connection held the drain to its end (and stream cuts took a second more):
    // only the allowance is left, not a second drain timeout.
    expect(usageReportBudgetMs(started, 30_000, started + 31_000)).toBe(USAGE_REPORT_ALLOWANCE_MS - 1_000);
  });

  it('is nothing once the deadline has passed', () => {
    expect(usageReportBudgetMs(started, 30_000, started + 30_000 + USAGE_REPORT_ALLOWANCE_MS + 5)).toBe(0);
  });

  it('keeps the whole shutdown inside drain timeout + allowance, whatever it is given', () => {
    for (const [drain, elapsed] of [[0, 0], [20_000, 20_000], [20_000, 25_000], [90_000, 3_000]] as const) {
      expect(elapsed + usageReportBudgetMs(started, drain, started + elapsed)).toBeLessThanOrEqual(drain + USAGE_REPORT_ALLOWANCE_MS);
    }
  });
});

describe('the span flush at the end of a shutdown', () => {
  // A collector that never answers held a drained data plane 35–45 s past SIGTERM (the chart's
  // grace period is preStop + drain + 15 s): the flush had no deadline.
  it('gets what is left of the shutdown deadline, and the process exits on time whatever the exporter does', async () => {
    let given: number | undefined;
    const hung: Tracing = { tracer: trace.getTracer('t'), flush: () => new Promise(() => undefined), shutdown: (ms) => ((given = ms), new Promise(() => undefined)) };
    // What the drain took by the clock thenFlush reads (a 200 ms timer can end 1 ms early on it).
    let drainedIn = 0;
    const stop = thenFlush(async () => {
      const from = Date.now();
      await new Promise((r) => setTimeout(r, 200));
      drainedIn = Date.now() - from;
      return { drained: true };
    }, hung, 600);
    const started = performance.now();
    expect(await stop()).toEqual({ drained: true });
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(550);
    expect(took).toBeLessThan(1_500);
    expect(given).toBeGreaterThan(300);
    expect(given).toBeLessThanOrEqual(600 - drainedIn);
    expect(shutdownDeadlineMs(30_000)).toBe(30_000 + USAGE_REPORT_ALLOWANCE_MS);
  });
});
