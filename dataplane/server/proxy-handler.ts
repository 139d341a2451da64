import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import type { ApiKeyIndex } from '../runtime/api-key-index.js';
import { accessDenied } from '../governance/access.js';
import { type Selection, selectRoute } from '../governance/route-selection.js';
import { admitAll, outputCap } from '../governance/admission.js';
import { Downgrade } from '../governance/budget/budget-admitter.js';
import { GatewayError } from '../core/gateway-error.js';
import type { Authenticator } from '../governance/identity/authenticator.js';
import { CACHE_STATUS_HEADER } from '../governance/cache/cache-stats.js';
import { cacheKey } from '../governance/cache/cache-key.js';
import type { Admission, Admitter, CachedResponse, ResponseCache, Settlement } from '../governance/types.js';
import { ANONYMOUS, type Caller } from '../core/caller.js';
import { SSE_DONE, sseData } from '../sse/sse-writer.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import { costUsd } from '../metering/cost.js';
import { StreamMeter } from '../metering/stream-meter.js';
import { estimatePromptTokens } from '../metering/token-estimate.js';
import { type MeteredUsage, responseUsage } from '../metering/settled-usage.js';
import type { UsageRecord, UsageSink } from '../metering/usage-record.js';
import type { CanonicalRequest, JsonObject, Operation } from '../core/canonical.js';
import { ClientGone, type RouteOutcome, type Router } from '../routing/router.js';
import { upstreamAttempts } from '../routing/route-errors.js';
import { requestTelemetry } from '../telemetry/gateway-observer.js';
import { routeLimits } from '../config/route-limits.js';
import { earlyIdentity } from './early-identity.js';
import { errors } from '../core/gateway-error.js';
import { invalidRequest } from '../core/request-issue.js';
import { REQUEST_SCHEMAS } from './request-schemas.js';
import { writeStream } from './write-stream.js';

export interface ProxyDeps {
  store: SnapshotStore;
  router: Router;
  usage: UsageSink;
  isDraining: () => boolean;
  /** Caller identity and route access; absent = every caller is anonymous and every route open (`tollgate dev`). */
  auth?: Authenticator;
  /** Budget admission (after rate limits and the cache: a cache hit costs nothing). */
  admitters?: readonly Admitter[];
  /** Rate limits: checked first; a cache hit still counts as a request. */
  rateLimiter?: Admitter;
  /** Response cache for routes that enable it. */
  cache?: ResponseCache;
}

const NOTHING_TO_SETTLE: Admission = { headers: {}, settle: () => undefined };

/** What the access log reports about the routing decision. */
export interface RoutingInfo {
  caller?: string;
  route?: string;
  /** The rule of the route that served (default for a route without rules). */
  rule?: string;
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
  if (!parsed.success) throw invalidRequest(parsed.error, body);
  const stream = op !== 'embeddings' && parsed.data.stream === true;
  return { op, body, stream, clientWantsUsage: stream && parsed.data.stream_options?.include_usage === true, createdAt: Math.floor(Date.now() / 1000) };
}

/** Meters a finished request and settles its admission with what it really used (or, marked, the estimate). */
export function recordUsage(deps: ProxyDeps, routed: Metered, req: CanonicalRequest, metered: MeteredUsage): UsageRecord {
  const { requestId, route, target } = routed;
  const { usage, estimated } = metered;
  const rec: UsageRecord = {
    requestId,
    op: req.op,
    routeId: route.id,
    model: route.model,
    providerId: target.providerId,
    upstreamModel: target.model,
    stream: req.stream,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cachedInputTokens: usage.cachedInputTokens,
    costUsd: costUsd(usage, target.pricing),
    estimated: estimated !== undefined,
    ...(estimated === undefined ? {} : { estimateReason: estimated }),
  };
  deps.usage.record(rec);
  routed.settle({ usage, costUsd: rec.costUsd });
  requestTelemetry(req).metered(rec);
  return rec;
}

/** What metering needs to know about a request that reached an upstream. */
export interface Metered {
  route: RouteConfig;
  requestId: string;
  /** The target that served (or was sent the request), with the prices charged. */
  target: TargetConfig;
  settle: Admission['settle'];
}

/** A canonical request that a route served: the outcome to write back, in whatever client dialect. */
export interface Routed extends Metered {
  outcome: RouteOutcome;
  /** The prompt estimate (metering/token-estimate): charged when the upstream reports no usage. */
  promptTokens: number;
  /** Response headers the gateway adds (request id, route, provider, attempts). */
  headers: Record<string, string>;
  /** Keeps a complete response for the route's cache (absent when the route does not cache). */
  store?: (value: CachedResponse) => void;
  /** A reason to cut a running stream (a budget's hard cap), from the admission. */
  overBudget: (soFar: Settlement) => string | undefined;
}

/** A response served from the cache: nothing was sent upstream and nothing is charged. */
export interface CacheHit {
  cached: CachedResponse;
  headers: Record<string, string>;
}

/** The verified caller, or anonymous when identity is off. Throws 401 on a bad credential. */
export async function identify(deps: ProxyDeps, req: Request, apiKeys: ApiKeyIndex): Promise<Caller> {
  if (deps.auth === undefined) return ANONYMOUS;
  return deps.auth.authenticate((name) => req.get(name), apiKeys);
}

/**
 * Must be called before parsing the body: readiness is checked first. A draining pod still answers
 * what reaches it on open connections (with `connection: close`), see DataPlane.shutdown.
 */
export function checkServing(deps: ProxyDeps): void {
  if (deps.store.current === undefined) throw errors.notReady();
}

/**
 * Routes a canonical request exactly as the OpenAI endpoints do (route match, retries, failover).
 * Resolves undefined when the client went away; throws a GatewayError when nothing served it.
 */
export async function routeCanonical(
  deps: ProxyDeps,
  req: Request,
  res: Response,
  canonical: CanonicalRequest,
  opts: { cache: boolean } = { cache: false },
): Promise<Routed | CacheHit | undefined> {
  // Read once: the request finishes on this snapshot even if a newer one is applied meanwhile.
  const early = earlyIdentity(res);
  const runtime = early?.runtime ?? deps.store.current;
  if (runtime === undefined) throw errors.notReady();
  const info = res.locals as RoutingInfo;
  const caller = early?.caller ?? (await identify(deps, req, runtime.apiKeys));
  info.caller = caller.id;
  requestTelemetry(res).caller(caller);
  const model = String(canonical.body.model);
  const select = (name: string): Selection => selectRoute(runtime.routesByModel.get(name), caller, (h) => req.get(h), runtime.snapshot.namespaces, deps.auth !== undefined);
  const selected = select(model);
  if (selected === undefined) throw errors.modelNotFound(model);
  if ('denied' in selected) throw accessDenied(caller, selected.denied.config);
  const runtimeRoute = selected.route;
  let route = runtimeRoute.config;
  // From here on every answer, refusals included, names the route (error-middleware.ts reads it).
  info.route = route.id;
  const requestId = requestIdOf(req);
  const telemetry = requestTelemetry(res);
  telemetry.routed(route, canonical, requestId);
  const promptTokens = estimatePromptTokens(canonical.body);
  const decisionRequest = { caller, header: (name: string) => req.get(name), namespaces: runtime.snapshot.namespaces, body: canonical.body, stream: canonical.stream, promptTokens };
  let decision = deps.router.decide(runtime, runtimeRoute, decisionRequest);
  info.rule = decision.rule;
  const targetDefault = (t: TargetConfig): number | undefined => {
    const provider = runtime.providers.get(t.providerId);
    return provider?.adapter.defaultOutputCap?.(provider.config);
  };
  const admissionRequest = (r: RouteConfig) => ({ caller, route: r, req: canonical, promptTokens, maxOutputTokens: outputCap(canonical, r, promptTokens, targetDefault) });
  let limits = NOTHING_TO_SETTLE;
  if (deps.rateLimiter !== undefined) {
    try {
      limits = await deps.rateLimiter.admit(admissionRequest(route));
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'rate_limit_exceeded') telemetry.admission({ result: 'rate_limited', limit: /token/i.test(err.message) ? 'tokens' : 'requests' });
      throw err;
    }
  }
  // A caller whose credential did not verify (served only on routes open to anonymous callers) is
  // never answered from, nor stored in, the cache: it must not share the anonymous callers' entries.
  const cacheable = opts.cache && deps.cache !== undefined && route.cache !== undefined && caller.invalidCredential === undefined;
  let key = cacheable ? cacheKey(route, caller, canonical, decision) : undefined;
  if (key !== undefined && deps.cache !== undefined) {
    const hit = await deps.cache.get(key);
    telemetry.cache(hit !== undefined);
    if (hit !== undefined) {
      limits.settle({ usage: undefined, costUsd: 0 });
      return { cached: hit, headers: { 'x-request-id': requestId, 'x-tollgate-route': route.id, 'x-tollgate-rule': decision.rule, [CACHE_STATUS_HEADER]: 'hit', ...limits.headers } };
    }
  }
  const admit = (r: RouteConfig): Promise<Admission> => admitAll(deps.admitters ?? [], admissionRequest(r));
  let admission: Admission;
  const extraHeaders: Record<string, string> = {};
  try {
    admission = await admit(route);
  } catch (err) {
    if (!(err instanceof Downgrade)) {
      limits.settle({ usage: undefined, costUsd: 0 });
      if (err instanceof GatewayError && err.code === 'budget_exceeded') telemetry.admission({ result: 'budget_exceeded', budget: err.headers['x-tollgate-budget'] ?? '', action: 'reject' });
      throw err;
    }
    telemetry.admission({ result: 'budget_exceeded', budget: err.budget, action: 'downgrade' });
    // The exhausted budget names a cheaper public model: serve the request there, once.
    const downgraded = select(err.model);
    const cheaperRoute = downgraded !== undefined && 'route' in downgraded ? downgraded.route : undefined;
    const cheaper = cheaperRoute?.config;
    if (cheaperRoute === undefined || cheaper === undefined) {
      limits.settle({ usage: undefined, costUsd: 0 });
      throw new GatewayError(429, 'budget_exceeded', 'insufficient_quota', `budget ${err.budget} is exhausted and its downgrade route ${err.model} is not available to this caller`);
    }
    route = cheaper;
    info.route = route.id;
    try {
      decision = deps.router.decide(runtime, cheaperRoute, decisionRequest);
      info.rule = decision.rule;
      admission = await admit(route);
    } catch (again) {
      limits.settle({ usage: undefined, costUsd: 0 });
      throw again;
    }
    extraHeaders['x-tollgate-downgraded-by'] = err.budget;
    // A downgraded answer must never be cached under the original route's key.
    key = undefined;
    telemetry.routed(route, canonical, requestId);
  }

  const client = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) client.abort(new ClientGone());
  });

  let outcome: RouteOutcome;
  try {
    outcome = await deps.router.serve(runtime, route, canonical, client.signal, decision);
  } catch (err) {
    const settle = (r: Settlement): void => {
      limits.settle(r);
      admission.settle(r);
    };
    // The client left while an upstream was already working on the request: charge the prompt estimate, marked.
    if (err instanceof ClientGone && err.reached !== undefined) {
      recordUsage(deps, { route, requestId, target: err.reached, settle }, canonical, { usage: { inputTokens: promptTokens, outputTokens: 0, cachedInputTokens: 0 }, estimated: 'client_gone' });
      return undefined;
    }
    settle({ usage: undefined, costUsd: 0 });
    if (err instanceof ClientGone) return undefined;
    throw err;
  }
  info.provider = outcome.target.providerId;
  info.upstreamModel = outcome.target.model;
  info.attempts = upstreamAttempts(outcome.attempts);
  const headers: Record<string, string> = {
    'x-request-id': requestId,
    'x-tollgate-route': route.id,
    'x-tollgate-rule': decision.rule,
    'x-tollgate-provider': outcome.target.providerId,
    'x-tollgate-model': outcome.target.model,
    'x-tollgate-attempts': String(info.attempts),
    ...limits.headers,
    ...admission.headers,
    ...extraHeaders,
  };
  if (key !== undefined) headers[CACHE_STATUS_HEADER] = 'miss';
  const cache = deps.cache;
  const cacheConfig = route.cache;
  const routed: Routed = {
    route,
    requestId,
    outcome,
    target: outcome.target,
    promptTokens,
    headers,
    settle: (r) => {
      limits.settle(r);
      admission.settle(r);
    },
    overBudget: (soFar) => admission.overBudget?.(soFar),
  };
  if (key !== undefined && cache !== undefined && cacheConfig !== undefined) {
    routed.store = (value) => void cache.set(key, value, cacheConfig.ttlMs, cacheConfig.maxEntries);
  }
  return routed;
}

/** POST /v1/chat/completions, /v1/completions and /v1/embeddings. */
export function proxyHandler(op: Operation, deps: ProxyDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    checkServing(deps);
    const canonical = parseRequest(op, req.body);
    const routed = await routeCanonical(deps, req, res, canonical, { cache: true });
    if (routed === undefined) return;
    if ('cached' in routed) {
      await replay(res, routed);
      return;
    }
    const { route, outcome, headers } = routed;

    if (outcome.kind === 'response') {
      const rec = recordUsage(deps, routed, canonical, responseUsage(outcome.usage, outcome.body, routed.promptTokens));
      routed.store?.({ kind: 'response', body: outcome.body });
      // The client may have left while the upstream answered: it was metered all the same.
      if (res.destroyed) return;
      headers['x-tollgate-cost-usd'] = rec.costUsd.toFixed(8);
      res.status(200).set(headers).json(outcome.body);
      return;
    }
    // A cached stream is held whole until it ends: no more of it than a route's response may be.
    const meter = new StreamMeter(routed.promptTokens, routed.store === undefined ? 0 : routeLimits(route).maxResponseBytes);
    meter.guard = (soFar) => routed.overBudget({ usage: soFar, costUsd: costUsd(soFar, outcome.target.pricing) });
    const store = routed.store;
    if (store !== undefined) meter.onCompleted = () => store({ kind: 'stream', chunks: meter.chunks });
    try {
      await writeStream(res, outcome, headers, route.timeouts.streamIdleMs, meter);
    } finally {
      recordUsage(deps, routed, canonical, meter.result());
    }
  };
}

/** Writes a cached response: the JSON body, or the stream's chunks as SSE. */
async function replay(res: Response, hit: CacheHit): Promise<void> {
  if (hit.cached.kind === 'response') {
    res.status(200).set(hit.headers).json(hit.cached.body);
    return;
  }
  res.writeHead(200, { ...hit.headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  for (const chunk of hit.cached.chunks) res.write(sseData(chunk));
  res.end(SSE_DONE);
}
