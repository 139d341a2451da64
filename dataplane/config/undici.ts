/**
 * The part of undici Tollgate uses (Agent, request(), parseHeaders), loaded from undici's own files
 * instead of its index. The index also loads fetch, WebSocket, EventSource, the caches, the mock agents,
 * the proxy agents and the interceptors, none of which Tollgate calls: 110 files and 4.6 MiB of idle
 * heap (their sources and the objects they build at load) against 26 files and 1.6 MiB for these
 * (bench/results/memidle-s12-2026-12-06.md). Every Tollgate module takes undici from here; importing
 * 'undici' anywhere in the process loads the index again. It sits in config/ because the operator
 * uses it too, and config/ is the one part of the data plane the operator may import
 * (docs/architecture.md); it imports nothing of Tollgate.
 *
 * What the index does at load that matters is done here too: lib/global installs undici's Agent as
 * the global dispatcher (which request() without a dispatcher uses), and the dispatch API (request,
 * stream, ...) is put on Dispatcher.prototype. request() is the index's makeDispatcher(api.request),
 * copied (undici 7, MIT): the same checks, messages and defaults. undici has no "exports" map, so these
 * paths resolve; undici.test.ts fails when an update moves them.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/** What request() takes as its URL: a string, a URL or undici's UrlObject. */
type UrlArg = Parameters<typeof Undici.request>[0];

const load = createRequire(import.meta.url);

interface CoreUtil {
  parseHeaders: typeof Undici.util.parseHeaders;
  headerNameToString: typeof Undici.util.headerNameToString;
  parseOrigin(url: UrlArg): URL;
  parseURL(url: UrlArg): URL;
}

type RequestFn = (this: Undici.Dispatcher, opts: Undici.Dispatcher.RequestOptions) => Promise<Undici.Dispatcher.ResponseData>;

const DispatcherClass = load('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
const api = load('undici/lib/api/index.js') as { request: RequestFn };
const coreUtil = load('undici/lib/core/util.js') as CoreUtil;
const { InvalidArgumentError } = load('undici/lib/core/errors.js') as typeof Undici.errors;
const { getGlobalDispatcher } = load('undici/lib/global.js') as { getGlobalDispatcher: typeof Undici.getGlobalDispatcher };

Object.assign(DispatcherClass.prototype, api);

export type { Dispatcher } from 'undici';
export const Agent = load('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
/** A connect function of undici's own making (TCP or TLS, its session cache, its connect timeout), for an Agent's `connect`. */
export const buildConnector = load('undici/lib/core/connect.js') as typeof Undici.buildConnector;
export type Agent = Undici.Agent;
export const util: typeof Undici.util = { parseHeaders: coreUtil.parseHeaders, headerNameToString: coreUtil.headerNameToString };

interface LooseOptions {
  dispatcher?: Undici.Dispatcher;
  agent?: unknown;
  path?: unknown;
  method?: string;
  body?: unknown;
}

function dispatchRequest(url: UrlArg, opts?: LooseOptions | null): Promise<Undici.Dispatcher.ResponseData> {
  // Callers in JavaScript may pass anything: undici checks, so this does too.
  const given: unknown = url;
  if (!given || (typeof given !== 'string' && typeof given !== 'object' && !(given instanceof URL))) throw new InvalidArgumentError('invalid url');
  if (opts != null && typeof opts !== 'object') throw new InvalidArgumentError('invalid opts');
  let target: URL;
  let options: LooseOptions;
  if (opts && opts.path != null) {
    if (typeof opts.path !== 'string') throw new InvalidArgumentError('invalid opts.path');
    const path = opts.path.startsWith('/') ? opts.path : `/${opts.path}`;
    target = new URL(coreUtil.parseOrigin(url).origin + path);
    options = opts;
  } else {
    options = opts ?? (typeof url === 'object' ? (url as LooseOptions) : {});
    target = coreUtil.parseURL(url);
  }
  const { agent, dispatcher = getGlobalDispatcher() } = options;
  if (agent) throw new InvalidArgumentError('unsupported opts.agent. Did you mean opts.client?');
  return api.request.call(dispatcher, {
    ...options,
    origin: target.origin,
    path: target.search ? `${target.pathname}${target.search}` : target.pathname,
    method: options.method || (options.body ? 'PUT' : 'GET'),
  } as Undici.Dispatcher.RequestOptions);
}

/** undici's request(): `url` (with `opts.path` replacing its path) through `opts.dispatcher`, else the global one. */
export const request = dispatchRequest as typeof Undici.request;
