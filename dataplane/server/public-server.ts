import type { IncomingMessage, ServerResponse } from 'node:http';
import { endpointPath } from '../core/endpoint-path.js';
import type { Logger } from 'pino';
import { messagesDialect } from '../inbound/anthropic/messages-dialect.js';
import type { InboundDialect } from '../inbound/inbound-dialect.js';
import { openAiDialect } from '../inbound/openai/openai-dialect.js';
import { responsesDialect } from '../inbound/responses/responses-dialect.js';
import type { PipelineDeps } from '../pipeline/pipeline-deps.js';
import { StageChain } from '../pipeline/stage.js';
import { requestStages } from '../pipeline/stage-list.js';
import type { GatewayObserver, RequestTelemetry } from '../telemetry/gateway-observer.js';
import type { ByteBudget } from '../core/byte-budget.js';
import type { RequestBodyLimits } from './body/json-body.js';
import { errors, type GatewayError } from '../core/gateway-error.js';
import { browserRefusal } from './browser-origin.js';
import { countTokensEndpoint } from './count-tokens.js';
import { inboundEndpoint } from './inbound-endpoint.js';
import { getAnthropicModel, getModel, listAnthropicModels, listModels } from './models-handler.js';
import { sendError } from './send-error.js';
import { sendJson } from './send-json.js';
import { passThroughEndpoint } from './passthrough/passthrough-handler.js';
import { type PassThroughPath, passThroughPath } from './passthrough/passthrough-paths.js';
import { unservedPath } from './unserved-paths.js';
import { requestIdOf } from './request-headers.js';
import { nameAnswer } from '../telemetry/answer-id.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import type { LiveStreams } from './live-streams.js';
import type { RunningRequests } from './running-requests.js';
import type { UnattendedAnswers } from './passthrough/unattended-answers.js';

export interface PublicServerDeps extends PipelineDeps {
  store: SnapshotStore;
  isDraining: () => boolean;
  logger: Logger;
  bodyLimits: RequestBodyLimits;
  /** Bytes of request bodies the process holds, shared by every request (bodyLimits.maxInflightBodyBytes). */
  bodyBudget: ByteBudget;
  observer: GatewayObserver;
  /** Told of every request whose handling runs on after the handler returned (shutdown waits for them). */
  running?: RunningRequests;
  /** Pass-through answers read on, or awaited, after their clients left (charged before the last usage report). */
  unattended?: UnattendedAnswers;
  /** The streams being written, cut with an error event when a drain ends. */
  liveStreams?: LiveStreams;
  /** The server listens on a loopback address only: requests must name a loopback host (browserRefusal). */
  loopbackOnly?: boolean;
}

/** `requestId`: the request's id, which every answer names (see createPublicHandler). */
type Handler = (req: IncomingMessage, res: ServerResponse, telemetry: RequestTelemetry, requestId: string) => Promise<void> | void;

interface Endpoint {
  handle: Handler;
  /** How this endpoint's errors are rendered (OpenAI JSON unless its API says otherwise). */
  render: (err: GatewayError, requestId?: string) => unknown;
  /** The headers its API names the request id in, besides `x-request-id` (Anthropic's `request-id`). */
  idHeader?: string;
  /** Its answers carry the id headers already (the pipeline's); others get them set before the handler runs. */
  namesAnswers?: true;
  /**
   * The same path as the Anthropic API answers it, for a request that names an anthropic-version
   * (the Anthropic SDK always does; OpenAI clients never): the model list, which both APIs serve
   * at GET /v1/models in shapes of their own.
   */
  messagesApi?: Endpoint;
  /** A pass-through endpoint: its family and http.route, for the request's metrics, span and access log. */
  passThrough?: PassThroughPath;
}

const openAiError = (err: GatewayError): unknown => err.toBody();
const MODELS_PREFIX = '/v1/models/';
/**
 * Anthropic's paths (POST only): another method there is answered in Anthropic's shape whether or
 * not the request names an anthropic-version, since no other API has these paths.
 */
const MESSAGES_PATHS: ReadonlySet<string> = new Set(['/v1/messages', '/v1/messages/count_tokens']);

/** The table's key of a request: its method (HEAD as GET) and its path in the one form endpoints are matched by. */
function routeKey(method: string, path: string): string {
  return `${method === 'HEAD' ? 'GET' : method} ${endpointPath(path)}`;
}

/** `meta-llama%2FLlama` or `meta-llama/Llama` → `meta-llama/Llama`; undefined when not decodable. */
function modelId(path: string): string | undefined {
  try {
    return path
      .slice(MODELS_PREFIX.length)
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s))
      .join('/');
  } catch {
    return undefined;
  }
}

/**
 * The public API (OpenAI Chat/Completions/Embeddings, Anthropic Messages, model lists) and the
 * health probes, as a plain node:http request listener: a small route table, a bounded body reader
 * (server/body) and the request stages (pipeline/).
 */
export function createPublicHandler(deps: PublicServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const stages = new StageChain(requestStages(deps));
  const inference = (dialect: InboundDialect): Endpoint => ({ handle: inboundEndpoint(deps, stages, dialect), render: dialect.errorBody, namesAnswers: true });
  const table = new Map<string, Endpoint>([
    ['GET /healthz', { handle: (_req, res) => sendJson(res, 200, {}, { status: 'ok' }), render: openAiError }],
    [
      'GET /readyz',
      {
        // Anyone may ask here: no snapshot version, a hash over every tenant's configuration and
        // credentials that changes whenever any of them does (the admin port's /readyz names it).
        handle: (_req, res) => {
          const ready = deps.store.current !== undefined && !deps.isDraining();
          sendJson(res, ready ? 200 : 503, {}, { ready, draining: deps.isDraining() });
        },
        render: openAiError,
      },
    ],
    ['POST /v1/chat/completions', inference(openAiDialect('chat'))],
    ['POST /v1/completions', inference(openAiDialect('completions'))],
    ['POST /v1/embeddings', inference(openAiDialect('embeddings'))],
    ['POST /v1/responses', inference(responsesDialect)],
    // The Anthropic Messages API, routed like chat completions; its errors are rendered the Anthropic way.
    ['POST /v1/messages', { ...inference(messagesDialect), idHeader: 'request-id' }],
    ['POST /v1/messages/count_tokens', { handle: countTokensEndpoint(deps), render: messagesDialect.errorBody, idHeader: 'request-id' }],
    [
      'GET /v1/models',
      {
        handle: (req, res) => listModels(deps, req, res),
        render: openAiError,
        messagesApi: { handle: (req, res) => listAnthropicModels(deps, req, res), render: messagesDialect.errorBody, idHeader: 'request-id' },
      },
    ],
  ]);

  // Endpoints forwarded untranslated to the route's first target, where the route enables them.
  const passThrough = passThroughEndpoint(deps);

  const find = (method: string, path: string): Endpoint | undefined => {
    const endpoint = table.get(routeKey(method, path));
    if (endpoint !== undefined) return endpoint;
    const forwarded = passThroughPath(path);
    if (forwarded !== undefined) return { handle: (req, res, telemetry, requestId) => passThrough(req, res, telemetry, path, requestId), render: openAiError, passThrough: forwarded };
    if ((method !== 'GET' && method !== 'HEAD') || !path.toLowerCase().startsWith(MODELS_PREFIX)) return undefined;
    const id = modelId(path);
    if (id === undefined || id === '') return undefined;
    return {
      handle: (req, res) => getModel(deps, req, res, id),
      render: openAiError,
      messagesApi: { handle: (req, res) => getAnthropicModel(deps, req, res, id), render: messagesDialect.errorBody, idHeader: 'request-id' },
    };
  };

  const loopbackOnly = deps.loopbackOnly === true;
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const method = req.method ?? 'GET';
    const found = find(method, path);
    const endpoint = found?.messagesApi !== undefined && req.headers['anthropic-version'] !== undefined ? found.messagesApi : found;
    // Every answer names the request (refusals and failures too, as OpenAI and Anthropic do: SDKs
    // show it as err.requestID): sendError and the access log take it from the response, the
    // pipeline's answers carry it in their headers, other endpoints get it set here.
    const requestId = requestIdOf(req);
    nameAnswer(res, requestId, endpoint?.idHeader);
    if (endpoint !== undefined && endpoint.namesAnswers !== true) {
      res.setHeader('x-request-id', requestId);
      if (endpoint.idHeader !== undefined) res.setHeader(endpoint.idHeader, requestId);
    }
    // Access log, metrics and the SERVER span of every request (dataplane/telemetry).
    const telemetry = deps.observer.request(req, res, path, endpoint?.passThrough);
    const fromPage = browserRefusal(req, loopbackOnly);
    if (fromPage !== undefined) {
      sendError(res, fromPage, deps.logger, endpoint?.render ?? openAiError);
      return;
    }
    if (endpoint === undefined) {
      // An Anthropic client (an endpoint the gateway does not serve, such as message batches) gets
      // the 404 its SDK reads: Anthropic error JSON, named in request-id; another method on a
      // Messages path gets the same shape, as 405 with `allow` (before: OpenAI's 404 without the
      // header, for a client that sent none). An OpenAI path the
      // gateway refuses on purpose (one that mints upstream keys, administers the account, ...)
      // says why (unserved-paths.ts).
      const messagesPath = MESSAGES_PATHS.has(endpointPath(path));
      if (messagesPath || req.headers['anthropic-version'] !== undefined) {
        nameAnswer(res, requestId, 'request-id');
        sendError(res, messagesPath ? errors.methodNotAllowed(method, path, 'POST') : errors.notFound(`${method} ${path}`), deps.logger, messagesDialect.errorBody);
      } else sendError(res, unservedPath(method, path) ?? errors.notFound(`${method} ${path}`), deps.logger, openAiError);
      return;
    }
    let done: Promise<void> | void;
    try {
      done = endpoint.handle(req, res, telemetry, requestId);
    } catch (err) {
      sendError(res, err, deps.logger, endpoint.render);
      return;
    }
    if (done === undefined) return;
    const running = deps.running;
    if (running === undefined) {
      done.catch((err: unknown) => sendError(res, err, deps.logger, endpoint.render));
      return;
    }
    // One then() where there was one catch(): counting the running request costs no promise more.
    running.begin();
    done.then(running.end, (err: unknown) => {
      running.end();
      sendError(res, err, deps.logger, endpoint.render);
    });
  };
}
