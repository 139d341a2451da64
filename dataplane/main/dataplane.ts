import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { Agent } from '../config/undici.js';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, Server as NetServer, type Socket } from 'node:net';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { SnapshotStore } from '../runtime/snapshot-store.js';
import type { UsageSink } from '../metering/usage-record.js';
import { UsageTotals } from '../metering/usage-record.js';
import type { AdminDeps } from '../admin/admin-app.js';
import type { Authenticator } from '../governance/identity/authenticator.js';
import { BudgetAdmitter } from '../governance/budget/budget-admitter.js';
import { ExactBudgetAdmitter } from '../governance/budget/exact-budget-admitter.js';
import { isExact } from '../config/exact-budget-ledger.js';
import { type CaMaterial, followCaFile, followTlsFiles, type TlsMaterial } from '../config/tls-files.js';
import type { Admitter } from '../governance/types.js';
import type { Snapshot } from '../config/snapshot.js';
import type { Redis } from 'ioredis';
import { BudgetLedger } from '../governance/budget/budget-ledger.js';
import { UsageReporter } from '../governance/budget/usage-reporter.js';
import type { RequestUsage } from '../config/request-usage.js';
import type { ResponseCacheHandle } from '../governance/cache/create-response-cache.js';
import type { RateLimitAdmitter } from '../governance/rate-limit/rate-limit-admitter.js';
import { pullSnapshot } from '../admin/snapshot-puller.js';
import { createChannelServer, secureContextOf, trustingConnector } from '../config/channel-connections.js';
import { EndpointPickers } from '../routing/endpoints/endpoint-pickers.js';
import { ActiveHealthChecker } from '../routing/health/active-health.js';
import { TargetHealth } from '../routing/health/target-health.js';
import { Router } from '../routing/router.js';
import { TargetStats } from '../routing/target-stats.js';
import { configuredTargets } from '../routing/configured-targets.js';
import { retirablePromMetric } from '../telemetry/series-retirement.js';
import { isLoopbackHost } from '../server/browser-origin.js';
import { createPublicHandler } from '../server/public-server.js';
import { RealtimeProxy } from '../server/realtime/realtime-proxy.js';
import { ByteBudget } from '../core/byte-budget.js';
import { DEFAULT_MAX_INFLIGHT_RESPONSE_BYTES } from '../config/route-limits.js';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLIGHT_BODY_BYTES, DEFAULT_MAX_JSON_ELEMENTS, type RequestBodyLimits } from '../server/body/json-body.js';
import { GatewayTelemetry } from '../telemetry/gateway-telemetry.js';
import { registerUsageBacklog, registerUsageRecordsMerged, registerUsageReportFailures } from '../telemetry/usage-backlog-metrics.js';
import { registerCacheBackendErrors, registerRateLimitBackendErrors } from '../telemetry/rate-limit-backend-metrics.js';
import { HttpTransport } from '../upstream/http-transport.js';
import { CaptureService, type CaptureServiceOptions } from '../policy/capture/capture-service.js';
import { createCaptureMetrics } from '../policy/capture/capture-metrics.js';
import { captureSampler } from '../policy/capture/capture-sampler.js';
import { RunningRequests } from '../server/running-requests.js';
import { answerUnanswered, closedWithin } from '../server/unanswered.js';
import { UnattendedAnswers } from '../server/passthrough/unattended-answers.js';
import { LiveStreams } from '../server/live-streams.js';
import { errors } from '../core/gateway-error.js';
import { shutdownDeadlineMs, usageReportBudgetMs } from './shutdown-deadline.js';

/**
 * How long a client has to send a request's headers: from the connection's start for its first
 * request, from the first byte of the headers for later ones (node's headersTimeout).
 */
export const HEADERS_TIMEOUT_MS = 15_000;

/** How long streams cut at the end of a drain get to write their error event before connections close. */
const STREAM_CUT_GRACE_MS = 1_000;
/** How long requests whose upstream calls were cut at exit get to be metered before usage is reported. */
const CUT_REQUESTS_SETTLE_MS = 1_000;
/** Time the spans get at least, even when the rest of the shutdown took all of its deadline. */
const MIN_SPAN_FLUSH_MS = 250;
/** Time closing the clients gets at least, likewise. */
const MIN_CLOSE_MS = 250;

export interface DataplaneOptions {
  /** Every finished inference request (usage history without an operator: `tollgate dev`'s console). */
  onRequest?: (request: RequestUsage, costUsd: number) => void;
  host: string;
  port: number;
  logger: Logger;
  /** Request body size and bytes of bodies held at once (defaults in server/body/json-body.ts). */
  bodyLimits?: Partial<RequestBodyLimits>;
  /** Bytes of large upstream answers read whole held at once by the process (default DEFAULT_MAX_INFLIGHT_RESPONSE_BYTES). */
  maxInflightResponseBytes?: number;
  /** How long SIGTERM waits for in-flight requests and streams. */
  drainTimeoutMs?: number;
  /**
   * How long a draining data plane keeps an idle keep-alive connection open for its client's next
   * request (answered with `connection: close`), counted from its last response or the drain's
   * start, whichever is later. Default: the whole drain timeout. Behind a Service, clients keep
   * connections to a pod that is being removed, and closing one races a client that is sending on
   * it; a client starved of CPU for more than a second did (a failed request on a real node).
   */
  idleConnectionGraceMs?: number;
  /** How long a client has to send a request's headers (default HEADERS_TIMEOUT_MS). */
  headersTimeoutMs?: number;
  usage?: UsageSink;
  /** Admin port for snapshot pushes from the operator; off when absent. */
  admin?: { host: string; port: number; token: string; metricsToken?: string; tls?: TlsMaterial; open?: AdminDeps['open'] };
  /** CA of the operator's certificate when operatorUrl is https; a file is read again every minute (followCaFile). */
  operatorCa?: CaMaterial;
  /** The name the operator's certificate carries, when it is not the host of operatorUrl (SNI and verification). */
  operatorServerName?: string;
  /** Operator URL to pull the current snapshot from at start. */
  operatorUrl?: string;
  /** Traces are recorded with this tracer (see telemetry/otel-sdk.ts); none when absent. */
  tracer?: Tracer;
  /** Caller identity and route access; absent = anonymous callers may use every route. */
  auth?: Authenticator;
  /** Exact budgets: holds and spend in this Redis (calendar periods); absent = reported budgets only. */
  exactBudgets?: { client: Redis; keyPrefix: string; holdTimeoutMs: number };
  /** Not ready (GET /readyz 503) while `auth` cannot verify ServiceAccount tokens (no TokenReview access). */
  requireServiceAccounts?: boolean;
  /** Rate limits (per-pod buckets or Redis); none when absent. */
  rateLimiter?: RateLimitAdmitter;
  /** Response cache for routes that enable it. */
  cache?: ResponseCacheHandle;
  /** Names this pod in usage reports (POD_NAME in a cluster); a random suffix is added per start. */
  podName?: string;
  /** DataPolicy capture queues (sizes, batching) and destination writers instead of the defaults. */
  capture?: Omit<CaptureServiceOptions, 'metrics'>;
  /** How long metric series of objects gone from the configuration are still shown (default RETIRE_AFTER_MS; tests shorten it). */
  metricSeriesGraceMs?: number;
  /**
   * Exports the spans still buffered, within `timeoutMs` (tracing on): shutdown calls it once the
   * requests have ended, in parallel with its last steps and bounded by its deadline.
   */
  flushSpans?: (timeoutMs: number) => Promise<void>;
}

export const NO_TOKEN_REVIEW =
  'no TokenReview access: ServiceAccount tokens cannot be verified and get 401 (set --kubeconfig or KUBECONFIG, or run in a pod with its ServiceAccount token mounted)';

export const AWAITING_USAGE_ANSWER =
  'Budgets apply and the operator has not yet answered a usage report: the spend persisted in Budget.status is unknown, and budgeted requests would get 503 budget_unavailable';

/** The data-plane process: one snapshot store, one router, one HTTP server. */
export class Dataplane {
  readonly store: SnapshotStore;
  readonly usage: UsageSink;
  /** Traces, Prometheus metrics (GET /metrics on the admin port) and the access log. */
  readonly telemetry: GatewayTelemetry;
  /** DataPolicy capture: the policies of the current snapshot, their queues and destinations. */
  readonly capture: CaptureService;
  private readonly transport = new HttpTransport();
  private readonly router: Router;
  /** Endpoint picking, with the vLLM pod scrapers it runs; synced to every new snapshot. */
  readonly endpoints = new EndpointPickers({ scrape: true });
  private server: Server | undefined;
  private realtime: RealtimeProxy | undefined;
  private adminServer: Server | undefined;
  private readonly stopPull = new AbortController();
  private stopTlsFollow: () => void = () => undefined;
  adminAddress: AddressInfo | undefined;
  private inflight = 0;
  private readonly running = new RunningRequests();
  /** Pass-through answers read on, or awaited, after their clients left: no connection holds them open. */
  private readonly unattended = new UnattendedAnswers();
  private readonly liveStreams = new LiveStreams();
  private draining = false;
  /**
   * Open client connections: the requests in flight on each, since when it is idle (ms), and the
   * responses queued behind another on a pipelined one (only there: see the 'request' listener).
   */
  private readonly connections = new Map<Socket, { busy: number; idleSince: number; firstRequest: NodeJS.Timeout | undefined; queued?: ServerResponse[] }>();
  /** Budget enforcement: spend known to this pod, and the reports that carry it to the operator. */
  readonly ledger: BudgetLedger;
  readonly reporter: UsageReporter;
  private readonly budgets: Admitter[];
  private readonly exactBudgets: ExactBudgetAdmitter | undefined;
  private readonly reportedBudgets: BudgetAdmitter;
  private readonly operatorAgent: Agent | undefined;
  private readonly operatorTrust: ReturnType<typeof trustingConnector> | undefined;
  private stopCaFollow: () => void = () => undefined;
  private readonly activeHealth: ActiveHealthChecker;

  private readonly bodyLimits: RequestBodyLimits;
  /** Bytes of request bodies held right now, across every request of this process. */
  readonly bodyBudget: ByteBudget;

  constructor(private readonly opts: DataplaneOptions) {
    this.bodyLimits = {
      maxBodyBytes: opts.bodyLimits?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      maxInflightBodyBytes: opts.bodyLimits?.maxInflightBodyBytes ?? DEFAULT_MAX_INFLIGHT_BODY_BYTES,
      maxJsonElements: opts.bodyLimits?.maxJsonElements ?? DEFAULT_MAX_JSON_ELEMENTS,
    };
    // One body of the largest size must always fit, or such a request could never be served.
    if (this.bodyLimits.maxInflightBodyBytes < this.bodyLimits.maxBodyBytes) {
      throw new Error(`the bytes of request bodies held at once (${this.bodyLimits.maxInflightBodyBytes}) must be at least the largest body (${this.bodyLimits.maxBodyBytes})`);
    }
    this.bodyBudget = new ByteBudget(this.bodyLimits.maxInflightBodyBytes);
    // A pod that restarts starts a new report sequence, so it gets a new name in the idempotency key.
    const pod = `${opts.podName ?? hostname()}-${randomBytes(4).toString('hex')}`;
    this.operatorTrust = opts.operatorCa === undefined ? undefined : trustingConnector({ ca: opts.operatorCa.ca, ...(opts.operatorServerName === undefined ? {} : { servername: opts.operatorServerName }) });
    this.operatorAgent = this.operatorTrust === undefined ? undefined : new Agent({ connect: this.operatorTrust.connect });
    this.ledger = new BudgetLedger(pod, { standalone: opts.operatorUrl === undefined });
    this.reporter = new UsageReporter(this.ledger, {
      logger: opts.logger,
      ...(opts.operatorUrl === undefined ? {} : { operatorUrl: opts.operatorUrl }),
      ...(opts.admin === undefined ? {} : { token: opts.admin.token }),
      onReplicas: (n) => opts.rateLimiter?.setReplicas(n),
      ...(this.operatorAgent === undefined ? {} : { dispatcher: this.operatorAgent }),
    });
    const exact = opts.exactBudgets;
    if (exact === undefined) {
      this.reportedBudgets = new BudgetAdmitter(this.ledger, this.reporter);
      this.budgets = [this.reportedBudgets];
    } else {
      this.exactBudgets = new ExactBudgetAdmitter({ ...exact, pod, logger: opts.logger });
      // Rolling windows are not kept in Redis: the reported ledger keeps them.
      this.reportedBudgets = new BudgetAdmitter(this.ledger, this.reporter, Date.now, (b) => !isExact(b));
      this.budgets = [this.exactBudgets, this.reportedBudgets];
    }
    this.store = new SnapshotStore(this.transport);
    this.store.onChange((runtime) => this.endpoints.sync(runtime));
    this.usage = opts.usage ?? new UsageTotals();
    this.telemetry = new GatewayTelemetry({
      logger: opts.logger,
      store: this.store,
      ...(opts.tracer === undefined ? {} : { tracer: opts.tracer }),
      ...(opts.metricSeriesGraceMs === undefined ? {} : { seriesGraceMs: opts.metricSeriesGraceMs }),
      onRequest: (request, cost) => {
        this.reporter.reportRequest(request, cost);
        opts.onRequest?.(request, cost);
      },
    });
    registerUsageBacklog(this.telemetry.metrics.registry, () => this.reporter.backlog());
    registerUsageRecordsMerged(this.telemetry.metrics.registry, () => this.reporter.merged);
    registerUsageReportFailures(this.telemetry.metrics.registry, () => this.reporter.failures);
    const rateLimiter = opts.rateLimiter;
    if (rateLimiter !== undefined) registerRateLimitBackendErrors(this.telemetry.metrics.registry, () => rateLimiter.stats);
    const cache = opts.cache;
    if (cache !== undefined) registerCacheBackendErrors(this.telemetry.metrics.registry, () => cache.stats);
    // Records are redacted and serialised on a worker thread unless TOLLGATE_CAPTURE_WORKER=off (docs/data-policy.md).
    const captureWorker = process.env.TOLLGATE_CAPTURE_WORKER?.trim().toLowerCase() !== 'off';
    // Sampled by a key derived from the admin token: every data plane of the installation holds it, no caller does.
    const captureMetrics = createCaptureMetrics(this.telemetry.metrics.registry);
    this.telemetry.metrics.retirement.track(...captureMetrics.series.map(retirablePromMetric));
    this.capture = new CaptureService({ worker: captureWorker, sampler: captureSampler(opts.admin?.token), ...opts.capture, metrics: captureMetrics });
    this.store.onChange((runtime) => this.capture.apply(runtime.snapshot.dataPolicies));
    const health = new TargetHealth({ onState: (providerId, model, state) => this.telemetry.circuitState(providerId, model, state) });
    const stats = new TargetStats();
    // State kept per configured object goes with the object (a tenant creating and deleting them must not grow every data plane).
    this.store.onChange(({ snapshot }) => {
      const targets = configuredTargets(snapshot);
      stats.retainOnly(targets);
      health.retainOnly(targets);
      this.ledger.retainBudgets(new Set(snapshot.budgets.map((b) => b.id)));
      // The default sink when none is given (in a cluster too): totals per route ever served.
      if (this.usage instanceof UsageTotals) this.usage.retainRoutes(new Set(snapshot.routes.map((r) => r.id)));
    });
    this.router = new Router({
      stats,
      responseBudget: new ByteBudget(opts.maxInflightResponseBytes ?? DEFAULT_MAX_INFLIGHT_RESPONSE_BYTES),
      endpoints: this.endpoints,
      health,
      onSkip: (route, target, reason) => this.telemetry.targetSkipped(route.id, target.providerId, target.model, reason),
    });
    this.activeHealth = new ActiveHealthChecker(health, opts.logger);
    this.store.onChange((runtime) => this.activeHealth.sync(runtime));
  }

  /** The served snapshot has a Budget the reported ledger keeps (every Budget, or in exact mode those Redis does not). */
  private servesReportedBudgets(): boolean {
    const budgets = this.store.current?.snapshot.budgets ?? [];
    return this.exactBudgets === undefined ? budgets.length > 0 : budgets.some((b) => !isExact(b));
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async start(): Promise<AddressInfo> {
    const trust = this.operatorTrust;
    if (trust !== undefined && this.opts.operatorCa !== undefined) this.stopCaFollow = followCaFile(this.opts.operatorCa, (ca) => trust.trust(ca), this.opts.logger);
    const handler = createPublicHandler({
      store: this.store,
      router: this.router,
      usage: this.usage,
      logger: this.opts.logger,
      bodyLimits: this.bodyLimits,
      bodyBudget: this.bodyBudget,
      isDraining: () => this.draining,
      observer: this.telemetry,
      admitters: this.budgets,
      ...(this.opts.rateLimiter === undefined ? {} : { rateLimiter: this.opts.rateLimiter }),
      ...(this.opts.cache === undefined ? {} : { cache: this.opts.cache }),
      transport: this.transport,
      capture: this.capture,
      running: this.running,
      unattended: this.unattended,
      liveStreams: this.liveStreams,
      ...(this.opts.auth === undefined ? {} : { auth: this.opts.auth }),
      loopbackOnly: isLoopbackHost(this.opts.host),
    });
    // Node closes a keep-alive connection whose next request's headers stall (headersTimeout, checked
    // every connectionsCheckingInterval), but never a new connection that sends nothing or part of
    // its first request's headers: those are closed by the timer below. Without both, idle sockets
    // held file descriptors for ever.
    const headersTimeout = this.opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
    const server = createHttpServer({ connectionsCheckingInterval: Math.min(5_000, headersTimeout) }, handler);
    server.listen(this.opts.port, this.opts.host);
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = headersTimeout;
    // GET /v1/realtime: WebSocket upgrades, proxied where a route enables the realtime endpoint.
    this.realtime = new RealtimeProxy({ store: this.store, router: this.router, usage: this.usage, observer: this.telemetry, logger: this.opts.logger, isDraining: () => this.draining, loopbackOnly: isLoopbackHost(this.opts.host), admitters: this.budgets, ...(this.opts.rateLimiter === undefined ? {} : { rateLimiter: this.opts.rateLimiter }), ...(this.opts.auth === undefined ? {} : { auth: this.opts.auth }) });
    const realtime = this.realtime;
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      // No longer an HTTP connection: its first-request timer would cut a WebSocket session 15 s in
      // (every session on a fresh connection, the official client's way), and the drain's idle
      // close would cut it without the close frame and charge the Realtime proxy gives it.
      const connection = this.connections.get(socket);
      if (connection !== undefined) {
        clearTimeout(connection.firstRequest);
        this.connections.delete(socket);
      }
      realtime.onUpgrade(req, socket, head);
    });
    server.on('connection', (socket: Socket) => {
      const firstRequest = setTimeout(() => socket.destroy(), headersTimeout);
      firstRequest.unref();
      this.connections.set(socket, { busy: 0, idleSince: Date.now(), firstRequest });
      socket.on('close', () => {
        clearTimeout(firstRequest);
        const queued = this.connections.get(socket)?.queued;
        this.connections.delete(socket);
        if (queued === undefined) return;
        // Responses still queued behind another when their connection closed (after an answer that
        // said `connection: close`, at the drain's end, or their client left): node never emits
        // their 'close' (they never had the socket), so their handling went on as if their client
        // were waiting, retried upstream, and kept a shutdown until its deadline. Told now.
        for (const res of queued.splice(0)) {
          // One whose turn came has the socket, or has finished: node emits its 'close'.
          if (res.socket !== null || res.writableFinished) continue;
          res.destroy();
          res.emit('close');
        }
      });
    });
    server.on('request', (req, res) => {
      this.inflight++;
      const connection = this.connections.get(req.socket);
      if (connection !== undefined) {
        connection.busy++;
        if (connection.firstRequest !== undefined) {
          clearTimeout(connection.firstRequest);
          connection.firstRequest = undefined;
        }
        // Pipelined behind a response not yet written: node queues it where nothing can reach it.
        if (res.socket === null) (connection.queued ??= []).push(res);
      }
      if (this.draining) res.setHeader('connection', 'close');
      res.on('close', () => {
        this.inflight--;
        if (connection === undefined) return;
        if (--connection.busy === 0) connection.idleSince = Date.now();
        // Its turn came (or its connection closed, which emptied the queue).
        const queued = connection.queued;
        if (queued !== undefined) {
          const at = queued.indexOf(res);
          if (at >= 0) queued.splice(at, 1);
        }
      });
    });
    await once(server, 'listening');
    this.server = server;
    this.reporter.start();
    this.exactBudgets?.start();
    const admin = this.opts.admin;
    if (admin !== undefined) {
      // Loaded only with an admin port: express and the admin routes are megabytes of heap that a
      // data plane without one (`tollgate dev` by default) would hold for nothing.
      const [{ createAdminApp }, { mountMetrics }, { mountDebugRoute }] = await Promise.all([
        import('../admin/admin-app.js'),
        import('../admin/metrics-route.js'),
        import('../admin/debug-route.js'),
      ]);
      const extend: AdminDeps['extend'] = (app) => {
        mountDebugRoute(app, {
          store: this.store,
          router: this.router,
          transport: this.transport,
          sampler: this.capture.sampler,
          maxJsonElements: this.bodyLimits.maxJsonElements,
          ...(this.opts.auth === undefined ? {} : { auth: this.opts.auth }),
        });
      };
      const unready = (): string | undefined => {
        if (this.opts.requireServiceAccounts === true && this.opts.auth?.verifiesServiceAccounts !== true) return NO_TOKEN_REVIEW;
        // Not ready rather than refusing: the Service sends a new pod nothing until its Budgets can be
        // checked (BudgetAdmitter still refuses on connections opened before).
        if (this.ledger.awaitingOperator && this.servesReportedBudgets()) return AWAITING_USAGE_ANSWER;
        return undefined;
      };
      const metrics = { mount: (app: Parameters<typeof mountMetrics>[0]) => mountMetrics(app, this.telemetry), ...(admin.metricsToken === undefined ? {} : { token: admin.metricsToken }) };
      const adminApp = createAdminApp({ store: this.store, token: admin.token, logger: this.opts.logger, isDraining: () => this.draining, unready, extend, metrics, ...(admin.open === undefined ? {} : { open: admin.open }) });
      // The same time to send a request's headers as on the public port.
      const adminServer = createChannelServer(adminApp, { ...(admin.tls === undefined ? {} : { tls: admin.tls }), headersTimeoutMs: headersTimeout });
      adminServer.listen(admin.port, admin.host);
      await once(adminServer, 'listening');
      this.adminServer = adminServer;
      const setSecureContext = secureContextOf(adminServer);
      if (setSecureContext !== undefined && admin.tls !== undefined) this.stopTlsFollow = followTlsFiles(admin.tls, setSecureContext, this.opts.logger);
      this.adminAddress = adminServer.address() as AddressInfo;
      if (this.opts.operatorUrl !== undefined) {
        void pullSnapshot(this.store, this.opts.operatorUrl, admin.token, this.opts.logger, this.stopPull.signal, this.operatorAgent);
      }
    }
    return server.address() as AddressInfo;
  }

  /**
   * Waits until every connection is gone, at most `timeoutMs`. Busy ones end after their response
   * (`connection: close`); an idle one is closed once it has been idle for `graceMs` since the
   * later of its last response and `from`. Never at a fixed instant for all: that cut connections
   * whose keep-alive response had ended a moment before, while their client was sending the next
   * request (a failed client request on a real node, during a rollout under load).
   */
  private async closeConnectionsWhenIdle(from: number, graceMs: number, timeoutMs: number): Promise<void> {
    const until = from + timeoutMs;
    for (;;) {
      const now = Date.now();
      for (const [socket, c] of this.connections) if (c.busy === 0 && now - Math.max(c.idleSince, from) >= graceMs) socket.destroy();
      if (this.connections.size === 0 || now >= until) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Graceful stop: stop accepting connections, answer what arrives on open ones with
   * `connection: close`, let requests and streams in flight finish up to the drain timeout, then
   * close what is left.
   */
  async shutdown(): Promise<{ drained: boolean }> {
    const server = this.server;
    if (server === undefined) return { drained: true };
    this.draining = true;
    this.stopPull.abort();
    const timeoutMs = this.opts.drainTimeoutMs ?? 30_000;
    // Realtime sessions are long-lived: told to reconnect (1001) rather than cut when the drain
    // ends. Each is charged as it closes, within the drain timeout (past it, at once); awaited
    // before the final usage report.
    const realtimeClosed = this.realtime?.closeAll(timeoutMs) ?? Promise.resolve(0);
    // Stop accepting connections, but keep the open ones for now: http.Server.close() would also
    // close idle keep-alive connections at once, racing a client that is just sending its next
    // request on one (behind a Service, clients keep connections to a pod being removed), and that
    // request would fail. Every response from now on says `connection: close`.
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    const drainStarted = Date.now();
    await this.closeConnectionsWhenIdle(drainStarted, Math.min(this.opts.idleConnectionGraceMs ?? timeoutMs, timeoutMs), timeoutMs);
    const drained = this.inflight === 0;
    // Requests not answered yet are answered 503 with retry-after, and streams still running are
    // cut with an error event their clients can read and retry on (a connection reset looks like a
    // network failure); their writes get a moment to leave. Found only now, through the connections
    // (unanswered.ts): tracking every request for this cost the hot path 20 % more young GCs.
    const answered = answerUnanswered(this.connections.keys(), errors.shuttingDown(timeoutMs, 'answer'));
    await Promise.all([this.liveStreams.cutAll(errors.shuttingDown(timeoutMs), STREAM_CUT_GRACE_MS), closedWithin(answered, STREAM_CUT_GRACE_MS)]);
    server.closeAllConnections();
    await closed;
    // Pass-through answers read on for clients that left (some just now, some answered 503 above:
    // those cut are charged what their admission held, marked shutdown) are charged before usage
    // is reported: waited for until the drain deadline (a second at least), then cut and charged at
    // what was read of them, at least their estimate. Before, the pod reported and exited without them.
    const cutAnswers = await this.unattended.settle(Math.max(1_000, drainStarted + timeoutMs - Date.now()));
    if (cutAnswers > 0) this.opts.logger.warn({ answers: cutAnswers }, 'pass-through answers of clients that left were cut at exit and charged at what was read of them');
    // Streams just cut are metered and charged as their handling unwinds, after their sockets
    // closed: wait for that (briefly) before reporting usage, or their spend leaves with the pod.
    if (!(await this.running.settled(Math.max(1_000, drainStarted + timeoutMs - Date.now())))) {
      // Their usage cannot be known in time (a non-streaming answer slower than the drain): what
      // they hold of reported budgets is charged instead; exact budgets' holds are charged by Redis.
      const charged = this.reportedBudgets.settleOpenAtWorstCase();
      this.opts.logger.warn({ requests: this.running.running, charged }, 'requests still running at exit; their upstream calls are cut and those under a budget were charged their worst case');
      // Cut, not waited for: the transport's close waits for every answer, and one slower than the
      // shutdown deadline kept the process until the kubelet killed it, its spans and usage unsent.
      await this.transport.destroy(errors.shuttingDown(timeoutMs));
      // Their handling unwinds (a non-streaming one answered 503 above is metered at its worst case,
      // marked `shutdown`, as its budget holds were charged just above) before usage is reported.
      await this.running.settled(CUT_REQUESTS_SETTLE_MS);
    }
    const realtimeCut = await realtimeClosed;
    if (realtimeCut > 0) this.opts.logger.warn({ connections: realtimeCut }, 'Realtime connections still open at the end of the drain were ended; responses they cut short were charged their estimate');
    const deadline = drainStarted + shutdownDeadlineMs(timeoutMs);
    // Spans go out while usage is reported and connections close, in what is left of the one
    // shutdown deadline: flushed after all of it, they got what the slowest step left over.
    const spans = this.opts.flushSpans?.(Math.max(MIN_SPAN_FLUSH_MS, deadline - Date.now())).catch(() => undefined);
    this.stopTlsFollow();
    this.stopCaFollow();
    if (this.adminServer !== undefined) {
      this.adminServer.closeAllConnections();
      await new Promise<void>((resolve) => this.adminServer?.close(() => resolve()));
    }
    // Capture records of finished requests are written out while usage is reported, in what is left
    // of the drain timeout (at least a second); what does not make it is counted as dropped (shutdown).
    const captured = this.capture.drain(Math.max(1_000, drainStarted + timeoutMs - Date.now()));
    // Spend of finished requests must reach the operator before the pod goes away: in what is left
    // of the drain timeout plus a fixed allowance, which the chart's grace period includes, so the
    // kubelet never kills the pod mid-report; a send still running then is cut.
    const reported = await this.reporter.drain(usageReportBudgetMs(drainStarted, timeoutMs, Date.now()));
    await captured;
    if (!reported) this.opts.logger.error({ unacknowledged: this.reporter.unacknowledged }, 'usage reports not acknowledged before exit');
    // Every step bounded by the deadline: a Redis or pod scrape that does not answer cannot hold the process.
    const clientsClosed = await settledWithin(this.closeClients(), Math.max(MIN_CLOSE_MS, deadline - Date.now()));
    if (!clientsClosed) {
      this.opts.logger.warn('clients not closed by the shutdown deadline: cut');
      await this.transport.destroy(errors.shuttingDown(timeoutMs));
    }
    await settledWithin(spans ?? Promise.resolve(), Math.max(MIN_SPAN_FLUSH_MS, deadline - Date.now()));
    this.server = undefined;
    return { drained };
  }

  /** Closes what the data plane is a client of (Redis, pod scrapers, upstream connections), in order. */
  private async closeClients(): Promise<void> {
    await this.exactBudgets?.stop();
    this.opts.exactBudgets?.client.disconnect();
    await this.opts.rateLimiter?.close();
    await this.opts.cache?.close();
    await this.activeHealth.close();
    await this.endpoints.close();
    await this.transport.close();
  }
}

/** Resolves true once `work` settled, false when `ms` passed first (the work goes on, unwaited). */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    work.then(
      () => true,
      () => true,
    ),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return done;
}
