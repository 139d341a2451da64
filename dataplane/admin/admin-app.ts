import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { type PushResult, SnapshotEnvelopeSchema } from '../config/snapshot-envelope.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import { SNAPSHOT_BODY_LIMIT } from '../config/channel-answers.js';
import { namesLines, parseLinesSteps, SNAPSHOT_FORMATS_HEADER, SNAPSHOT_LINES_TYPE } from '../config/snapshot-lines.js';
import { runSliced } from '../config/sliced.js';
import { closeUnreadBodies, jsonErrors, jsonNotFound, requireMetricsToken, requireToken } from './channel-guard.js';

export interface AdminDeps {
  store: SnapshotStore;
  token: string;
  logger: Logger;
  isDraining: () => boolean;
  /** A reason this pod must not take traffic even with a snapshot (e.g. identity required but not verifiable). */
  unready?: () => string | undefined;
  /** Routes that check their callers themselves (`tollgate dev`'s console), mounted before the token check. */
  open?: (app: Express) => void;
  /** GET /metrics, behind the metrics token (or the admin token) when there is one, else behind the admin token with the rest. */
  metrics?: { mount: (app: Express) => void; token?: string };
  /** Extra admin routes (metrics, /debug/route) mounted by their owners, behind the token. */
  extend?: (app: Express) => void;
}

/**
 * The admin port: snapshot push from the operator, status, metrics and /debug/route (all behind
 * the bearer token, checked before any body is read), and the probes (open: kubelet has no token).
 * It is not the public port, so that a NetworkPolicy can keep it to the operator.
 */
export function createAdminApp(deps: AdminDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  const status = (): PushResult => ({
    accepted: true,
    generation: deps.store.generation,
    term: deps.store.term,
    version: deps.store.current?.snapshot.version ?? null,
  });

  app.use(closeUnreadBodies(deps.token));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const reason = deps.unready?.();
    const ready = deps.store.current !== undefined && !deps.isDraining() && reason === undefined;
    res.status(ready ? 200 : 503).json({ ready, ...status(), ...(reason === undefined ? {} : { reason }) });
  });

  deps.open?.(app);
  const metricsToken = deps.metrics?.token;
  if (metricsToken !== undefined) {
    app.use('/metrics', requireMetricsToken(metricsToken, deps.token));
    deps.metrics?.mount(app);
  }
  app.use(requireToken(deps.token));
  if (metricsToken === undefined) deps.metrics?.mount(app);
  deps.extend?.(app);
  // Every answer of the snapshot channel says that this pod reads the line form (snapshot-lines.ts):
  // the operator pushes it only to pods that say so.
  app.use('/v1/snapshot', (_req, res, next) => {
    res.set(SNAPSHOT_FORMATS_HEADER, SNAPSHOT_LINES_TYPE);
    next();
  });
  app.get('/v1/snapshot/status', (_req, res) => {
    res.json(status());
  });
  // Validated and built in slices (applyGenerationSliced): in one piece, a large snapshot held up the
  // public port's requests on this event loop for as long as that took.
  // The line form is parsed a line at a time in slices too (one JSON.parse of 6 MB held the loop
  // 50–110 ms); JSON, what operators from before it push, is still read as before.
  const linesBody = express.text({ type: SNAPSHOT_LINES_TYPE, limit: SNAPSHOT_BODY_LIMIT });
  app.put('/v1/snapshot', linesBody, express.json({ limit: SNAPSHOT_BODY_LIMIT }), async (req, res) => {
    let body: unknown = req.body;
    if (namesLines(req.headers['content-type'])) {
      const lines = typeof req.body === 'string' ? await runSliced(parseLinesSteps(req.body), deps.store.sliceOptions) : { ok: false as const, error: 'no body' };
      if (!lines.ok) {
        res.status(400).json({ ...status(), accepted: false, error: `bad envelope: ${lines.error}` });
        return;
      }
      body = lines.value;
    }
    const envelope = SnapshotEnvelopeSchema.safeParse(body);
    if (!envelope.success) {
      res.status(400).json({ ...status(), accepted: false, error: `bad envelope: ${envelope.error.issues[0]?.message ?? ''}` });
      return;
    }
    const result = await deps.store.applyGenerationSliced(envelope.data.generation, envelope.data.snapshot, envelope.data.term);
    if (!result.ok) {
      deps.logger.warn({ generation: envelope.data.generation, term: envelope.data.term, error: result.error }, 'snapshot push refused');
      res.status(result.stale === true ? 409 : 400).json({ ...status(), accepted: false, error: result.error });
      return;
    }
    if (result.changed) deps.logger.info({ generation: envelope.data.generation, term: envelope.data.term, version: result.version }, 'snapshot applied');
    res.json(status());
  });
  app.use(jsonNotFound);
  app.use(jsonErrors(deps.logger));
  return app;
}
