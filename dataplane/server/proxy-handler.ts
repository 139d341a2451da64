import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { ApiKeyConfig, RouteConfig } from '../config/snapshot.js';
import { accessDenied, mayCall } from '../governance/access.js';
import { admitAll, outputCap } from '../governance/admission.js';
import { Downgrade } from '../governance/budget/budget-admitter.js';
import { GatewayError } from './gateway-error.js';
import type { Authenticator } from '../governance/identity/authenticator.js';
import { type Admission, type Admitter, ANONYMOUS, type Caller } from '../governance/types.js';
import type { SnapshotStore } from '../config/snapshot-store.js';
import { costUsd } from '../metering/cost.js';
import { StreamMeter } from '../metering/stream-meter.js';
import { estimateTokens, promptText } from '../metering/token-estimate.js';
import type { UsageRecord, UsageSink } from '../metering/usage-record.js';
import type { CanonicalRequest, JsonObject, Operation, Usage } from '../providers/types.js';
import { ClientGone, type RouteOutcome, type Router } from '../routing/router.js';
import { requestTelemetry } from '../telemetry/gateway-observer.js';
import { errors } from './gateway-error.js';
import { REQUEST_SCHEMAS } from './request-schemas.js';
import { writeStream } from './write-stream.js';

export interface ProxyDeps {
  store: SnapshotStore;
  router: Router;
  usage: UsageSink;
  isDraining: () => boolean;
  /** Caller identity and route access; absent = every caller is anonymous and every route open (`tollgate dev`). */
  auth?: Authenticator;
  /** Admission checks in order (rate limits, then budgets); all must admit. */
  admitters?: readonly Admitter[];
}

/** What the access log reports about the routing decision. */
export interface RoutingInfo {
  caller?: string;
  route?: string;
  provider?: string;
  upstreamModel?: string;
  attempts?: number;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requestIdOf(req: Request): string {
  const given = req.get('x-request-id');
  return given !== undefined && given.length > 0 && given.length <= 128 ? given : randomUUID();
}

function parseRequest(op: Operation, body: unknown): CanonicalRequest {
  if (!isObject(body)) throw errors.badRequest('request body must be a JSON object');
  const parsed = REQUEST_SCHEMAS[op].safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.join('.') ?? null;
    throw errors.badRequest(`invalid request: ${param ? `${param}: ` : ''}${issue?.message ?? 'invalid body'}`, param || null);
  }
  const stream = op !== 'embeddings' && parsed.data.stream === true;
  return { op, body, stream, clientWantsUsage: stream && parsed.data.stream_options?.include_usage === true, createdAt: Math.floor(Date.now() / 1000) };
}

/** Meters a finished request and settles its admission with what it really used. */
export function recordUsage(deps: ProxyDeps, routed: Routed, req: CanonicalRequest, usage: Usage, estimated: boolean): UsageRecord {
  const { requestId, route, outcome } = routed;
  const rec: UsageRecord = {
    requestId,
    op: req.op,
    routeId: route.id,
    model: route.model,
    providerId: outcome.target.providerId,
    upstreamModel: outcome.target.model,
    stream: req.stream,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cachedInputTokens: usage.cachedInputTokens,
    costUsd: costUsd(usage, outcome.target.pricing),
    estimated,
  };
  deps.usage.record(rec);
  routed.settle({ usage, costUsd: rec.costUsd });
  requestTelemetry(req).metered(rec);
  return rec;
}

/** A canonical request that a route served: the outcome to write back, in whatever client dialect. */
export interface Routed {
  route: RouteConfig;
  requestId: string;
  outcome: RouteOutcome;
  /** Response headers the gateway adds (request id, route, provider, attempts). */
  headers: Record<string, string>;
  /** Settles the request's admission (budget reservations, token estimates); recordUsage calls it. */
  settle: Admission['settle'];
}

/** The verified caller, or anonymous when identity is off. Throws 401 on a bad credential. */
export async function identify(deps: ProxyDeps, req: Request, apiKeys: readonly ApiKeyConfig[]): Promise<Caller> {
  if (deps.auth === undefined) return ANONYMOUS;
  return deps.auth.authenticate((name) => req.get(name), apiKeys);
}

/** Must be called before parsing the body: draining and readiness are checked first. */
export function checkServing(deps: ProxyDeps): void {
  if (deps.isDraining()) throw errors.shuttingDown();
  if (deps.store.current === undefined) throw errors.notReady();
}

/**
 * Routes a canonical request exactly as the OpenAI endpoints do (route match, retries, failover).
 * Resolves undefined when the client went away; throws a GatewayError when nothing served it.
 */
export async function routeCanonical(deps: ProxyDeps, req: Request, res: Response, canonical: CanonicalRequest): Promise<Routed | undefined> {
  // Read once: the request finishes on this snapshot even if a newer one is applied meanwhile.
  const runtime = deps.store.current;
  if (runtime === undefined) throw errors.notReady();
  const info = res.locals as RoutingInfo;
  const caller = await identify(deps, req, runtime.snapshot.apiKeys);
  info.caller = caller.id;
  requestTelemetry(res).caller(caller);
  const model = String(canonical.body.model);
  const candidates = runtime.routesByModel.get(model);
  if (candidates === undefined) throw errors.modelNotFound(model);
  const runtimeRoute = candidates.find((r) => r.matches((name) => req.get(name)));
  if (runtimeRoute === undefined) throw errors.modelNotFound(model);
  let route = runtimeRoute.config;
  if (deps.auth !== undefined && !mayCall(caller, route, runtime.snapshot.namespaces)) throw accessDenied(caller, route);
  const requestId = requestIdOf(req);
  const promptTokens = estimateTokens(promptText(canonical.body));
  const admit = (r: RouteConfig): Promise<Admission> =>
    admitAll(deps.admitters ?? [], { caller, route: r, req: canonical, promptTokens, maxOutputTokens: outputCap(canonical.body, r, promptTokens) });
  let admission: Admission;
  const extraHeaders: Record<string, string> = {};
  try {
    admission = await admit(route);
  } catch (err) {
    if (!(err instanceof Downgrade)) throw err;
    // The exhausted budget names a cheaper public model: serve the request there, once.
    const cheaper = runtime.routesByModel.get(err.model)?.find((r) => r.matches((name) => req.get(name)))?.config;
    if (cheaper === undefined || (deps.auth !== undefined && !mayCall(caller, cheaper, runtime.snapshot.namespaces))) {
      throw new GatewayError(429, 'budget_exceeded', 'insufficient_quota', `budget ${err.budget} is exhausted and its downgrade route ${err.model} is not available to this caller`);
    }
    route = cheaper;
    admission = await admit(route);
    extraHeaders['x-tollgate-downgraded-by'] = err.budget;
  }
  requestTelemetry(res).routed(route, canonical, requestId);
  info.route = route.id;

  const client = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) client.abort(new ClientGone());
  });

  let outcome: RouteOutcome;
  try {
    outcome = await deps.router.serve(runtime, route, canonical, client.signal);
  } catch (err) {
    admission.settle({ usage: undefined, costUsd: 0 });
    if (err instanceof ClientGone) return undefined;
    throw err;
  }
  info.provider = outcome.target.providerId;
  info.upstreamModel = outcome.target.model;
  info.attempts = outcome.attempts.length;
  const headers: Record<string, string> = {
    'x-request-id': requestId,
    'x-tollgate-route': route.id,
    'x-tollgate-provider': outcome.target.providerId,
    'x-tollgate-model': outcome.target.model,
    'x-tollgate-attempts': String(outcome.attempts.length),
    ...admission.headers,
    ...extraHeaders,
  };
  return { route, requestId, outcome, headers, settle: (r) => admission.settle(r) };
}

/** POST /v1/chat/completions, /v1/completions and /v1/embeddings. */
export function proxyHandler(op: Operation, deps: ProxyDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    checkServing(deps);
    const canonical = parseRequest(op, req.body);
    const routed = await routeCanonical(deps, req, res, canonical);
    if (routed === undefined) return;
    const { route, outcome, headers } = routed;

    if (outcome.kind === 'response') {
      const usage = outcome.usage ?? { inputTokens: estimateTokens(promptText(canonical.body)), outputTokens: 0, cachedInputTokens: 0 };
      const rec = recordUsage(deps, routed, canonical, usage, outcome.usage === undefined);
      headers['x-tollgate-cost-usd'] = rec.costUsd.toFixed(8);
      res.status(200).set(headers).json(outcome.body);
      return;
    }
    const meter = new StreamMeter(estimateTokens(promptText(canonical.body)));
    try {
      await writeStream(res, outcome, headers, route.timeouts.streamIdleMs, meter);
    } finally {
      const { usage, estimated } = meter.result();
      recordUsage(deps, routed, canonical, usage, estimated);
    }
  };
}
