import { randomBytes } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { Dataplane, type DataplaneOptions } from '../dataplane/main/dataplane.js';
import { governanceFromEnv } from '../dataplane/main/governance-from-env.js';
import type { BudgetStatusOf, DevConsole } from './dev-console.js';
import { newApiKeyHashKey } from '../dataplane/config/api-key-digest.js';
import { periodBounds } from '../dataplane/config/budget-period.js';
import { compile } from '../operator/compile/compile.js';
import { LocalRetention } from '../operator/retention/local-retention.js';
import { DirectorySource } from '../operator/sources/directory-source.js';
import { formatManifestError, type LoadResult } from '../operator/sources/manifest-loader.js';
import { egressCompileInput } from '../dataplane/config/egress-guard.js';

export interface DevOptions {
  dir: string;
  host: string;
  port: number;
  drainTimeoutMs: number;
  /** How long Ctrl-C keeps idle keep-alive connections open (default 1 s: no Service in front of a laptop). */
  idleConnectionGraceMs?: number;
  /** How long a client has to send a request's headers (tests shorten it). */
  headersTimeoutMs?: number;
  logger: Logger;
  /** Where metered usage goes; by default a debug log line (the access log already carries tokens and cost). */
  usage?: DataplaneOptions['usage'];
  /** Enforce identity and route access as a cluster data plane does (off by default in dev). */
  auth?: DataplaneOptions['auth'];
  /** Traces are recorded with this tracer; none when absent. */
  tracer?: Tracer;
  /** Also serve the admin port (probes; GET /metrics and /debug/route with the admin token). */
  adminPort?: number;
  /** The admin port's token; random when absent (see DevGateway.adminToken). */
  adminToken?: string;
  /** The installation key for API key HMACs; random per process when absent (the CLI keeps one on disk). */
  apiKeyHashKey?: string;
  /** Rate limits and response cache; per-process memory backends when absent. */
  governance?: Required<Pick<DataplaneOptions, 'rateLimiter' | 'cache'>>;
  /** Request body size limits; the data plane's defaults when absent. */
  bodyLimits?: DataplaneOptions['bodyLimits'];
  /** Bytes of large upstream answers read whole held at once (--max-inflight-response-bytes); the data plane's default when absent. */
  maxInflightResponseBytes?: number;
  /** Every finished inference request, as usage history counts it. */
  onRequest?: DataplaneOptions['onRequest'];
  /** DataPolicy capture queue sizes and batching instead of the defaults. */
  capture?: DataplaneOptions['capture'];
  /** How long metric series of deleted objects are still shown (tests). */
  metricSeriesGraceMs?: number;
  /** Between two retention sweeps of localDirectory capture destinations (default 1 minute). */
  retentionIntervalMs?: number;
}

export interface DevGateway {
  dataplane: Dataplane;
  url: string;
  /** The admin port's URL (GET /metrics) when `adminPort` was given. */
  adminUrl?: string;
  /** Bearer token of the admin port's endpoints other than the probes. */
  adminToken: string;
  /** Reloads the manifests now (the watcher does this on its own too). */
  reload(): LoadResult;
  /** The retention sweep of localDirectory capture destinations (`pass()` sweeps now). */
  retention: LocalRetention;
  stop(): Promise<{ drained: boolean }>;
}

/** `tollgate dev`: manifests on disk → compile → the data plane, reloaded on change. */
export async function startDev(opts: DevOptions): Promise<DevGateway> {
  const { logger } = opts;
  const governance = opts.governance ?? (await governanceFromEnv({}, logger));
  const adminToken = opts.adminToken ?? randomBytes(32).toString('hex');
  const apiKeyHashKey = opts.apiKeyHashKey ?? newApiKeyHashKey();
  // The console on the admin port: this process's usage history and manifests, read with the admin token.
  // Its Budgets carry the spend this process enforces (no operator persists a status in dev).
  const budgetStatus: BudgetStatusOf = (id, now) => {
    const budget = dataplane.store.current?.snapshot.budgets.find((b) => b.id === id);
    if (budget === undefined) return undefined;
    const { spent, resetsAt } = dataplane.ledger.spent(budget, now);
    // RFC 3339 in seconds, as the operator writes Budget.status.
    const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
    return {
      spent,
      remaining: Math.max(0, budget.amount - spent),
      periodStart: iso(periodBounds(budget.period, budget.timeZone, budget.windowMs, now).start),
      ...(resetsAt === undefined ? {} : { resetsAt: iso(resetsAt) }),
    };
  };
  // The console and its router are loaded with the admin port only (express, the usage history's day
  // tables: heap a gateway without one would hold for nothing).
  const devConsole: DevConsole | undefined = opts.adminPort === undefined ? undefined : new (await import('./dev-console.js')).DevConsole(adminToken, budgetStatus);
  const consoleRouter = devConsole === undefined ? undefined : (await import('../operator/console/console-routes.js')).consoleRouter;
  const onRequest: DataplaneOptions['onRequest'] = (request, cost) => {
    devConsole?.record(request, cost);
    opts.onRequest?.(request, cost);
  };
  const dataplane = new Dataplane({
    host: opts.host,
    port: opts.port,
    logger,
    drainTimeoutMs: opts.drainTimeoutMs,
    idleConnectionGraceMs: opts.idleConnectionGraceMs ?? 1_000,
    ...(opts.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: opts.headersTimeoutMs }),
    rateLimiter: governance.rateLimiter,
    cache: governance.cache,
    ...(opts.auth === undefined ? {} : { auth: opts.auth }),
    ...(opts.tracer === undefined ? {} : { tracer: opts.tracer }),
    ...(opts.bodyLimits === undefined ? {} : { bodyLimits: opts.bodyLimits }),
    ...(opts.maxInflightResponseBytes === undefined ? {} : { maxInflightResponseBytes: opts.maxInflightResponseBytes }),
    ...(opts.capture === undefined ? {} : { capture: opts.capture }),
    ...(opts.metricSeriesGraceMs === undefined ? {} : { metricSeriesGraceMs: opts.metricSeriesGraceMs }),
    onRequest,
    ...(opts.adminPort === undefined
      ? {}
      : { admin: { host: opts.host, port: opts.adminPort, token: adminToken, ...(devConsole === undefined || consoleRouter === undefined ? {} : { open: (app) => app.use(consoleRouter(devConsole)) }) } }),
    usage: opts.usage ?? { record: (u) => logger.debug({ usage: u }, 'usage') },
  });
  const onLoad = (result: LoadResult): void => {
    for (const skipped of result.ignored) logger.debug(`ignored ${skipped}`);
    if (result.errors.length > 0) {
      for (const e of result.errors) logger.error(`invalid manifest: ${formatManifestError(e)}`);
      const kept = dataplane.store.current?.snapshot.version;
      logger.error(kept === undefined ? 'no valid configuration yet; not serving' : `change refused; still serving snapshot ${kept}`);
      return;
    }
    devConsole?.loaded(result.input);
    const { snapshot, statuses, leftOutApiKeys, copiedApiKeys } = compile({ ...result.input, apiKeyHashKey, localCaptureDestinations: true, ...egressCompileInput() });
    // Secrets have no status: what the operator says in an Event on the Secret, dev logs.
    for (const k of leftOutApiKeys ?? []) logger.warn(`Secret ${k.namespace}/${k.name}: ${k.reason}: API key ${k.message}`);
    for (const k of copiedApiKeys ?? []) logger.warn({ copies: k.copies }, `Secret ${k.namespace}/${k.name}: ${k.reason}: API key ${k.message}`);
    for (const s of statuses) {
      for (const c of s.conditions) {
        // Conflicted is the one condition whose True is the bad state.
        if ((c.status === 'False') !== (c.type === 'Conflicted')) logger.warn(`${s.kind} ${s.namespace}/${s.name}: ${c.type}=False (${c.reason}): ${c.message}`);
      }
    }
    const applied = dataplane.store.apply(snapshot);
    if (!applied.ok) logger.error(`snapshot refused: ${applied.error}`);
    else if (applied.changed) logger.info({ version: applied.version, routes: snapshot.routes.length, providers: snapshot.providers.length }, 'snapshot applied');
  };
  const source = new DirectorySource(opts.dir, onLoad);
  source.start();
  // DataPolicy retention of localDirectory destinations, as the operator sweeps buckets.
  const retention = new LocalRetention({ policies: () => dataplane.store.current?.snapshot.dataPolicies, logger, ...(opts.retentionIntervalMs === undefined ? {} : { intervalMs: opts.retentionIntervalMs }) });
  retention.start();
  const address = await dataplane.start();
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  const admin = dataplane.adminAddress;
  return {
    dataplane,
    url: `http://${host}:${address.port}`,
    ...(admin === undefined ? {} : { adminUrl: `http://${host}:${admin.port}` }),
    adminToken,
    reload: () => source.load(),
    retention,
    stop: async () => {
      source.stop();
      // Draining starts at once (callers check it right after stop()); the sweep ends meanwhile.
      const shutdown = dataplane.shutdown();
      await retention.stop();
      return shutdown;
    },
  };
}
