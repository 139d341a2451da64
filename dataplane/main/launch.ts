import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { CaMaterial, TlsMaterial } from '../config/tls-files.js';
import { Authenticator } from '../governance/identity/authenticator.js';
import { inClusterKubeApi, kubeApiFromKubeconfig } from '../governance/identity/kube-api.js';
import { KubeTokenReviewer } from '../governance/identity/token-reviewer.js';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLIGHT_BODY_BYTES, type RequestBodyLimits } from '../server/body/json-body.js';
import type { Tracing } from '../telemetry/tracing.js';
import { parseTracingConfig, TOLLGATE_VERSION, TracingConfigError } from '../telemetry/tracing-config.js';
import { Dataplane, NO_TOKEN_REVIEW } from './dataplane.js';
import { exactBudgetsFromEnv, governanceFromEnv } from './governance-from-env.js';
import { StartupError } from './startup-error.js';
import { shutdownDeadlineMs } from './shutdown-deadline.js';
import { throttledWarning } from '../telemetry/throttled-warning.js';

// The CLI reaches the data plane through dataplane/main only (docs/architecture.md).
export { shutdownDeadlineMs, StartupError, TOLLGATE_VERSION };

/** TokenReview through the given kubeconfig, else the pod's own ServiceAccount, else API keys only. */
export function createAuthenticator(kubeconfig: string | undefined, cacheTtlSeconds: string | undefined, logger: Logger, env: NodeJS.ProcessEnv): Authenticator {
  const api = kubeconfig !== undefined ? kubeApiFromKubeconfig(kubeconfig) : inClusterKubeApi(env);
  const cacheTtlMs = Number(cacheTtlSeconds ?? '60') * 1000;
  if (!Number.isFinite(cacheTtlMs) || cacheTtlMs < 0) throw new StartupError('--auth-cache-ttl must be a number of seconds');
  const onReviewError = (err: unknown): void => logger.warn({ err: (err as Error).message }, 'TokenReview failed');
  return new Authenticator({ cacheTtlMs, onReviewError, ...(api === undefined ? {} : { reviewer: new KubeTokenReviewer(api) }) });
}

function parseBytes(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const bytes = Number(value);
  if (!Number.isInteger(bytes) || bytes < 1) throw new StartupError(`--${flag} must be a whole number of bytes, got ${value}`);
  return bytes;
}

function parseCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw new StartupError(`--${flag} must be a whole number above 0, got ${value}`);
  return count;
}

/** --max-inflight-response-bytes, when given. */
export function responseBudgetFrom(values: { 'max-inflight-response-bytes'?: string | undefined }): { maxInflightResponseBytes?: number } {
  const bytes = parseBytes('max-inflight-response-bytes', values['max-inflight-response-bytes']);
  return bytes === undefined ? {} : { maxInflightResponseBytes: bytes };
}

/** --max-body-bytes, --max-inflight-body-bytes and --max-json-elements, as far as given. */
export function bodyLimitsFrom(values: {
  'max-body-bytes'?: string | undefined;
  'max-inflight-body-bytes'?: string | undefined;
  'max-json-elements'?: string | undefined;
}): { bodyLimits?: Partial<RequestBodyLimits> } {
  const maxBodyBytes = parseBytes('max-body-bytes', values['max-body-bytes']);
  const maxInflightBodyBytes = parseBytes('max-inflight-body-bytes', values['max-inflight-body-bytes']);
  const maxJsonElements = parseCount('max-json-elements', values['max-json-elements']);
  const limits: Partial<RequestBodyLimits> = {
    ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
    ...(maxInflightBodyBytes === undefined ? {} : { maxInflightBodyBytes }),
    ...(maxJsonElements === undefined ? {} : { maxJsonElements }),
  };
  const body = limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const inflight = limits.maxInflightBodyBytes ?? DEFAULT_MAX_INFLIGHT_BODY_BYTES;
  if (inflight < body) throw new StartupError(`--max-inflight-body-bytes (${inflight}) must be at least --max-body-bytes (${body})`);
  return Object.keys(limits).length === 0 ? {} : { bodyLimits: limits };
}

/**
 * Starts trace export when an OTLP endpoint is configured (flag or OTEL_* variables); undefined =
 * tracing off. A data plane records its spans with its own lean tracer (telemetry/lean-tracing.ts:
 * parents passed explicitly, no async context); the operator runs the OpenTelemetry SDK, which
 * carries the active span across awaits (about 25 MB, loaded only then).
 */
export async function tracingFor(otlpEndpoint: string | undefined, serviceName: string, env: NodeJS.ProcessEnv, kind: 'dataplane' | 'operator', logger?: Logger): Promise<Tracing | undefined> {
  let config;
  try {
    config = parseTracingConfig(env, otlpEndpoint === undefined ? {} : { otlpEndpoint }, { serviceName, serviceVersion: TOLLGATE_VERSION });
  } catch (err) {
    if (err instanceof TracingConfigError) throw new StartupError(err.message);
    throw err;
  }
  if (config === undefined) return undefined;
  if (kind === 'dataplane') {
    const { startLeanTracing } = await import('../telemetry/lean-tracing.js');
    // Spans dropped are said at most every 10 s per reason (a collector down fails every batch).
    const warn = logger === undefined ? undefined : throttledWarning(logger, 'spans dropped: not exported to the OTLP collector', SPAN_DROP_WARNING_MS);
    return startLeanTracing(config, warn === undefined ? undefined : (detail, reason) => warn(detail, reason));
  }
  const { startTracing } = await import('../telemetry/otel-sdk.js');
  return startTracing(config);
}

const SPAN_DROP_WARNING_MS = 10_000;

/** Time the spans get at least, even when stopping took all of the shutdown deadline. */
const MIN_SPAN_FLUSH_MS = 250;

/**
 * Stops the process's work, then exports the spans still buffered in what is left of
 * `shutdownMs` (from the signal): the one shutdown deadline the pod's grace period is made of.
 * What is not out by then is dropped (tollgate_spans_dropped_total{reason="shutdown"}). Before,
 * the flush had no deadline: with the collector unreachable a drained data plane took 35–45 s
 * to exit, past its grace period, and was killed.
 */
export function thenFlush(stop: () => Promise<{ drained: boolean }>, tracing: Tracing | undefined, shutdownMs: number): () => Promise<{ drained: boolean }> {
  return async () => {
    const started = Date.now();
    const result = await stop();
    if (tracing === undefined) return result;
    const left = Math.max(MIN_SPAN_FLUSH_MS, started + shutdownMs - Date.now());
    // Raced here too: the operator's SDK has no deadline of its own.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([tracing.shutdown(left).catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
    clearTimeout(timer);
    return result;
  };
}

/** What `tollgate dataplane` was given, parsed but not yet interpreted. */
export interface DataplaneLaunch {
  host: string;
  port: number;
  drainTimeoutMs: number;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  kubeconfig?: string;
  authCacheTtl?: string;
  requireIdentity: boolean;
  otlpEndpoint?: string;
  bodyLimits?: Partial<RequestBodyLimits>;
  maxInflightResponseBytes?: number;
  /** The admin port (snapshot push, metrics, /debug/route); absent = no admin port. */
  admin?: { port: number; token: string; metricsToken?: string; tls?: TlsMaterial };
  operatorUrl?: string;
  operatorCa?: CaMaterial;
  operatorServerName?: string;
  /** A snapshot file to serve at once (without an operator). */
  snapshotFile?: string;
}

/**
 * The data plane as a process: identity, tracing, governance and exact budgets from the
 * environment, the snapshot, the ports. Resolves once it listens; `stop` drains, reports and flushes spans by one deadline.
 */
export async function launchDataplane(l: DataplaneLaunch): Promise<{ dataplane: Dataplane; stop: () => Promise<{ drained: boolean }> }> {
  const { logger, env } = l;
  const tracing = await tracingFor(l.otlpEndpoint, 'tollgate-dataplane', env, 'dataplane', logger);
  const auth = createAuthenticator(l.kubeconfig, l.authCacheTtl, logger, env);
  if (!auth.verifiesServiceAccounts) logger.warn({ notReady: l.requireIdentity }, NO_TOKEN_REVIEW);
  const exactBudgets = await exactBudgetsFromEnv(env, logger);
  const dataplane = new Dataplane({
    host: l.host,
    port: l.port,
    logger,
    drainTimeoutMs: l.drainTimeoutMs,
    auth,
    ...(exactBudgets === undefined ? {} : { exactBudgets }),
    requireServiceAccounts: l.requireIdentity,
    ...(env.POD_NAME === undefined ? {} : { podName: env.POD_NAME }),
    ...(l.bodyLimits === undefined ? {} : { bodyLimits: l.bodyLimits }),
    ...(l.maxInflightResponseBytes === undefined ? {} : { maxInflightResponseBytes: l.maxInflightResponseBytes }),
    ...(await governanceFromEnv(env, logger)),
    ...(l.admin === undefined ? {} : { admin: { host: l.host, ...l.admin } }),
    ...(l.operatorCa === undefined ? {} : { operatorCa: l.operatorCa }),
    ...(l.operatorServerName === undefined ? {} : { operatorServerName: l.operatorServerName }),
    ...(l.operatorUrl === undefined ? {} : { operatorUrl: l.operatorUrl }),
    ...(tracing === undefined ? {} : { tracer: tracing.tracer, flushSpans: (ms: number) => tracing.shutdown(ms) }),
  });
  if (l.snapshotFile !== undefined) {
    const applied = dataplane.store.apply(JSON.parse(readFileSync(l.snapshotFile, 'utf8')));
    if (!applied.ok) throw new StartupError(applied.error);
  } else if (l.admin === undefined) {
    throw new StartupError('dataplane needs --token-file (or TOLLGATE_ADMIN_TOKEN) to receive snapshots, or --snapshot <file>');
  }
  const address = await dataplane.start();
  logger.info({ port: address.port, admin: dataplane.adminAddress?.port }, 'data plane listening');
  // The spans are flushed by the shutdown itself, in parallel with its last steps (DataplaneOptions.flushSpans).
  return { dataplane, stop: () => dataplane.shutdown() };
}
