import { once } from 'node:events';
import type { RequestListener, Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { BudgetConfig } from '../dataplane/config/snapshot.js';
import { UsageAggregator } from './budgets/usage-aggregator.js';
import { UsageTerm } from './budgets/usage-term.js';
import { UsageHistory } from './usage/usage-history.js';
import { GuardrailEvents } from './usage/guardrail-events.js';
import { ExactBudgetMirror } from './budgets/exact-budget-mirror.js';
import { isExact } from '../dataplane/config/exact-budget-ledger.js';
import type { Redis } from 'ioredis';
import { CoalescingTrigger } from './controller/coalescing-trigger.js';
import type { EndpointSliceObject, SecretObject, ServiceObject } from './controller/kube-types.js';
import { type Caches, Reconciler } from './controller/reconciler.js';
import { Distributor } from './distribute/distributor.js';
import { createOperatorApp } from './distribute/operator-server.js';
import { ReportingPods } from './budgets/reporting-pods.js';
import type { RejectedRecord } from './budgets/usage-intake.js';
import { EventRecorder } from './kube/event-recorder.js';
import { Informer } from './kube/informer.js';
import { KubeClient, type KubeObject } from './kube/kube-client.js';
import { LeaderElector } from './kube/leader-election.js';
import { ensureInstallationSecretWithRetry, serviceAccountOwner, withRetry } from './kube/installation-secret.js';
import { ensureChannelTls, followChannelCa, type ManagedTlsConfig } from './tls/channel-tls.js';
import { createCa } from './tls/certificates.js';
import { newApiKeyHashKey } from '../dataplane/config/api-key-digest.js';
import { kubeconfigError } from '../dataplane/config/kubeconfig-error.js';
import { followCaFile, followTlsFiles, type TlsMaterial } from '../dataplane/config/tls-files.js';
import { createChannelServer, secureContextOf } from '../dataplane/config/channel-connections.js';
import { createOperatorMetrics } from './operator-metrics.js';
import { RetentionController } from './retention/retention-controller.js';
import { secretsQuery, slimSecret } from './kube/secret-watch.js';
import { NOOP_OPERATOR_TRACING, operatorTracing } from './telemetry/operator-tracing.js';

export interface OperatorConfig {
  /** Path to a kubeconfig; in-cluster config when absent. */
  kubeconfig?: string;
  /** Namespaces to watch; all when empty. */
  watchNamespaces: string[];
  /**
   * Only Secrets with these labels are read (a Kubernetes label selector, e.g.
   * `tollgate.dev/use=true`): what Providers, DataPolicies and API keys reference must carry them.
   * All Secrets (but Helm releases and ServiceAccount tokens) when absent.
   */
  secretLabelSelector?: string;
  dataplane: { namespace: string; service: string; adminPortName: string };
  /** Bearer token for pushes to data planes and for pulls from them. */
  token: string;
  /**
   * Also accepted from data planes (never sent) while the admin token is rotated: pods started with
   * the previous token keep reporting usage and pulling snapshots until they are replaced, and
   * their spend is not lost (docs/upgrade.md).
   */
  previousToken?: string;
  /** A read-only token for GET /metrics (what Prometheus holds); absent: /metrics wants the admin token. */
  metricsToken?: string;
  identity: string;
  /** legacyName: the Lease an older chart's replicas of this release use (LeaderElector co-holds it). */
  lease: { namespace: string; name: string; legacyName?: string; durationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  /** headersTimeoutMs: how long a client has to send a request's headers (default CHANNEL_HEADERS_TIMEOUT_MS). */
  listen: { host: string; port: number; tls?: TlsMaterial; headersTimeoutMs?: number };
  /** The Secret (created when missing) holding the installation's key for client API key HMACs, under data key `key`. */
  apiKeyHashSecret: { namespace: string; name: string };
  /** The operator's own ServiceAccount (in the data-plane namespace): owner of the Secrets it creates, so that they go with it. */
  ownerServiceAccount?: string;
  /** Push to the pods' admin ports over TLS. */
  /** caFile: where `ca` was read from, read again every minute (followCaFile) to follow a CA rotation. */
  dataplaneTls?: { ca: string; serverName: string; caFile?: string; caFollowIntervalMs?: number };
  /**
   * TLS for the channel with certificates the operator manages (a CA and the data planes'
   * certificate in Secrets, its own issued at start); overrides listen.tls and dataplaneTls.
   */
  managedTls?: ManagedTlsConfig;
  debounceMs: number;
  maxWaitMs: number;
  /** Reconciles start at least this far apart (default 500 ms; CoalescingTrigger says why). */
  minReconcileIntervalMs?: number;
  logger: Logger;
  /** Spans around reconciles and pushes; none when absent. */
  tracer?: Tracer;
  /** Exact budgets: the Redis the data planes keep holds and spend in; Budget.status mirrors it. */
  exactBudgets?: { redis: Redis; keyPrefix: string };
  /** UsageReport objects: days kept, write interval, callers kept by name (defaults 30 days, 5 s, 10). */
  usageHistory?: { retentionDays?: number; flushIntervalMs?: number; topCallers?: number };
  /** How often aggregated GuardrailPolicy decision Events are written (default 60 s). */
  guardrailEventsIntervalMs?: number;
  /** DataPolicy retention: time between sweeps of one policy (default 10 min), objects deleted per pass (default 10,000). */
  retention?: { intervalMs?: number; maxDeletesPerPass?: number };
  /** Ends a start still waiting for the API server (runOperator then rejects, its port closed). */
  signal?: AbortSignal;
}

/** Data key of the API key hash key in its Secret. */
export const API_KEY_HASH_DATA_KEY = 'key';

export interface RunningOperator {
  address: AddressInfo;
  reconciler: Reconciler;
  isLeader(): boolean;
  stop(): Promise<void>;
}

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path !== undefined) kc.loadFromFile(path);
    else kc.loadFromCluster();
  } catch (err) {
    throw kubeconfigError(path ?? 'the in-cluster kubeconfig', err);
  }
  return kc;
}

/** Until the operator is wired: alive (healthz), not ready, nothing else served. */
const starting: RequestListener = (req, res) => {
  const path = req.url?.split('?')[0];
  res.statusCode = path === '/healthz' ? 200 : 503;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(path === '/healthz' ? { status: 'ok' } : path === '/readyz' ? { ready: false, leader: false } : { error: 'starting' }));
};

/**
 * Listening before anything asks the API server: the ServiceAccount lookup and the channel
 * certificates retry while the API server cannot be reached, and until this listened nothing
 * answered the probes (the startup probe restarted the pod after 60 s, for ever). With managed TLS
 * the real certificate is not known yet: a throwaway self-signed one serves the probes (the kubelet
 * does not verify it; data planes, which do, retry) until it replaces it.
 */
export async function listenFirst(config: Pick<OperatorConfig, 'listen' | 'managedTls' | 'logger'>): Promise<{ server: Server; serve(handler: RequestListener): void; stopTlsFollow(): void }> {
  let handler = starting;
  const listener: RequestListener = (req, res) => handler(req, res);
  const tls = config.listen.tls ?? (config.managedTls === undefined ? undefined : createCa('tollgate-operator-starting', 1));
  const server = createChannelServer(listener, { ...(tls === undefined ? {} : { tls }), ...(config.listen.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: config.listen.headersTimeoutMs }) });
  server.listen(config.listen.port, config.listen.host);
  await once(server, 'listening');
  // Managed TLS replaces the certificate itself (in wire); certificate files (cert-manager's) are followed.
  const files = config.managedTls === undefined ? config.listen.tls : undefined;
  const setSecureContext = secureContextOf(server);
  const stopTlsFollow = setSecureContext === undefined || files === undefined ? () => undefined : followTlsFiles(files, setSecureContext, config.logger);
  return { server, serve: (h) => (handler = h), stopTlsFollow };
}

/** Wires informers → work queue → reconciler → distributor, under leader election. */
export async function runOperator(config: OperatorConfig): Promise<RunningOperator> {
  const { logger } = config;
  const client = new KubeClient(loadKubeConfig(config.kubeconfig));
  const { server, serve, stopTlsFollow } = await listenFirst(config);
  try {
    return await wire(config, client, server, serve, stopTlsFollow);
  } catch (err) {
    stopTlsFollow();
    server.closeAllConnections();
    server.close();
    await client.close();
    throw err;
  }
}

async function wire(config: OperatorConfig, client: KubeClient, server: Server, serve: (handler: RequestListener) => void, stopTlsFollow: () => void): Promise<RunningOperator> {
  const { logger } = config;
  const stopSecrets = new AbortController();
  if (config.signal !== undefined) {
    if (config.signal.aborted) stopSecrets.abort();
    else config.signal.addEventListener('abort', () => stopSecrets.abort(), { once: true });
  }
  let dataplaneTls = config.dataplaneTls;
  let managedCa: string | undefined;
  // One Lease per installation (the chart names it after the release): its name names the installation.
  const installation = `${config.lease.namespace}/${config.lease.name}`;
  const saName = config.ownerServiceAccount;
  const owner =
    saName === undefined
      ? undefined
      : await withRetry(() => serviceAccountOwner(client, config.dataplane.namespace, saName), `cannot read the ServiceAccount ${saName}`, logger, stopSecrets.signal);
  const owned = owner === undefined ? {} : { owner };
  if (config.managedTls !== undefined) {
    // Before anything pushes, and before the listener serves anything but the probes: the channel is never plain when TLS is managed.
    const channel = await ensureChannelTls(client, { ...config.managedTls, ...owned }, logger, stopSecrets.signal);
    (server as HttpsServer).setSecureContext({ cert: channel.operator.cert, key: channel.operator.key });
    dataplaneTls = { ca: channel.ca, serverName: config.managedTls.dataplaneNames[0] ?? config.dataplane.service };
    managedCa = channel.ca;
    logger.info({ ca: config.managedTls.caSecret, dataplane: config.managedTls.dataplaneSecret }, 'channel TLS with operator-managed certificates');
  }
  const metrics = createOperatorMetrics();
  const tracing = config.tracer === undefined ? NOOP_OPERATOR_TRACING : operatorTracing(config.tracer);
  const caches: Caches = {
    providers: new Map(),
    routes: new Map(),
    budgets: new Map(),
    dataPolicies: new Map(),
    guardrails: new Map(),
    secrets: new Map(),
    namespaces: new Map(),
    services: new Map(),
    slices: new Map(),
  };
  let elector: LeaderElector | undefined;
  const isLeader = (): boolean => elector?.isLeader ?? false;

  let trigger: CoalescingTrigger | undefined;
  const distributor = new Distributor({
    token: config.token,
    ...(dataplaneTls === undefined ? {} : { tls: dataplaneTls }),
    logger,
    tracing,
    onAck: () => trigger?.trigger(),
    onPushed: (s) => metrics.pushSeconds.observe(s),
    onRefused: (reason) => metrics.pushRefused.inc({ reason }),
    onFailed: (reason) => metrics.pushFailed.inc({ reason }),
    onStale: (pod) => {
      const outcome = reconciler.staleAnswer(pod, isLeader());
      if (outcome === 'publish-above') {
        trigger?.trigger();
      } else if (outcome === 'deposed') {
        // Never publish above a successor: re-read the Lease, which ends our leadership (or, if we
        // still hold it because it was recreated, raises our term above the pod's).
        logger.error({ podTerm: pod.term, term: elector?.term }, 'a data-plane pod serves a newer leader term: this replica has been deposed; not publishing above it');
        void elector?.confirm(pod.term ?? 0).then(() => trigger?.trigger());
      } else if (outcome === 'out-of-range') {
        logger.error({ podGeneration: pod.generation }, 'a data-plane pod serves a generation more than a day ahead of this clock; not publishing above it');
      }
    },
  });
  // cert-manager's CA file is followed; managed TLS's CA Secret is read again (and made again when deleted).
  const caFile = config.managedTls === undefined ? config.dataplaneTls?.caFile : undefined;
  const stopCaFollow =
    config.managedTls !== undefined && managedCa !== undefined
      ? followChannelCa(
          client,
          { ...config.managedTls, ...owned },
          managedCa,
          { trust: (ca) => distributor.trustCa(ca), serve: (operator) => (server as HttpsServer).setSecureContext({ cert: operator.cert, key: operator.key }) },
          logger,
        )
      : caFile === undefined || dataplaneTls === undefined
      ? () => undefined
      : followCaFile({ ca: dataplaneTls.ca, file: caFile, ...(config.dataplaneTls?.caFollowIntervalMs === undefined ? {} : { intervalMs: config.dataplaneTls.caFollowIntervalMs }) }, (ca) => distributor.trustCa(ca), logger);
  const events = new EventRecorder(client, config.identity, logger);
  const budgetConfigs = (): readonly BudgetConfig[] => distributor.envelope?.snapshot.budgets ?? [];
  const exact = config.exactBudgets;
  // In the exact mode only rolling windows are reported; Redis keeps the calendar periods.
  const reportedBudgets = (): readonly BudgetConfig[] => (exact === undefined ? budgetConfigs() : budgetConfigs().filter((b) => !isExact(b)));
  // Whose usage a report may carry: the data-plane pods the snapshots go to, by name and address.
  const reporters = new ReportingPods(() => caches.slices.values(), config.dataplane.namespace, config.dataplane.service);
  const usage = new UsageAggregator({
    client,
    rank: (pod) => reporters.rank(pod),
    budgetObjects: () => caches.budgets,
    budgetConfigs: reportedBudgets,
    // Terminating pods still serve (preStop, then open connections while they drain): each takes a share.
    replicas: () => distributor.servingCount(),
    logger,
    events,
    onLateRecord: (result) => metrics.usageLate.inc({ result }),
  });
  // Pods send each usage record once per term; a new term (leadership, records lost unwritten) makes them resend.
  const term = new UsageTerm(config.identity, Date.now, (pod) => reporters.rank(pod));
  const newTerm = (reason: string): void => {
    term.begin();
    logger.info({ epoch: term.epoch, reason }, 'usage intake: a new term; data planes send what is not persisted again');
  };
  const history = new UsageHistory({
    client,
    logger,
    rank: (pod) => reporters.rank(pod),
    ...config.usageHistory,
    scopes: config.watchNamespaces.length === 0 ? [''] : config.watchNamespaces,
    isLeader: () => isLeader(),
    onWrite: (result) => metrics.usageReportWrites.inc({ result }),
    onLost: () => newTerm('usage history records dropped unwritten (a write failed)'),
  });
  history.start();
  // Aggregated GuardrailPolicy Events from the usage records (counts only, one Event per policy per interval).
  const guardrailEvents = new GuardrailEvents({ sink: events, policies: () => caches.guardrails, ...(config.guardrailEventsIntervalMs === undefined ? {} : { intervalMs: config.guardrailEventsIntervalMs }) });
  guardrailEvents.start();
  const historyIntake = {
    flushIntervalMs: history.flushIntervalMs,
    handle: (report: Parameters<UsageHistory['handle']>[0]) => {
      guardrailEvents.observe(report);
      return history.handle(report);
    },
  };
  const retention = new RetentionController({
    installation,
    client,
    dataPolicies: caches.dataPolicies,
    secrets: caches.secrets,
    isLeader,
    events,
    logger,
    onConditionsChanged: () => trigger?.trigger(),
    onSwept: (deleted, result) => {
      metrics.retentionSweeps.inc({ result });
      for (const [stream, d] of Object.entries(deleted)) {
        metrics.retentionDeletedObjects.inc({ stream }, d.objects);
        metrics.retentionDeletedBytes.inc({ stream }, d.bytes);
      }
    },
    ...(config.retention?.intervalMs === undefined ? {} : { intervalMs: config.retention.intervalMs }),
    ...(config.retention?.maxDeletesPerPass === undefined ? {} : { limits: { maxDeletes: config.retention.maxDeletesPerPass } }),
  });
  let apiKeyHashKey: string | undefined;
  const reconciler = new Reconciler({
    client,
    caches,
    distributor,
    events,
    logger,
    term: () => elector?.term ?? 0,
    dataplane: config.dataplane,
    installation,
    apiKeyHashKey: () => apiKeyHashKey,
    // The writer tried every other object; reconciling again hands the failed writes over again.
    onStatusWriteFailed: (err) => {
      metrics.reconcileErrors.inc();
      logger.error({ err: (err as Error).message }, 'status writes failed; retrying');
      setTimeout(() => trigger?.trigger(), 1_000);
    },
    extraConditions: (status) => {
      if (status.kind === 'DataPolicy') {
        const condition = retention.condition(status.namespace, status.name, status.generation);
        return condition === undefined ? [] : [condition];
      }
      if (status.kind !== 'Budget') return [];
      const condition = usage.thresholdCondition(budgetConfigs().find((b) => b.id === `${status.namespace}/${status.name}`), status.generation);
      return condition === undefined ? [] : [condition];
    },
  });
  const mirror =
    exact === undefined
      ? undefined
      : new ExactBudgetMirror({
          ...exact,
          client,
          budgetObjects: () => caches.budgets,
          budgetConfigs: () => budgetConfigs().filter(isExact),
          budgetsKnown: () => distributor.envelope !== undefined,
          isLeader: () => isLeader(),
          installation,
          events,
          logger,
        });
  mirror?.start();
  let synced = false;
  trigger = new CoalescingTrigger(
    async () => {
      // A partial cache would publish a partial config and flap statuses: wait for every informer
      // (and for the API key hash key: without it every API key would be refused).
      if (!synced || apiKeyHashKey === undefined) return;
      metrics.reconciles.inc();
      await tracing.reconcile(isLeader(), () => reconciler.reconcile(isLeader), () => ({
        'tollgate.snapshot.generation': reconciler.currentGeneration,
        'tollgate.snapshot.version': distributor.envelope?.snapshot.version ?? '',
      }));
      const envelope = distributor.envelope;
      if (envelope !== undefined) {
        metrics.snapshotGeneration.set(envelope.generation);
        metrics.snapshotBytes.set(distributor.bodyBytes);
        const p = distributor.progress(envelope.generation);
        metrics.dataplanes.set({ state: 'ready' }, p.ready);
        metrics.dataplanes.set({ state: 'current' }, p.acked);
      }
    },
    config.debounceMs,
    config.maxWaitMs,
    (err) => {
      metrics.reconcileErrors.inc();
      logger.error({ err: (err as Error).message }, 'reconcile failed; retrying');
      setTimeout(() => trigger?.trigger(), 1_000);
    },
    config.minReconcileIntervalMs ?? 500,
  );

  const onChange = (): void => trigger?.trigger();
  const scopes = config.watchNamespaces.length === 0 ? [''] : config.watchNamespaces;
  const nsPath = (ns: string): string => (ns === '' ? '' : `/namespaces/${ns}`);
  const informers: { start(): void; stop(): void; hasSynced(): Promise<void> }[] = [];
  const watch = <T extends KubeObject>(cache: Map<string, T>, path: string, transform?: (o: T) => T): void => {
    informers.push(new Informer<T>(cache, client, path, onChange, logger, transform));
  };
  const secretsQueryString = secretsQuery(config.secretLabelSelector);
  for (const ns of scopes) {
    watch(caches.providers, `/apis/tollgate.dev/v1alpha1${nsPath(ns)}/providers`);
    watch(caches.routes, `/apis/tollgate.dev/v1alpha1${nsPath(ns)}/modelroutes`);
    watch(caches.budgets, `/apis/tollgate.dev/v1alpha1${nsPath(ns)}/budgets`);
    watch(caches.dataPolicies, `/apis/tollgate.dev/v1alpha1${nsPath(ns)}/datapolicies`);
    watch(caches.guardrails, `/apis/tollgate.dev/v1alpha1${nsPath(ns)}/guardrailpolicies`);
    watch<SecretObject>(caches.secrets, `/api/v1${nsPath(ns)}/secrets?${secretsQueryString}`, slimSecret);
    watch<ServiceObject>(caches.services, `/api/v1${nsPath(ns)}/services`);
    watch<EndpointSliceObject>(caches.slices, `/apis/discovery.k8s.io/v1${nsPath(ns)}/endpointslices`);
  }
  if (scopes[0] !== '' && !scopes.includes(config.dataplane.namespace)) {
    watch<EndpointSliceObject>(caches.slices, `/apis/discovery.k8s.io/v1/namespaces/${config.dataplane.namespace}/endpointslices`);
  }
  watch(caches.namespaces, '/api/v1/namespaces');
  for (const informer of informers) informer.start();
  void ensureInstallationSecretWithRetry(client, { ...config.apiKeyHashSecret, ...owned }, [API_KEY_HASH_DATA_KEY], () => ({ [API_KEY_HASH_DATA_KEY]: newApiKeyHashKey() }), logger, stopSecrets.signal).then(
    (data) => {
      apiKeyHashKey = data[API_KEY_HASH_DATA_KEY];
      trigger?.trigger();
    },
    () => undefined,
  );

  void Promise.all(informers.map((i) => i.hasSynced())).then(() => {
    synced = true;
    logger.info({ informers: informers.length }, 'caches synced');
    retention.start();
    trigger?.trigger();
  });

  elector = new LeaderElector(
    client,
    {
      namespace: config.lease.namespace,
      name: config.lease.name,
      identity: config.identity,
      leaseDurationMs: config.lease.durationMs,
      renewDeadlineMs: config.lease.renewDeadlineMs,
      retryPeriodMs: config.lease.retryPeriodMs,
      ...(config.lease.legacyName === undefined ? {} : { legacyName: config.lease.legacyName }),
    },
    {
      onStartedLeading: () => {
        newTerm('leading');
        metrics.leader.set(1);
        distributor.setEnabled(true);
        trigger?.trigger();
      },
      // A term raised while leading (the Lease recreated, or raised above a pod's): publish under it.
      onTermChanged: () => trigger?.trigger(),
      onStoppedLeading: () => {
        metrics.leader.set(0);
        newTerm('not leading');
        usage.reset();
        history.reset();
        retention.reset();
        distributor.setEnabled(false);
      },
    },
    logger,
  );
  elector.start();

  const onRejectedUsage = (pod: string, rejected: readonly RejectedRecord[]): void => {
    metrics.usageRejected.inc(rejected.length);
    logger.warn({ pod, rejected }, 'usage records that cannot be counted were dropped');
  };
  let refusedLoggedAt = 0;
  const onRefusedReport = (pod: string, remoteAddress: string | undefined, reason: string): void => {
    metrics.usageRefused.inc();
    // A pod refused keeps resending every 200 ms: said at most every 30 s.
    const now = Date.now();
    if (now - refusedLoggedAt < 30_000) return;
    refusedLoggedAt = now;
    logger.warn({ pod, remoteAddress, reason }, 'usage report refused: it names a data-plane pod it does not come from');
  };
  const app = createOperatorApp({ token: config.previousToken === undefined ? config.token : [config.token, config.previousToken], ...(config.metricsToken === undefined ? {} : { metricsToken: config.metricsToken }), usage, history: historyIntake, term, console: client, distributor, registry: metrics.registry, isReady: () => synced, isLeader, onRejectedUsage, reporters, onRefusedReport, logger });
  serve(app);

  return {
    address: server.address() as AddressInfo,
    reconciler,
    isLeader,
    async stop() {
      trigger?.stop();
      await history.stop();
      await guardrailEvents.stop();
      await retention.stop();
      stopSecrets.abort();
      await mirror?.stop();
      for (const informer of informers) informer.stop();
      distributor.stop();
      await elector?.stop();
      stopTlsFollow();
      stopCaFollow();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await client.close();
    },
  };
}
