import { Agent as HttpAgent, type ClientRequest, type IncomingMessage, ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { RequestHandler as ProxyHandler } from 'http-proxy-middleware';
import type { Logger } from 'pino';
import type { JsonObject, Usage } from '../../core/canonical.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { costUsd, unitCostUsd } from '../../metering/cost.js';
import type { Authenticator } from '../../governance/identity/authenticator.js';
import type { Admitter } from '../../governance/types.js';
import type { FailureKind, Pricing, RouteConfig, TargetConfig } from '../../config/snapshot.js';
import type { UsageSink } from '../../metering/usage-record.js';
import { identifyCaller } from '../identify-caller.js';
import type { SnapshotStore } from '../../runtime/snapshot-store.js';
import type { RequestTelemetry } from '../../telemetry/gateway-observer.js';
import { bodyErrors, readJsonBody, type RequestBodyLimits } from '../body/json-body.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import type { ByteBudget } from '../../core/byte-budget.js';
import { headerOf } from '../request-headers.js';
import { sendError } from '../send-error.js';
import { admitPassThrough, type ForwardTarget, type HeldTokens, MODEL_HEADER, passThroughErrors, passThroughRoute, refusalDecision } from './passthrough-route.js';
import { createsUpstream, passThroughPath, runsModel } from './passthrough-paths.js';
import { outputCap } from '../../governance/admission.js';
import { type AnswerMeter, charge, chargeCreated, type ChargeReason, type MeteredAttempt, meterAnswer, promptUsage } from './answer-meter.js';
import { guardedLookup, refusedLiteral } from '../../config/egress-guard.js';
import { connectionFailureText, GatewayWordsError } from '../../upstream/connection-failure.js';
import { lostImageUsage, promptTokensOf, requestUnits } from './passthrough-usage.js';
import { scrubbedErrorBody } from './upstream-error-body.js';
import { FormModelRewriter, formImagesBound, modelFormBoundary } from './form-model.js';
import { UPSTREAM_REQUEST_ID_HEADER, upstreamRequestId } from '../../upstream/upstream-request-id.js';
import { holdsSecret } from '../../providers/scrub-credentials.js';
import { providerSecrets } from '../../providers/registry.js';
import { CALLER_TRACE_HEADERS, failureOf, ForwardedAttempt } from './forwarded-attempt.js';
import { keepReading } from './keep-reading.js';
import { ListenerMark } from './listener-mark.js';
import type { LiveStreams } from '../live-streams.js';
import { sseEvent } from '../../sse/sse-writer.js';
import type { UnattendedAnswers } from './unattended-answers.js';
import { answerAtDrain, type DrainEnded } from '../unanswered.js';
import { heldPromptTokens, worstCase } from '../../governance/budget/budget-admitter.js';
import { type PromptParts, promptTokensOn } from '../../metering/token-estimate.js';
import { batchWorstCase, createsBatch } from './batch-admission.js';
import { createsFineTuningJob, fineTuningWorstCase } from './fine-tuning-admission.js';
import { createsEvalRun, definesEval, evalRunModel, evalRunWorstCase, refuseModelGraders, refuseStoredModelGraders } from './eval-run-admission.js';
import { admitWorstCase, type CreationWorstCase } from './worst-case-admission.js';

/**
 * Headers that carry the caller's credentials or address the gateway: never forwarded upstream.
 * Proxy-Authorization is meant for a proxy between the caller and the gateway; the upstream is
 * whatever server a Provider's owner names. (Realtime builds its upstream headers from nothing.)
 */
const CALLER_HEADERS = ['authorization', 'proxy-authorization', 'api-key', 'x-api-key', 'cookie', 'openai-organization', 'openai-project', MODEL_HEADER, 'x-tollgate-debug', ...CALLER_TRACE_HEADERS];

interface Pending extends MeteredAttempt {
  url: URL;
  /** What is sent upstream instead of the request stream (a rewritten JSON body, or the counted upload). */
  body: Readable;
  /** The rewritten JSON body's length; undefined for streamed uploads (their own length is kept). */
  length?: number;
  /** A streamed upload rewritten on its way (a form's model): its length is not known, it goes chunked. */
  resized?: true;
  attempts: number;
  headers: Record<string, string>;
  /** How long the upstream may send nothing (the proxy's timeout): the route's attempt timeout, else its total, at most what is left of the total. */
  timeoutMs: number;
  /** Set when that timeout ended the attempt (the proxy only destroys the request: its error is a plain hang-up). */
  timedOut?: true;
  /**
   * A failed attempt: tried on the next target when the route falls back on its class, there is
   * one, and the body can be sent again (and, for a request that makes something, the upstream
   * never had all of it); else 502, or 504 after the timeout (unless the answer has started).
   */
  fail: (err: unknown) => void;
  /** An upstream answer worth another target (5xx, 429, as the route's fallbackOn says): true when it was handed there instead of relayed. */
  failOver: (status: number, answer: IncomingMessage) => boolean;
  proxyReq?: ClientRequest;
  /** The upstream's own id of the request, from its answer (x-upstream-request-id). */
  upstreamRequestId?: string;
  /** The client's response. */
  client: ServerResponse;
  /**
   * What the proxy sees as the response: the proxy ends the upstream exchange when it closes, which
   * the gateway decides (release). The client's own closing ended it, even when the answer was
   * made and only its end (its usage) was still to come.
   */
  standIn: ServerResponse;
  release: () => void;
  /** When the route's total timeout runs out: an answer the client left is read no longer than this. */
  deadline: number;
  /** The successful answer being relayed and metered, once it has started. */
  meter?: AnswerMeter;
  /** The answer is being read on after the client left: the stand-in is released when it closes. */
  reading?: boolean;
  /** The client left before the answer's end: reads the rest without relaying it, to meter it; false when there is nothing to read. */
  keepReading?: () => boolean;
  /** The answer's status line has come (relayed, failed over, or read without the client). */
  answered?: true;
  /**
   * The client left after the whole request went upstream, before the answer: the exchange is kept
   * open and the answer, when it comes, read without the client and charged what it says.
   */
  awaiting?: true;
}

export interface PassThroughDeps {
  store: SnapshotStore;
  usage: UsageSink;
  logger: Logger;
  auth?: Authenticator;
  rateLimiter?: Admitter;
  /** Budgets: a pass-through request is refused once one that applies is exhausted, and its metered cost is charged. */
  admitters?: readonly Admitter[];
  bodyLimits: RequestBodyLimits;
  bodyBudget: ByteBudget;
  /** The streams being written: an event stream relayed is cut with an error event when a drain ends. */
  liveStreams?: LiveStreams;
  /** Answers read on, or awaited, after their clients left: shutdown charges them before its last usage report. */
  unattended?: UnattendedAnswers;
}

/** What the access log and metrics see of a pass-through request (it has no canonical form). */
const PASS_THROUGH_REQUEST = { op: 'chat', body: {}, stream: false, clientWantsUsage: false } as const;
/** Hop-by-hop headers of the upstream answer that the gateway's own connection decides. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);
/** What the proxy listens for on the client's response and on an upstream answer, per attempt. */
const PROXY_EVENTS = ['close', 'error'] as const;

function ignoreError(): void {
  // An abandoned attempt's answer is drained for its connection's sake; its error has no reader.
}

/** The failure class of an upstream's error status, as the chat path classifies it; undefined for an answer that is relayed (4xx but 408/429). */
function statusClass(status: number): FailureKind | undefined {
  const kind = failureOf(status);
  return kind === 'ClientError' ? undefined : kind;
}

/**
 * Counts an upload as it streams (an audio file's size says how long it is, when its answer does
 * not) and fails it once it passes the route's limit (bodies without content-length; a declared
 * length was checked before).
 */
class UploadLimit extends Transform {
  constructor(
    private readonly limit: number,
    private readonly counted: { bytes: number },
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.counted.bytes += chunk.length;
    if (this.counted.bytes > this.limit) done(bodyErrors.tooLarge(this.limit));
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
    'x-tollgate-route': p.route.id,
    'x-tollgate-provider': p.to.target.providerId,
    'x-tollgate-model': p.to.target.model,
    'x-tollgate-attempts': String(p.attempts),
    ...(p.upstreamRequestId === undefined ? {} : { [UPSTREAM_REQUEST_ID_HEADER]: p.upstreamRequestId }),
    ...p.headers,
  };
}

/**
 * Pass-through endpoints (images, audio, files, batches, moderations, rerank, score, tokenize):
 * forwarded as they are with http-proxy-middleware to the route's targets that serve the path, in
 * priority order. JSON bodies are read (bounded, like chat) to find the route and rewrite `model`;
 * any other body (multipart uploads) streams straight through, counted against the route's
 * maxUploadBytes. The Provider's credentials replace the caller's. Request rate limits and budgets
 * are checked first; an answer that reports usage, or that the price table prices per request or
 * per unit, is metered. A target that cannot be reached, answers 5xx/429 or sends nothing for the
 * route's timeout hands the request to the next one, as the route's fallbackOn allows — unless its
 * body was a streamed upload, which cannot be sent twice, or the request makes something (an image,
 * a file, a batch) and the target had all of it: then only a 429 or 503, which say the upstream
 * did nothing, is failed over. A batch's creation is checked first: its input file is read from
 * the target, each of its requests must be the route's (endpoint and model), and its worst case is
 * held and charged against the Budgets (batch-admission.ts); so are a fine-tuning job's (its files'
 * tokens × epochs at the training price, fine-tuning-admission.ts) and an eval run's that runs a
 * model (its items' prompts and output caps, eval-run-admission.ts).
 */
export function passThroughEndpoint(deps: PassThroughDeps): (req: IncomingMessage, res: ServerResponse, telemetry: RequestTelemetry, path: string, requestId: string) => Promise<void> {
  // The proxy's callbacks see only the request: what this endpoint decided for each request in flight.
  const pending = new WeakMap<IncomingMessage, Pending>();
  // And the request's telemetry, told the upstream's request id when the answer comes.
  const telemetryOf = new WeakMap<IncomingMessage, RequestTelemetry>();
  // http-proxy-middleware is loaded with the first pass-through request: start-up does not pay for it.
  let proxyMiddleware: Promise<ProxyHandler> | undefined;
  // Keep-alive pools as node's global agents, whose connections resolve their host through the
  // egress guard (a name that resolves to a cloud metadata address is refused; egress-guard.ts).
  let agents: { http: HttpAgent; https: HttpsAgent } | undefined;
  const agentsNow = (): { http: HttpAgent; https: HttpsAgent } => (agents ??= { http: new HttpAgent({ keepAlive: true, lookup: guardedLookup }), https: new HttpsAgent({ keepAlive: true, lookup: guardedLookup }) });
  const loadProxy = (): Promise<ProxyHandler> => (proxyMiddleware ??= import('http-proxy-middleware').then(({ createProxyMiddleware, proxyEventsPlugin }) => createProxyMiddleware({
    changeOrigin: true,
    ejectPlugins: true,
    plugins: [proxyEventsPlugin],
    // The answer is relayed here, once it is known not to be handed to the next target.
    selfHandleResponse: true,
    router: (req, _res, options) => {
      const p = pending.get(req);
      if (p === undefined) throw new Error('pass-through request without a decision');
      // httpxy sends `buffer` instead of the request stream: the rewritten or counted body.
      options.buffer = p.body;
      const pools = agentsNow();
      options.agent = p.url.protocol === 'https:' ? pools.https : pools.http;
      // Without it a hung upstream held the request (and its admission) until the client gave up.
      options.proxyTimeout = p.timeoutMs;
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
        // The proxy's own timeout listener (destroying the request) runs first; this one says why.
        proxyReq.once('timeout', () => {
          p.timedOut = true;
        });
        for (const name of CALLER_HEADERS) proxyReq.removeHeader(name);
        for (const name of proxyReq.getHeaderNames()) if (name.startsWith('x-tollgate-')) proxyReq.removeHeader(name);
        for (const [name, value] of Object.entries(p.to.forwarding.headers(p.to.at))) proxyReq.setHeader(name, value);
        p.observed.traceHeaders(proxyReq);
        // The answer is read as it is relayed, to meter it: a compressed one could not be (and every
        // common client asks for gzip), so the upstream is asked for it as it is.
        proxyReq.setHeader('accept-encoding', 'identity');
        if (p.resized === true) proxyReq.removeHeader('content-length');
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
        const status = proxyRes.statusCode ?? 502;
        // node parses a status line of 000 or 099, and writeHead throws on it here, in the proxy's
        // event, where nothing catches: one upstream's answer would end the process for everyone.
        if (status < 100 || status > 599) {
          proxyRes.destroy();
          p.fail(new GatewayWordsError(`the upstream answered with status ${status}, which is not an HTTP status`));
          return;
        }
        p.observed.answered(status);
        p.answered = true;
        if (p.failOver(status, proxyRes)) {
          proxyRes.resume();
          return;
        }
        const upstreamId = upstreamRequestId(proxyRes.headers, p.to.provider.requestIdHeaders);
        if (upstreamId !== undefined) {
          p.upstreamRequestId = upstreamId;
          telemetryOf.get(req)?.upstreamAnswered(upstreamId);
        }
        const secrets = providerSecrets(p.to.provider.config);
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(proxyRes.headers)) {
          // A header that echoes the Provider's credential is dropped: rewritten, it would mean nothing.
          if (value !== undefined && !HOP_HEADERS.has(name) && !holdsSecret(String(value), secrets)) headers[name] = value;
        }
        const out = p.client;
        const meter = meterAnswer(deps.usage, p, proxyRes);
        if (p.awaiting === true) {
          // Its client left before it: read (not relayed) for what it says it cost, up to the
          // route's total timeout; an answer that says nothing more (or an error) ends the exchange.
          if (meter !== undefined) p.meter = meter;
          p.reading = meter !== undefined && meter.reads && keepReading(proxyRes, out, p.deadline, p.release);
          if (!p.reading) p.release();
          return;
        }
        if (status < 400) {
          // Answered 503 at the drain's end as this answer came, its exchange already ended: its
          // meter charges what it asked, marked truncated.
          if (out.headersSent) {
            proxyRes.destroy();
            return;
          }
          out.writeHead(status, { ...headers, ...gatewayHeaders(p) });
          // An event stream still running when a drain ends is ended with an error event its client
          // reads (and can retry on), as a translated stream is: a connection reset looked like a
          // network failure. Charged what it asked for, marked truncated.
          let drainCut = false;
          if (String(proxyRes.headers['content-type'] ?? '').includes('text/event-stream') && deps.liveStreams !== undefined) {
            const untrack = deps.liveStreams.track((reason) => {
              drainCut = true;
              proxyRes.unpipe(out);
              // Its meter charges what was read and at least what was asked, marked truncated (answer-meter.ts).
              proxyRes.destroy();
              out.end(streamErrorEvent(reason));
            });
            out.once('close', untrack);
          }
          proxyRes.pipe(out);
          // An answer the upstream cut short cuts the client's (the proxy's own listener is on its stand-in).
          proxyRes.once('close', () => {
            // Not one the drain cut: its error event is still being written.
            if (!proxyRes.complete && !out.destroyed && !drainCut) out.destroy();
          });
          if (meter !== undefined) {
            p.meter = meter;
            p.keepReading = () => meter.reads && keepReading(proxyRes, out, p.deadline, p.release);
          }
          return;
        }
        // An error answer is upstream error text: relayed only scrubbed, like the chat path's.
        scrubbedErrorBody(proxyRes, status, secrets).then(
          ({ body, upstreamType }) => {
            // Gone, or answered 503 meanwhile at the drain's end.
            if (out.destroyed || out.headersSent) return;
            for (const name of ['content-length', 'content-encoding', ...(upstreamType ? [] : ['content-type'])]) delete headers[name];
            out.writeHead(status, { ...headers, ...(upstreamType ? {} : { 'content-type': 'application/json' }), 'content-length': String(Buffer.byteLength(body)), ...gatewayHeaders(p) });
            out.end(body);
          },
          () => out.destroy(),
        );
      },
    },
  })));

  return async (req, res, telemetry, path, requestId) => {
    const routing: Record<string, string> = {};
    /** Set when the drain ended before the answer started: its client was told to retry. */
    let drained = false;
    /** How the request goes on without its client (its response's 'close' listener, once set). */
    let leave: (() => void) | undefined;
    // Also how the request is answered when the drain ends before it was (`drain`: found through
    // its connection then, see unanswered.ts): no closure more per request.
    const fail = (err: unknown, drain?: DrainEnded): void => {
      // Answered already: sendError would destroy the connection its 503 is leaving on.
      if (drained) return;
      if (drain === undefined) return sendError(res, err, deps.logger, (e) => e.toBody(), routing);
      if (res.headersSent || res.destroyed) return;
      drained = true;
      // Told to retry rather than reset: cancelled in its history, its connection closed once the
      // answer has left (the drain waits for that).
      telemetry.cutShort();
      res.setHeader('connection', 'close');
      sendError(res, err, deps.logger, (e) => e.toBody(), routing);
      // From now on as if its client had left: an upstream that had all of it is awaited (the drain
      // waits for it, UnattendedAnswers), else the exchange ends. Not at the response's 'close',
      // which comes once the 503 has been written: an answer arriving meanwhile was relayed to it.
      leave?.();
    };
    answerAtDrain(res, fail);
    telemetryOf.set(req, telemetry);
    try {
      const runtime = deps.store.current;
      if (runtime === undefined) throw errors.notReady();
      const endpoint = passThroughPath(path);
      if (endpoint === undefined) throw errors.notFound(`${req.method ?? 'GET'} ${path}`);
      const header = (name: string): string | undefined => headerOf(req, name);
      // Who is calling is settled from the headers first; only then is a JSON body read (bounded).
      const caller = await identifyCaller(deps.auth, runtime, header, telemetry);
      const json = hasBody(req) && isJson(req) ? await readJsonBody(req, res, deps.bodyLimits, deps.bodyBudget) : undefined;
      // The body is read: it cannot be streamed as it came, and one that is not an object cannot be rewritten.
      if (json !== undefined && !isObject(json)) throw errors.badRequest(`a JSON request body must be an object, not ${json === null ? 'null' : Array.isArray(json) ? 'an array' : `a ${typeof json}`}`);
      const formBoundary = hasBody(req) && json === undefined ? modelFormBoundary(path, req.headers['content-type']) : undefined;
      const { route, targets } = passThroughRoute(runtime, caller, header, endpoint.endpoint, modelOf(req, json), deps.auth !== undefined, path, (on, decisions, refused) => {
        if (refused) {
          // The refusal names its route, in the answer's headers and the access log, as a served request would.
          routing['x-tollgate-route'] = on.id;
          telemetry.routed(on, PASS_THROUGH_REQUEST, requestId);
          telemetry.admission({ result: 'guardrail_blocked' });
        }
        telemetry.guardrails(decisions);
      });
      routing['x-tollgate-route'] = route.id;
      // Nothing sent upstream yet: a refusal from here on (rate limit, budget) says so, as on the chat path.
      routing['x-tollgate-attempts'] = '0';
      telemetry.routed(route, { ...PASS_THROUGH_REQUEST, body: {} }, requestId);
      const maxUpload = route.passThrough?.maxUploadBytes ?? 0;
      const declared = Number(req.headers['content-length'] ?? Number.NaN);
      if (declared > maxUpload) throw bodyErrors.tooLarge(maxUpload);

      // A JSON body (read whole) or none can be sent again to the next target; a streamed upload cannot.
      const streamed = hasBody(req) && !(json !== undefined && isObject(json));
      const creates = createsUpstream(req.method ?? 'GET', path);
      const evalRun = createsEvalRun(req.method ?? 'GET', path) && evalRunModel(json) !== undefined;
      // A streamed upload goes to one target only: its bytes are counted once.
      const uploaded = { bytes: 0 };
      /** The form as it streamed to the last target (its input images: what an edit that timed out is charged for). */
      let form: FormModelRewriter | undefined;
      const bodyFor = (to: ForwardTarget): { body: Readable; length?: number; resized?: true } => {
        // The target's model, as this upstream names it in a body (Azure's v1 API: the deployment).
        const model = to.forwarding.bodyModel?.(path, to.at) ?? to.target.model;
        if (json !== undefined && isObject(json)) {
          const rewritten: JsonObject = typeof json.model === 'string' ? { ...json, model } : json;
          // An eval run's data source names the model it runs: the target's, as a job's model (checked to be the route's at admission).
          if (evalRun && isObject(rewritten.data_source)) rewritten.data_source = { ...rewritten.data_source, model };
          const bytes = Buffer.from(JSON.stringify(rewritten));
          if (bytes.length > maxUpload) throw bodyErrors.tooLarge(maxUpload);
          return { body: Readable.from([bytes]), length: bytes.length };
        }
        if (!hasBody(req)) return { body: Readable.from([]) };
        const upload = req.pipe(onError(new UploadLimit(maxUpload, uploaded)));
        // The form names the model that runs: the target's, as for a JSON body.
        if (formBoundary !== undefined) {
          form = new FormModelRewriter(formBoundary, model);
          return { body: upload.pipe(onError(form)), resized: true };
        }
        return { body: upload };
      };
      /** A body stream that fails (too large, malformed) ends the request with its error. */
      const onError = <T extends Transform>(stream: T): T =>
        stream.on('error', (err) => {
          failUpstream(err);
          pending.get(req)?.proxyReq?.destroy();
        });

      // Budgets hold what the request is priced at besides tokens (a request, the images it asks
      // for): with nothing held, any number of concurrent requests were admitted past a Budget.
      // A compaction runs the model over its prompt: held like a chat request's (prompt estimate and output cap).
      const parts: PromptParts = { tokens: 0 };
      const promptTokens = runsModel(req.method ?? 'GET', path) ? promptTokensOf(json, parts) : 0;
      const held: HeldTokens | undefined = promptTokens === 0 ? undefined : { promptTokens, maxOutputTokens: outputCap({ op: 'chat', body: {} }, route, promptTokens) };
      if (held !== undefined && parts.media !== undefined) held.media = parts.media;
      const media = held?.media;
      // An images request to a token-priced target (gpt-image) is billed its images' output tokens:
      // held at the most they can be (lostImageUsage, what a timed-out one is charged); a unit-priced
      // target prices them at 0. Before, only its unit prices were held (none for gpt-image).
      // An edit form's input images, before it streams: at most what its length can carry (its
      // declared length, else the route's upload limit). Before, 17 (the most an edit takes) always.
      const formImages = formBoundary === undefined ? undefined : formImagesBound(Number.isFinite(declared) ? Math.min(declared, maxUpload) : maxUpload, formBoundary);
      const images = held === undefined && req.method === 'POST' ? lostImageUsage(path, json, formImages) : undefined;
      const hold = held ?? (images === undefined ? undefined : { promptTokens: images.inputTokens, maxOutputTokens: images.outputTokens });
      const heldUnits = requestUnits(path, json, Number.isFinite(declared) ? declared : 0, req.method);
      let limits;
      /**
       * A batch, fine-tuning job or eval run being created: the worst case of the work it makes the
       * upstream run, read from its files and checked before it goes upstream, held and charged.
       */
      let created: CreationWorstCase | undefined;
      try {
        const method = req.method ?? 'GET';
        if (definesEval(method, path)) refuseModelGraders(json);
        if (createsBatch(method, path) || createsFineTuningJob(method, path) || createsEvalRun(method, path)) {
          // Bounded: a file by the route's maxUploadBytes, a line as a request body is, the time by the route's total timeout.
          const bounds = { maxFileBytes: maxUpload, maxLineBytes: deps.bodyLimits.maxBodyBytes, maxJsonElements: deps.bodyLimits.maxJsonElements, deadline: Date.now() + route.timeouts.totalMs };
          // Every run runs the eval's graders, whatever its data source: an eval made outside the gateway is checked here.
          if (createsEvalRun(method, path)) await refuseStoredModelGraders(path, targets, bounds, agentsNow());
          created = createsBatch(method, path)
            ? await batchWorstCase(json, route, targets, bounds, agentsNow())
            : createsFineTuningJob(method, path)
              ? await fineTuningWorstCase(json, route, targets, bounds, agentsNow())
              : await evalRunWorstCase(json, route, targets, path, bounds, agentsNow());
        }
        limits = created === undefined ? await admitPassThrough(deps, runtime, caller, route, false, heldUnits, hold) : await admitWorstCase(deps, runtime, caller, route, created);
      } catch (err) {
        // Counted as the pipeline counts a chat request's refusal: before, these were in no rejection counter.
        const refused = err instanceof GatewayError ? refusalDecision(err) : undefined;
        if (refused !== undefined) telemetry.admission(refused);
        throw err;
      }
      // The drain ended meanwhile (its client was answered 503): nothing is sent upstream.
      if (drained) {
        limits.settle({ usage: undefined, costUsd: 0 });
        return;
      }
      let settled = false;
      /** Set while the answer is read on, or awaited, without its client: told when the request is charged. */
      let unattended: (() => void) | undefined;
      /** The answer is read on, or awaited, without its client: the request's telemetry ends when it is settled. */
      let readOn = false;
      const settle = (usage: Usage | undefined, cost: number): void => {
        if (settled) return;
        settled = true;
        unattended?.();
        limits.settle({ usage, costUsd: cost });
        // After its usage (if any) was metered: the span ends with it.
        if (readOn) telemetry.answerSettled();
      };
      /** No response holds the exchange open any more: a drain cuts it (ending the upstream request), which charges it. */
      const unattend = (attempt: Pending): void => {
        unattended ??= deps.unattended?.add(() => attempt.proxyReq?.destroy());
        if (!readOn) {
          readOn = true;
          telemetry.answerReadOn();
        }
      };
      const isSettled = (): boolean => settled;
      /**
       * What an attempt that had all of the request is charged in tokens when its answer will never
       * be read: its prompt estimate, and when it timed out (`lost_attempt`) a compaction's output cap
       * too, as a timed-out chat request's worst case: the upstream finishes it and bills its answer.
       * A timed-out images request to a token-priced target (gpt-image) is charged the most its
       * images can be billed (lostImageUsage); before, only its unit prices (often nothing).
       */
      const unansweredTokens = (reason: ChargeReason, target: TargetConfig): Usage => {
        const pricing = target.pricing;
        // Images at the target's model's bound, files named by id, at most its window: promptTokensOn.
        const prompt = promptUsage(promptTokensOn(target, promptTokens, media));
        if (reason !== 'lost_attempt') return prompt;
        if (held !== undefined) prompt.outputTokens = held.maxOutputTokens;
        const images = (pricing.imageOutputPerMTok ?? pricing.outputPerMTok) > 0 ? lostImageUsage(path, json, form?.inputImages ?? formImages) : undefined;
        return images ?? prompt;
      };
      /**
       * An attempt that had all of the request and whose answer will never be read: the upstream
       * may have done (and billed) the work, so the request's unit prices and prompt estimate are
       * charged (the tokens it would have reported are not known; a compaction that timed out, its
       * output cap); nothing when they are 0.
       */
      const chargeUnanswered = (attempt: Pending, reason: ChargeReason): void => {
        if (attempt.created !== undefined) return chargeCreated(deps.usage, attempt);
        const prompt = unansweredTokens(reason, attempt.to.target);
        const cost = costUsd(prompt, attempt.to.target.pricing) + unitCostUsd(requestUnits(path, json, uploaded.bytes, req.method), attempt.to.target.pricing);
        if (cost === 0) return settle(undefined, 0);
        charge(deps.usage, attempt, prompt, cost, reason);
      };
      /**
       * Its client was answered 503 at the drain's end and its upstream, which had all of it, was cut
       * at exit before it answered: charged what its admission held (its worst case: the unit prices
       * asked, for a compaction its prompt estimate and output cap, for a gpt-image request its
       * images' output tokens at most, at the route's dearest target), as a pipeline request cut so
       * is, marked shutdown. The upstream may finish and bill it, unseen.
       */
      const chargeWorstCase = (attempt: Pending): void => {
        if (attempt.created !== undefined) return chargeCreated(deps.usage, attempt);
        const heldPrompt = hold?.promptTokens ?? 0;
        const outputTokens = hold?.maxOutputTokens ?? 0;
        const units = uploaded.bytes > 0 ? requestUnits(path, json, uploaded.bytes, req.method) : heldUnits;
        const cost = worstCase(route, heldPrompt, outputTokens, units, 1, media).usd;
        if (cost === 0) return settle(undefined, 0);
        charge(deps.usage, attempt, { ...promptUsage(heldPromptTokens(route, heldPrompt, media)), outputTokens }, cost, 'shutdown');
      };
      /**
       * The client left after the whole request went upstream and before the answer: the exchange
       * stays open, as the chat path keeps reading a response its client left, bounded by the
       * route's attempt timeout (the proxy's: the upstream sent nothing) and its total. The answer
       * is then read without the client and charged what it says (proxyRes above). Without one (a
       * timeout, a failed connection) the request is charged as unanswered. Before, the exchange
       * ended with the client and only the unit prices were charged: a token-priced image, a
       * compaction's real usage, a transcription's reported tokens were not known.
       */
      const awaitAnswer = (attempt: Pending, proxyReq: ClientRequest): void => {
        attempt.awaiting = true;
        attempt.clientLeft = true;
        unattend(attempt);
        const timer = setTimeout(() => {
          attempt.timedOut = true;
          proxyReq.destroy();
        }, Math.max(1, attempt.deadline - Date.now()));
        timer.unref();
        const ended = (): void => {
          clearTimeout(timer);
          // An answer came: its meter settles the request (an error answer at once, with nothing).
          if (attempt.answered === true) return;
          attempt.release();
          if (drained && attempt.timedOut !== true) return chargeWorstCase(attempt);
          chargeUnanswered(attempt, attempt.timedOut === true ? 'lost_attempt' : 'client_gone');
        };
        if (proxyReq.destroyed) ended();
        else proxyReq.once('close', ended);
      };
      let left = false;
      leave = () => {
        // Once: at the drain's 503, then at its response's 'close'.
        if (left) return;
        left = true;
        const sent = pending.get(req);
        sent?.observed.clientGone(sent.proxyReq?.writableFinished === true);
        if (settled) return;
        // The answer has started: its meter charges it when it ends, read to its end without the client.
        if (sent?.meter !== undefined) {
          if (!res.writableFinished) sent.clientLeft = true;
          sent.reading = sent.keepReading?.() === true;
          if (sent.reading) unattend(sent);
          return;
        }
        // An answer that never completes settles with nothing reported, unless the whole request went upstream.
        if (sent === undefined || (res.writableFinished && !drained) || sent.proxyReq?.writableFinished !== true) {
          // The drain's 503: the exchange (the upload, the connection to the upstream) ends now.
          if (drained) sent?.release();
          return settle(undefined, 0);
        }
        // A request without a body (a retrieval, a listing, a delete) makes the upstream do no billed work: not awaited.
        if (sent.answered !== true && hasBody(req)) return awaitAnswer(sent, sent.proxyReq);
        if (drained) sent.release();
        chargeUnanswered(sent, 'client_gone');
      };
      res.on('close', leave);

      let index = 0;
      let failed = false;
      /** The client response's listeners before the first attempt: each attempt's are removed when the next starts. */
      let ownListeners: ListenerMark | undefined;
      const failUpstream = (err: unknown): void => {
        // A client that left is answered nothing (its request is settled as its answer ends).
        if (failed || res.headersSent || res.destroyed) return;
        failed = true;
        const to = targets[index];
        fail(err instanceof GatewayError ? err : new GatewayError(502, 'upstream_unreachable', 'server_error', `pass-through to ${to?.target.providerId ?? route.id} failed: ${connectionFailureText(err)}`));
      };
      const proxy = await loadProxy();
      const query = new URL(req.url ?? '/', 'http://gateway').searchParams;
      const timeoutMs = route.timeouts.attemptMs ?? route.timeouts.totalMs;
      // One deadline for every target tried: the route's total is the request's, not each
      // target's (three hung targets under a total of 2 s took 6 s).
      const deadline = Date.now() + route.timeouts.totalMs;
      const timedOut = (attempt: Pending): GatewayError => {
        const which = route.timeouts.attemptMs === undefined || attempt.timeoutMs < timeoutMs ? 'total' : 'attempt';
        return new GatewayError(
          504,
          'upstream_timeout',
          'timeout_error',
          `pass-through to ${attempt.to.target.providerId} timed out: the upstream sent nothing for ${attempt.timeoutMs} ms (the route's ${which} timeout, spec.timeouts)`,
        );
      };
      /**
       * The last attempt failed without an answer: 502, or 504 after the timeout. A timed-out one
       * that had all of the request is charged the request's unit prices and prompt estimate (a
       * compaction's output cap too; marked lost_attempt): the upstream may have made and billed it.
       * Before, it was charged nothing.
       */
      const lost = (attempt: Pending, kind: FailureKind, err: unknown): void => {
        // An answer that came is charged by its meter (read on when its client left), never as lost.
        if (kind === 'Timeout' && hasBody(req) && attempt.proxyReq?.writableFinished === true && !res.headersSent && attempt.answered !== true) {
          if (attempt.created !== undefined) chargeCreated(deps.usage, attempt);
          else {
            const prompt = unansweredTokens('lost_attempt', attempt.to.target);
            const cost = costUsd(prompt, attempt.to.target.pricing) + unitCostUsd(requestUnits(path, json, uploaded.bytes, req.method), attempt.to.target.pricing);
            if (cost > 0) charge(deps.usage, attempt, prompt, cost, 'lost_attempt');
          }
        }
        failUpstream(kind === 'Timeout' ? timedOut(attempt) : err);
      };
      const send = (): void => {
        const to = targets[index] as ForwardTarget;
        const url = to.forwarding.url(path, query, to.at);
        if (url === undefined) throw passThroughErrors.noTarget(endpoint.endpoint, route);
        // An IP literal is not looked up, so the agents' guard would not see it: refused here.
        const refused = refusedLiteral(url.hostname);
        if (refused !== undefined) throw new GatewayError(502, 'upstream_unreachable', 'server_error', `pass-through to ${to.target.providerId} failed: ${refused.message}`);
        const { body, length, resized } = bodyFor(to);
        /** Set once the request went to the next target: a late event of this attempt decides nothing. */
        let handedOver = false;
        /** `answer`: the upstream answer that is failed over, drained and untied from the client's response. */
        const next = (kind: FailureKind, answer?: IncomingMessage): boolean => {
          if (handedOver || !route.fallbackOn.includes(kind) || streamed || index + 1 >= targets.length || res.headersSent || res.destroyed) return false;
          if (deadline - Date.now() < 1) return false;
          handedOver = true;
          index++;
          deps.logger.info({ route: route.id, provider: to.target.providerId, next: targets[index]?.target.providerId }, 'pass-through failing over');
          // The proxy ties the answer to the client's response once this event returns: marked now, untied at the next attempt.
          const answerListeners = answer === undefined ? undefined : new ListenerMark(answer, PROXY_EVENTS);
          // The next attempt starts after this event, once the proxy has added this attempt's
          // listeners: they are removed first, so each request holds one attempt's, not one per target.
          setImmediate(() => {
            ownListeners?.removeAdded();
            if (answer !== undefined) {
              answerListeners?.removeAdded();
              answer.on('error', ignoreError);
            }
            // The client left meanwhile, or was answered at the drain's end: nothing is sent for
            // nobody (its close, or the drain's answer, settled the request).
            if (res.destroyed || drained) return;
            try {
              send();
            } catch (err) {
              // A body the next target cannot take is this request's answer.
              failUpstream(err);
            }
          });
          return true;
        };
        // The proxy's response: closed with the client's, unless the answer is read on without it.
        const standIn = new ServerResponse(req);
        let released = false;
        const release = (): void => {
          if (released) return;
          released = true;
          standIn.emit('close');
        };
        // Not when its answer is read on, or awaited, without the client: that releases it when it ends.
        res.once('close', () => {
          if (attempt.reading !== true && attempt.awaiting !== true) release();
        });
        const attempt: Pending = {
          route,
          client: res,
          standIn,
          release,
          deadline,
          to,
          url,
          body,
          ...(length === undefined ? {} : { length }),
          ...(resized === undefined ? {} : { resized }),
          path,
          method: req.method ?? 'GET',
          uploadedBytes: () => uploaded.bytes,
          promptTokens,
          json,
          ...(created === undefined ? {} : { created }),
          requestId,
          attempts: index + 1,
          settle,
          isSettled,
          observed: new ForwardedAttempt(telemetry, to, url),
          headers: limits.headers,
          timeoutMs: Math.max(1, Math.min(timeoutMs, deadline - Date.now())),
          fail: (err) => {
            if (handedOver) return;
            const kind = attempt.timedOut === true ? 'Timeout' : 'ConnectionError';
            attempt.observed.failed(kind, attempt.timeoutMs);
            // The upstream had all of the request: it may have done (and billed) the work, though
            // it never answered. What it makes is not made a second time on the next target.
            const delivered = hasBody(req) && attempt.proxyReq?.writableFinished === true;
            if (creates && delivered) return lost(attempt, kind, err);
            if (!next(kind)) lost(attempt, kind, err);
          },
          // 429 and 503 say the upstream did nothing; another 5xx may come after it made the thing.
          failOver: (status, answer) => {
            const kind = statusClass(status);
            return kind !== undefined && (!creates || status === 429 || status === 503) && next(kind, answer);
          },
        };
        pending.set(req, attempt);
        telemetry.served(to.target, index + 1);
        // The gateway's own answers from here on (502, 504 after the last target) say how many
        // upstream requests were sent and to whom, as relayed answers do (gatewayHeaders).
        routing['x-tollgate-attempts'] = String(index + 1);
        routing['x-tollgate-provider'] = to.target.providerId;
        // The proxy skips its proxyReq hook (where the caller's credentials are replaced by the
        // Provider's) for a request with `expect`: the caller's Authorization went upstream as it
        // was. Node has already answered the client's 100-continue; the upstream is not asked again.
        // And the caller's credentials leave the request itself, so that no path can forward them.
        delete req.headers.expect;
        for (const name of CALLER_HEADERS) delete req.headers[name];
        ownListeners ??= new ListenerMark(res, PROXY_EVENTS);
        void proxy(req, standIn, (err?: unknown) => {
          if (err !== undefined) pending.get(req)?.fail(err);
        });
      };
      // Answered at the drain's end while the proxy loaded (settled then): nothing is sent upstream.
      if (drained) return;
      send();
    } catch (err) {
      fail(err);
    }
  };
}

/**
 * The error event a relayed event stream is cut with: named `error` and carrying an `error` object,
 * as OpenAI's streams (images, speech, transcriptions) say an error; the OpenAI SDKs raise it as
 * an APIError.
 */
function streamErrorEvent(reason: Error): string {
  const error = reason instanceof GatewayError ? reason : new GatewayError(502, 'upstream_stream_error', 'server_error', reason.message);
  return sseEvent('error', { type: 'error', ...error.toBody() });
}
