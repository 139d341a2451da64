import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import type { RequestHandler as ProxyHandler } from 'http-proxy-middleware';
import type { Logger } from 'pino';
import type { JsonObject, Usage } from '../../core/canonical.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { costUsd } from '../../metering/cost.js';
import { ANONYMOUS } from '../../core/caller.js';
import type { Authenticator } from '../../governance/identity/authenticator.js';
import type { Admission, Admitter } from '../../governance/types.js';
import type { UsageSink } from '../../metering/usage-record.js';
import { refusedWithoutRoute } from '../../pipeline/stages/identify.js';
import type { SnapshotStore } from '../../runtime/snapshot-store.js';
import type { RequestTelemetry } from '../../telemetry/gateway-observer.js';
import { bodyErrors, readJsonBody, type RequestBodyLimits } from '../body/json-body.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import type { ByteBudget } from '../body/byte-budget.js';
import { headerOf, requestIdOf } from '../request-headers.js';
import { sendError } from '../send-error.js';
import { MODEL_HEADER, type PassThroughDecision, passThroughRoute } from './passthrough-route.js';
import { passThroughPath, upstreamUrl } from './passthrough-paths.js';
import { passThroughUsage } from './passthrough-usage.js';

/** Headers that carry the caller's credentials or address the gateway: never forwarded upstream. */
const CALLER_HEADERS = ['authorization', 'api-key', 'x-api-key', 'cookie', 'openai-organization', 'openai-project', MODEL_HEADER, 'x-tollgate-debug'];
/** Largest JSON answer read (besides being forwarded) to find its usage. */
const MAX_METERED_RESPONSE_BYTES = 1024 * 1024;

interface Pending {
  decision: PassThroughDecision;
  url: URL;
  /** What is sent upstream instead of the request stream (a rewritten JSON body, or the counted upload). */
  body: Readable;
  /** The rewritten JSON body's length; undefined for streamed uploads (their own length is kept). */
  length?: number;
  requestId: string;
  /** The rate limits' admission; settled once, with the usage the answer reported (or none). */
  settle: (usage: Usage | undefined, cost: number) => void;
  headers: Record<string, string>;
  /** Answers a failure to reach the upstream (502), once, unless the answer has started. */
  fail: (err: unknown) => void;
  proxyReq?: import('node:http').ClientRequest;
}

export interface PassThroughDeps {
  store: SnapshotStore;
  usage: UsageSink;
  logger: Logger;
  auth?: Authenticator;
  rateLimiter?: Admitter;
  bodyLimits: RequestBodyLimits;
  bodyBudget: ByteBudget;
}

/** What the access log and metrics see of a pass-through request (it has no canonical form). */
const PASS_THROUGH_REQUEST = { op: 'chat', body: {}, stream: false, clientWantsUsage: false } as const;


/** Counts an upload as it streams and fails it once it passes the route's limit (bodies without content-length). */
class UploadLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) done(bodyErrors.tooLarge(this.limit));
    else done(null, chunk);
  }
}

function isJson(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json');
}

const hasBody = (req: IncomingMessage): boolean => req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'DELETE';

/** The public model a request names: its JSON body's model, else the `model` query parameter, else the x-tollgate-model header. */
function modelOf(req: IncomingMessage, body: unknown): string | undefined {
  if (isObject(body) && typeof body.model === 'string' && body.model !== '') return body.model;
  const query = new URL(req.url ?? '/', 'http://gateway').searchParams.get('model');
  if (query !== null && query !== '') return query;
  const header = headerOf(req, MODEL_HEADER);
  return header !== undefined && header !== '' ? header : undefined;
}

function gatewayHeaders(p: Pending): Record<string, string> {
  return {
    'x-request-id': p.requestId,
    'x-tollgate-route': p.decision.route.id,
    'x-tollgate-provider': p.decision.target.providerId,
    'x-tollgate-model': p.decision.target.model,
    ...p.headers,
  };
}

/**
 * Pass-through endpoints (images, audio, files, batches, moderations, rerank, score, tokenize):
 * forwarded as they are to the route's first target with http-proxy-middleware. JSON bodies are
 * read (bounded, like chat) to find the route and rewrite `model`; any other body (multipart
 * uploads) streams straight through, counted against the route's maxUploadBytes. The Provider's
 * credentials replace the caller's. Request rate limits apply; a JSON answer that reports usage is
 * metered at the target's prices. No retry or failover: a streamed body cannot be sent twice.
 */
export function passThroughEndpoint(deps: PassThroughDeps): (req: IncomingMessage, res: ServerResponse, telemetry: RequestTelemetry, path: string) => Promise<void> {
  // The proxy's callbacks see only the request: what this endpoint decided for each request in flight.
  const pending = new WeakMap<IncomingMessage, Pending>();
  // http-proxy-middleware is loaded with the first pass-through request: start-up does not pay for it.
  let proxyMiddleware: Promise<ProxyHandler> | undefined;
  const loadProxy = (): Promise<ProxyHandler> => (proxyMiddleware ??= import('http-proxy-middleware').then(({ createProxyMiddleware, proxyEventsPlugin }) => createProxyMiddleware({
    changeOrigin: true,
    ejectPlugins: true,
    plugins: [proxyEventsPlugin],
    router: (req, _res, options) => {
      const p = pending.get(req);
      if (p === undefined) throw new Error('pass-through request without a decision');
      // httpxy sends `buffer` instead of the request stream: the rewritten or counted body.
      options.buffer = p.body;
      return p.url.origin;
    },
    pathRewrite: (_path, req) => {
      const p = pending.get(req);
      return p === undefined ? undefined : `${p.url.pathname}${p.url.search}`;
    },
    on: {
      proxyReq: (proxyReq, req) => {
        const p = pending.get(req);
        if (p === undefined) return;
        p.proxyReq = proxyReq;
        for (const name of CALLER_HEADERS) proxyReq.removeHeader(name);
        for (const name of proxyReq.getHeaderNames()) if (name.startsWith('x-tollgate-')) proxyReq.removeHeader(name);
        const provider = p.decision.provider.config;
        for (const [name, value] of Object.entries(provider.headers)) proxyReq.setHeader(name, value);
        const key = provider.apiKey?.reveal();
        if (key !== undefined && key !== '') proxyReq.setHeader('authorization', `Bearer ${key}`);
        if (p.length !== undefined) {
          proxyReq.removeHeader('content-encoding');
          proxyReq.removeHeader('transfer-encoding');
          proxyReq.setHeader('content-length', String(p.length));
        }
      },
      // A failed upstream connection is reported here (not always through the middleware's `next`).
      error: (err, req) => pending.get(req)?.fail(err),
      proxyRes: (proxyRes, req) => {
        const p = pending.get(req);
        if (p === undefined) return;
        Object.assign(proxyRes.headers, gatewayHeaders(p));
        meterAnswer(deps, p, proxyRes);
      },
    },
  })));

  return async (req, res, telemetry, path) => {
    const routing: Record<string, string> = {};
    const fail = (err: unknown): void => sendError(res, err, deps.logger, (e) => e.toBody(), routing);
    try {
      const runtime = deps.store.current;
      if (runtime === undefined) throw errors.notReady();
      const endpoint = passThroughPath(path);
      if (endpoint === undefined) throw errors.notFound(`${req.method ?? 'GET'} ${path}`);
      const header = (name: string): string | undefined => headerOf(req, name);
      // Who is calling is settled from the headers first; only then is a JSON body read (bounded).
      const caller = deps.auth === undefined ? ANONYMOUS : await deps.auth.authenticate(header, runtime.apiKeys);
      if (deps.auth !== undefined) {
        const refused = refusedWithoutRoute(caller, runtime.snapshot.routes);
        if (refused !== undefined) throw refused;
      }
      telemetry.caller(caller);
      const json = hasBody(req) && isJson(req) ? await readJsonBody(req, res, deps.bodyLimits, deps.bodyBudget) : undefined;
      const decision = passThroughRoute(runtime, caller, header, endpoint.endpoint, modelOf(req, json), deps.auth !== undefined);
      const { route, target } = decision;
      const requestId = requestIdOf(req);
      routing['x-tollgate-route'] = route.id;
      telemetry.routed(route, { ...PASS_THROUGH_REQUEST, body: {} }, requestId);
      telemetry.served(target, 1);
      const maxUpload = route.passThrough?.maxUploadBytes ?? 0;
      const declared = Number(req.headers['content-length'] ?? Number.NaN);
      if (declared > maxUpload) throw bodyErrors.tooLarge(maxUpload);

      let failed = false;
      const failUpstream = (err: unknown): void => {
        if (failed || res.headersSent) return;
        failed = true;
        fail(err instanceof GatewayError ? err : new GatewayError(502, 'upstream_unreachable', 'server_error', `pass-through to ${decision.target.providerId} failed: ${err instanceof Error ? err.message : String(err)}`));
      };
      let body: Readable;
      let length: number | undefined;
      if (json !== undefined && isObject(json)) {
        const rewritten: JsonObject = typeof json.model === 'string' ? { ...json, model: target.model } : json;
        const bytes = Buffer.from(JSON.stringify(rewritten));
        if (bytes.length > maxUpload) throw bodyErrors.tooLarge(maxUpload);
        body = Readable.from([bytes]);
        length = bytes.length;
      } else if (hasBody(req) && !Number.isFinite(declared)) {
        const limit = new UploadLimit(maxUpload);
        limit.on('error', (err) => {
          failUpstream(err);
          pending.get(req)?.proxyReq?.destroy();
        });
        body = req.pipe(limit);
      } else {
        body = req.pipe(new PassThrough());
      }

      let limits: Admission = { headers: {}, settle: () => undefined };
      if (deps.rateLimiter !== undefined) {
        // Requests per minute count; token limits are charged what the answer reports (nothing is estimated up front).
        limits = await deps.rateLimiter.admit({ caller, route, req: { ...PASS_THROUGH_REQUEST, body: {} }, promptTokens: 0, maxOutputTokens: 0 });
      }
      const url = upstreamUrl(decision.baseUrl, endpoint, new URL(req.url ?? '/', 'http://gateway').search);
      let settled = false;
      const settle = (usage: Usage | undefined, cost: number): void => {
        if (settled) return;
        settled = true;
        limits.settle({ usage, costUsd: cost });
      };
      pending.set(req, { decision, url, body, ...(length === undefined ? {} : { length }), requestId, settle, headers: limits.headers, fail: failUpstream });
      // An answer that never completes (client gone, upstream failed) settles with nothing reported.
      res.on('close', () => settle(undefined, 0));
      const proxy = await loadProxy();
      await proxy(req, res, (err?: unknown) => {
        if (err !== undefined) failUpstream(err);
      });
    } catch (err) {
      fail(err);
    }
  };
}

/** Reads (a bounded copy of) a JSON answer as it is forwarded and meters the usage it reports. */
function meterAnswer(deps: PassThroughDeps, p: Pending, proxyRes: IncomingMessage): void {
  const status = proxyRes.statusCode ?? 0;
  const type = String(proxyRes.headers['content-type'] ?? '');
  if (status < 200 || status >= 300 || !type.includes('json') || proxyRes.headers['content-encoding'] !== undefined) {
    p.settle(undefined, 0);
    return;
  }
  const parts: Buffer[] = [];
  let size = 0;
  proxyRes.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_METERED_RESPONSE_BYTES) parts.push(chunk);
  });
  proxyRes.on('end', () => {
    let parsed: unknown;
    try {
      parsed = size <= MAX_METERED_RESPONSE_BYTES ? JSON.parse(Buffer.concat(parts).toString('utf8')) : undefined;
    } catch {
      parsed = undefined;
    }
    const usage = passThroughUsage(parsed);
    if (usage === undefined) {
      p.settle(undefined, 0);
      return;
    }
    const { route, target } = p.decision;
    const cost = costUsd(usage, target.pricing);
    deps.usage.record({
      requestId: p.requestId,
      op: 'passthrough',
      routeId: route.id,
      model: route.model,
      providerId: target.providerId,
      upstreamModel: target.model,
      stream: false,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      cachedInputTokens: usage.cachedInputTokens,
      costUsd: cost,
      estimated: false,
    });
    p.settle(usage, cost);
  });
}
