import express, { type Express, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SMALL_BODY_LIMIT } from '../../dataplane/config/channel-answers.js';
import { closeUnreadBodies, jsonErrors, jsonNotFound, requireMetricsToken, requireToken } from './channel-guard.js';
import type { UsageAggregator } from '../budgets/usage-aggregator.js';
import { parseUsageReport, type RejectedRecord } from '../budgets/usage-intake.js';
import type { UsageTerm } from '../budgets/usage-term.js';
import type { UsageHistory } from '../usage/usage-history.js';
import { consoleRouter, type ViewerReader } from '../console/console-routes.js';
import type { Distributor } from './distributor.js';
import { namesLines, SNAPSHOT_LINES_TYPE } from '../../dataplane/config/snapshot-lines.js';
import { jsonShapeProblem } from '../../dataplane/config/json-shape-scan.js';

/**
 * Nesting a usage report may have (a real one has 6 levels). Checked over the bytes before
 * JSON.parse: before, any JSON up to the 4 MB limit was parsed, and nested arrays held the leader's
 * event loop (every pod's usage answers, the snapshot pushes) for about a second. The element count
 * is not bounded beyond the body size: 5,000 records with their usage-history parts are ~300,000.
 */
const MAX_REPORT_DEPTH = 16;

/** The report body as JSON, or why not. */
function reportBody(raw: unknown): { ok: true; body: unknown } | { ok: false; error: string } {
  if (!Buffer.isBuffer(raw)) return { ok: true, body: raw }; // not JSON: the report check says what is missing
  if (jsonShapeProblem(raw, MAX_REPORT_DEPTH, Number.POSITIVE_INFINITY) !== undefined) return { ok: false, error: `nests objects and arrays deeper than ${MAX_REPORT_DEPTH} levels` };
  try {
    return { ok: true, body: JSON.parse(raw.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
}

export interface OperatorServerDeps {
  /** The admin token, or it and the previous one while a rotation is under way (pods started before it report with the previous). */
  token: string | readonly string[];
  /** Accepted (besides the admin token) on GET /metrics only: the token Prometheus holds. */
  metricsToken?: string;
  usage: UsageAggregator;
  /** Usage history (UsageReport objects); absent in tests that exercise only budgets. */
  history?: Pick<UsageHistory, 'handle' | 'flushIntervalMs'>;
  /** The leader's intake term (send windows); without it every report is answered as before windows. */
  term?: UsageTerm;
  /** The read-only console at /console/ (reads the Kubernetes API with each viewer's own token). */
  console?: ViewerReader;
  distributor: Distributor;
  registry: Registry;
  isReady: () => boolean;
  isLeader: () => boolean;
  /**
   * Which pod may report under which name (ReportingPods): a report it refuses is answered 403, its
   * records are not counted, and the pod keeps them. Absent: every name is taken (tests).
   */
  reporters?: { check(reporter: string, remoteAddress: string | undefined): string | undefined };
  /** A report refused by `reporters` (for the log and a metric). */
  onRefusedReport?: (pod: string, remoteAddress: string | undefined, reason: string) => void;
  /** Records of a report that cannot be counted: dropped (and acknowledged) rather than refusing the report. */
  onRejectedUsage?: (pod: string, rejected: readonly RejectedRecord[]) => void;
  logger: Logger;
}

/**
 * 503 from a standby (or a leader that has not reconciled yet), and the connection closed: data-plane
 * pods reach the operator through its Service, which picks a backend per connection, so a kept-alive
 * connection to a standby would get this answer forever while the leader sits idle. A new connection
 * on the next try can land on the leader.
 */
function notHere(res: Response, error: string): void {
  res.status(503).set({ 'retry-after': '1', connection: 'close' }).json({ error });
}

const flushInterval = (deps: OperatorServerDeps): { flushIntervalMs?: number } =>
  deps.history === undefined ? {} : { flushIntervalMs: deps.history.flushIntervalMs };

/**
 * Probes (open), and behind the token (checked before any body is read): metrics, usage reports
 * from data-plane pods, and the current snapshot for pods that start (pull).
 */
export function createOperatorApp(deps: OperatorServerDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(closeUnreadBodies(deps.token));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.isReady();
    res.status(ready ? 200 : 503).json({ ready, leader: deps.isLeader() });
  });
  // Before the token check: the console's viewers bring their own Kubernetes credentials.
  if (deps.console !== undefined) app.use(consoleRouter(deps.console));
  const metrics: RequestHandler = (_req, res, next) => {
    deps.registry.metrics().then((text) => res.type(deps.registry.contentType).send(text), next);
  };
  if (deps.metricsToken !== undefined) app.get('/metrics', requireMetricsToken(deps.metricsToken, deps.token), metrics);
  app.use(requireToken(deps.token));
  if (deps.metricsToken === undefined) app.get('/metrics', metrics);
  app.post('/v1/usage', express.raw({ type: 'application/json', limit: SMALL_BODY_LIMIT }), async (req, res) => {
    const read = reportBody(req.body);
    if (!read.ok) {
      res.status(400).json({ error: `bad usage report: ${read.error}` });
      return;
    }
    // Before the first reconcile the budgets are unknown: acknowledging now would drop the records.
    if (!deps.isLeader() || deps.distributor.envelope === undefined) {
      notHere(res, 'not the leader, or not reconciled yet');
      return;
    }
    const intake = parseUsageReport(read.body);
    if (!intake.ok) {
      res.status(400).json({ error: `bad usage report: ${intake.error}` });
      return;
    }
    const report = intake.report;
    // Before the records are looked at: a report under another pod's name could move that pod's
    // appliedThrough (its records then skipped, or counted twice).
    const refused = deps.reporters?.check(report.pod, req.socket.remoteAddress);
    if (refused !== undefined) {
      deps.onRefusedReport?.(report.pod, req.socket.remoteAddress, refused);
      res.status(403).json({ error: `usage report refused: ${refused}` });
      return;
    }
    if (intake.rejected.length > 0) deps.onRejectedUsage?.(report.pod, intake.rejected);
    // A windowed report that does not continue what this term has is not counted: the answer sends
    // the pod back to its durable point (it resends everything not persisted, with this epoch).
    const admission = report.window === undefined ? undefined : deps.term?.admit(report);
    const resync = deps.term !== undefined && report.window !== undefined && admission === undefined;
    try {
      const answer = await deps.usage.handle(resync ? { pod: report.pod, records: [] } : report);
      if (resync) {
        res.json({ ...answer, ackedThrough: 0, epoch: deps.term?.epoch, ...flushInterval(deps) });
        return;
      }
      // History writes are batched: records not yet in a UsageReport are not acknowledged.
      const written = deps.history === undefined ? Infinity : await deps.history.handle(report);
      if (admission === undefined || deps.term === undefined) {
        // A pod without the window sends its oldest records first: acknowledged through the last one.
        res.json({ ...answer, ackedThrough: Math.min(Math.max(answer.ackedThrough, intake.rejectedThrough), written) });
        return;
      }
      const last = Math.max(answer.ackedThrough, intake.rejectedThrough, report.window?.after ?? 0);
      const received = deps.term.received(admission, report.pod, last);
      if (received === undefined) throw new Error('the usage term ended while counting (leadership or a failed write)');
      res.json({ ...answer, ackedThrough: Math.min(received, written), epoch: admission.epoch, receivedThrough: received, ...flushInterval(deps) });
    } catch (err) {
      // Nothing is acknowledged: the pod resends, and sequence numbers keep the retry from counting twice.
      deps.logger.warn({ err: (err as Error).message }, 'usage report not persisted');
      res.status(503).json({ error: 'usage not persisted; retry' });
    }
  });
  app.get('/v1/snapshot', (req, res) => {
    // The line form to pods that ask for it (they parse it in slices); JSON to pods from before it.
    // (No line form when it would not fit a pod's body limit: JSON then.)
    const lines = namesLines(req.headers.accept) && deps.distributor.wireLines !== undefined;
    const body = lines ? deps.distributor.wireLines : deps.distributor.wireBody;
    if (!deps.isLeader() || body === undefined) {
      notHere(res, 'no snapshot here: not the leader or not reconciled yet');
      return;
    }
    // The wire form carries the credentials in clear (the channel is authenticated, TLS by default).
    res.vary('accept');
    if (lines) res.type(SNAPSHOT_LINES_TYPE).send(body);
    else res.type('json').send(body);
  });
  app.use(jsonNotFound);
  app.use(jsonErrors(deps.logger));
  return app;
}
