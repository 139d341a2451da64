import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';
import { ANONYMOUS, type Caller, namespaceOnRoute } from '../../core/caller.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import { browserRefusal } from '../browser-origin.js';
import { admitPassThrough, type ForwardTarget, MODEL_HEADER, type PassThroughDecision, passThroughRoute, refusalDecision } from '../passthrough/passthrough-route.js';
import type { Pricing, RouteConfig } from '../../config/snapshot.js';
import type { PipelineDeps } from '../../pipeline/pipeline-deps.js';
import type { SnapshotStore } from '../../runtime/snapshot-store.js';
import { RealtimeBudget } from './realtime-budget.js';
import { RelayQueue } from './relay-queue.js';
import { type Credentials, type OpenSession, REVOKED_CLOSE, revocation, runSession, type SessionHost } from './realtime-session.js';
import { guardedLookup, refusedLiteral } from '../../config/egress-guard.js';
import { type GatewayObserver, NOOP_REALTIME_TELEMETRY, type RealtimeTelemetry } from '../../telemetry/gateway-observer.js';
import { DEFAULT_OUTPUT_CAP } from '../../governance/admission.js';
import { serviceAccountTokenExpiry } from '../../governance/identity/authenticator.js';
import type { Admission } from '../../governance/types.js';
import type { RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import { defaultRealtimePerCaller, realtimePerNamespace } from '../../config/pass-through-endpoints.js';
import { connectionFailureText } from '../../upstream/connection-failure.js';

export const REALTIME_PATH = '/v1/realtime';
/** Largest single WebSocket message either way (audio chunks are base64 in JSON; 16 MiB leaves room). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Browsers cannot set headers on a WebSocket: OpenAI's clients put the key in this subprotocol. */
const KEY_PROTOCOL = 'openai-insecure-api-key.';
/** The beta Realtime API asked for as a subprotocol by browsers, which cannot send the OpenAI-Beta header. */
const BETA_PROTOCOL = 'openai-beta.realtime-v1';

/**
 * The subprotocol the gateway answers with: `realtime` when offered, else the first that carries
 * nothing (never the key protocol, whose answer would echo the caller's key in the 101), else none.
 * Before, the first offered was chosen, the key protocol included.
 */
export function selectProtocol(protocols: ReadonlySet<string>): string | false {
  if (protocols.has('realtime')) return 'realtime';
  for (const p of protocols) if (!p.startsWith(KEY_PROTOCOL) && p !== BETA_PROTOCOL) return p;
  return false;
}

export interface RealtimeDeps extends PipelineDeps {
  store: SnapshotStore;
  isDraining: () => boolean;
  logger: Logger;
  /** The server listens on a loopback address only (browserRefusal). */
  loopbackOnly?: boolean;
  /** Metrics and usage history of each connection (operation `realtime`); none without. */
  observer?: GatewayObserver;
}

/** Answers an upgrade that is refused with an HTTP status and OpenAI error JSON, then closes it. */
function refuse(socket: Duplex, err: GatewayError): void {
  const body = JSON.stringify(err.toBody());
  const head = [`HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
  for (const [name, value] of Object.entries(err.headers)) if (name !== 'connection') head.push(`${name}: ${value}`);
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * What the ws library would refuse in the handshake, checked before the caller is admitted and an
 * upstream session opened, so the refusal is a JSON 400 like every other.
 */
function malformedHandshake(req: IncomingMessage): string | undefined {
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'the Upgrade header must be websocket';
  if (!/^[+/0-9A-Za-z]{22}==$/.test(String(req.headers['sec-websocket-key'] ?? ''))) return 'Sec-WebSocket-Key is missing or not 16 bytes in base64';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'Sec-WebSocket-Version must be 13';
  return undefined;
}

/**
 * `GET /v1/realtime?call_id=…` joins a WebRTC or SIP call's session as a side-band control channel.
 * The gateway creates no calls (`/v1/realtime/calls` is refused: unserved-paths.ts), so every call
 * one could name was made on the Provider's account outside it — another tenant's, or an
 * application's holding the Provider key: its conversation could be read and its responses driven,
 * billed to that call. Refused, as the calls endpoint is.
 */
function callRefused(): GatewayError {
  return new GatewayError(
    403,
    'endpoint_refused',
    'permission_error',
    "GET /v1/realtime?call_id=… (a side-band connection to a WebRTC or SIP call) is not served by this gateway: the gateway creates no calls (/v1/realtime/calls is refused), so the call named was made on the Provider's account outside it, and joining it would read and drive another caller's session. Connect without call_id (the WebSocket session itself)",
  );
}

/** Logged and counted for an upgrade whose client left while the upstream connected (nginx's "client closed request"). */
const CLIENT_CLOSED_REQUEST = 499;
/** An upstream connection that failed: the refusal, and the attempt's outcome (undefined: nothing was sent). */
class RefusedAttempt extends Error {
  constructor(
    readonly error: GatewayError,
    readonly outcome: string | undefined,
  ) {
    super(error.message);
  }
}

/** The failure kind of an upstream's answer to the handshake that was not 101. */
function handshakeOutcome(status: number): string {
  if (status === 429) return 'RateLimited';
  if (status >= 500) return 'ServerError';
  return 'ClientError';
}

/**
 * Realtime over WebSocket: `GET /v1/realtime` upgraded and proxied, message for message, to the
 * route's first OpenAI-wire target. Identity, access, the route's `realtime` endpoint, its
 * connection limits (the route's, the caller's share) and request rate limit are checked before the
 * upgrade is answered (refusals are plain HTTP answers: 401, 403, 404, 429); the Provider's key
 * replaces the caller's. A connection with no message either way for the route's idle timeout is
 * closed (1001); one that reaches its maxDuration (1000) or its ServiceAccount token's expiry, or
 * that a new snapshot no longer allows (1008), is ended after an error event (realtime-session.ts).
 * Every `response.done` the upstream sends is metered at the target's prices.
 */
export class RealtimeProxy {
  /** `ws` is loaded on the first upgrade: a gateway without Realtime routes does not pay for it at start-up. */
  private ws: Promise<{ server: WebSocketServer; connect: typeof WebSocket }> | undefined;
  private readonly open = new Map<string, number>();
  /** Open connections per route and caller (`<route>\n<caller>`): a caller holds at most maxConnectionsPerCaller of its route's. */
  private readonly openByCaller = new Map<string, number>();
  /** Open connections per route and caller namespace (`<route>\n<namespace>`): another namespace than the route's holds at most half of them. */
  private readonly openByNamespace = new Map<string, number>();
  /** Every open session (its client socket): each new snapshot is checked against them. */
  private readonly sessions = new Map<WebSocket, OpenSession>();
  private readonly sockets = new Set<WebSocket>();
  /** What every connection has queued for sending, bounded per connection and over the pod (relay-queue.ts). */
  readonly queue = new RelayQueue();
  /**
   * Per open connection (its client socket): `goAway` closes both sides (1001), `end` ends it at
   * once, charging what it cut short (a drain past its deadline).
   */
  private readonly finishers = new Map<WebSocket, { goAway: () => void; end: () => void }>();
  /** Resolved as connections finish (charged), for a drain waiting on them. */
  private finished: (() => void) | undefined;

  /** What each session is given of the proxy: the registries a drain and a new snapshot walk. */
  private readonly host: SessionHost;

  constructor(private readonly deps: RealtimeDeps) {
    this.host = {
      relay: (from, to, data, binary) => this.queue.relay(from, to, data, binary),
      usage: deps.usage,
      logger: deps.logger,
      opened: (client, session, finisher) => {
        this.sockets.add(client);
        this.sessions.set(client, session);
        this.finishers.set(client, finisher);
      },
      closing: (client, upstream) => {
        this.sessions.delete(client);
        this.sockets.delete(client);
        this.finishers.delete(client);
        this.queue.forget(client);
        this.queue.forget(upstream);
      },
      closed: () => this.finished?.(),
    };
    deps.store.onChange((runtime) => this.revoke(runtime));
  }

  /**
   * A new snapshot: every open session whose route is gone (or no longer enables realtime), whose
   * API key no longer authenticates as the same key, whose caller may no longer call the route,
   * whose caller's residency now excludes the session's Provider, or which a GuardrailPolicy now
   * refuses (uninspected endpoints, refused at the handshake with 403 guardrail_uninspected) is
   * ended: an error event saying why, then 1008 to the client, 1000 upstream. Walks the open
   * sessions only: nothing is done for a pod without any. Before, a session outlived the removal
   * of its route and its API key for as long as it kept sending, and a new GuardrailPolicy or
   * residency policy ended none.
   */
  private revoke(runtime: RuntimeSnapshot): void {
    if (this.sessions.size === 0) return;
    const routes = new Map(runtime.snapshot.routes.map((r) => [r.id, r]));
    for (const session of [...this.sessions.values()]) {
      const ended = revocation(session, runtime, routes, this.deps.auth);
      if (ended !== undefined) session.end(REVOKED_CLOSE, ended.error, ended.reason);
    }
  }

  private loadWs(): Promise<{ server: WebSocketServer; connect: typeof WebSocket }> {
    this.ws ??= import('ws').then((m) => ({ server: new m.WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, handleProtocols: selectProtocol }), connect: m.WebSocket }));
    return this.ws;
  }

  /** Routes with open Realtime connections (on this pod). */
  get routesWithConnections(): number {
    return this.open.size;
  }

  /** Open Realtime connections on a route (on this pod). */
  connections(routeId: string): number {
    return this.open.get(routeId) ?? 0;
  }

  /** For http.Server's `upgrade` event; other paths are refused with 404. */
  readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    this.upgrade(req, socket, head).catch((err: unknown) => {
      refuse(socket, err instanceof GatewayError ? err : errors.internal(err));
    });
  };

  /**
   * Closes every connection (1001 going away) on both sides, e.g. when the pod drains; resolves
   * once each has been charged (its upstream closed, so that a response.done on its way is charged
   * as reported), or at `deadlineMs` from now: the connections still open are then ended and
   * charged at once (a response they cut short, its estimate). Resolves with how many were ended so.
   * Before, the close was not waited for: spend a session settled after the final usage report left
   * with the pod.
   */
  async closeAll(deadlineMs: number): Promise<number> {
    // The upstream too, at once: its close frame (after what it still had to say) settles the
    // connection, where a client that does not answer a close frame would hold it for ws's 30 s.
    for (const { goAway } of this.finishers.values()) goAway();
    const until = Date.now() + deadlineMs;
    while (this.finishers.size > 0) {
      const left = until - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.finished = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    this.finished = undefined;
    const late = [...this.finishers.values()];
    for (const { end } of late) end();
    return late.length;
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    // Other paths are not counted: a path is not a label value, and no endpoint answers there.
    if (url.pathname !== REALTIME_PATH || req.method !== 'GET') throw errors.notFound(url.pathname);
    const telemetry = this.deps.observer?.realtime() ?? NOOP_REALTIME_TELEMETRY;
    try {
      await this.serve(req, socket, head, url, telemetry);
    } catch (err) {
      const refusal = err instanceof GatewayError ? err : errors.internal(err);
      telemetry.closed(refusal.status, refusal.code);
      throw refusal;
    }
  }

  private async serve(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, telemetry: RealtimeTelemetry): Promise<void> {
    // A page may open a WebSocket to any host (no CORS applies to it): its Origin says where it runs.
    const fromPage = browserRefusal(req, this.deps.loopbackOnly === true);
    if (fromPage !== undefined) throw fromPage;
    // Before, the call_id was forwarded as it came (the target's model not set) and joined that call.
    if (url.searchParams.has('call_id')) throw callRefused();
    if (this.deps.isDraining()) throw new GatewayError(503, 'draining', 'service_unavailable_error', 'the gateway is shutting down; reconnect', { headers: { 'retry-after': '1' } });
    const malformed = malformedHandshake(req);
    if (malformed !== undefined) throw errors.badRequest(`not a WebSocket upgrade: ${malformed}`);
    const runtime = this.deps.store.current;
    if (runtime === undefined) throw errors.notReady();
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    // A client that offers subprotocols fails a handshake that answers none, and the key protocol is never answered.
    const offered = new Set(protocols.filter((p) => p !== ''));
    if (offered.size > 0 && selectProtocol(offered) === false) {
      throw errors.badRequest(`offer the realtime subprotocol with ${KEY_PROTOCOL}<key>: the gateway never answers with the key's own subprotocol (its 101 response would repeat the key)`);
    }
    const keyFromProtocol = protocols.find((p) => p.startsWith(KEY_PROTOCOL))?.slice(KEY_PROTOCOL.length);
    const header = (name: string): string | undefined => {
      const lower = name.toLowerCase();
      if (lower === 'authorization' && req.headers.authorization === undefined && keyFromProtocol !== undefined) return `Bearer ${keyFromProtocol}`;
      const v = req.headers[lower];
      return Array.isArray(v) ? v[0] : v;
    };
    const caller: Caller = this.deps.auth === undefined ? ANONYMOUS : await this.deps.auth.authenticate(header, runtime.apiKeys);
    telemetry.caller(caller);
    const model = url.searchParams.get('model') ?? header(MODEL_HEADER);
    // The guardrail decisions about a session (no rule reads one) are counted as a request's, and logged.
    const decision = passThroughRoute(runtime, caller, header, 'realtime', model === undefined || model === '' ? undefined : model, this.deps.auth !== undefined, REALTIME_PATH, (on, guardrails, refused) => {
      if (refused) {
        // The refusal is counted on its route, as a pass-through one.
        telemetry.routed(on);
        telemetry.admission({ result: 'guardrail_blocked' });
      }
      telemetry.guardrails(guardrails);
      this.deps.logger.info({ route: on.id, caller: caller.id, guardrails }, refused ? 'realtime connection refused: a guardrail policy cannot inspect it' : 'realtime connection not inspected by the guardrail policies that apply (uninspectedEndpoints: Allow)');
    });
    const { route } = decision;
    telemetry.routed(route);
    // An API key is checked again at each new snapshot while the session is open: its headers are kept for that.
    const credentials: Credentials = {};
    if (caller.kind === 'apikey') for (const name of ['authorization', 'x-api-key', 'api-key'] as const) {
      const value = header(name);
      if (value !== undefined) credentials[name] = value;
    }
    // A ServiceAccount's session ends when its token does: the token is not verified again while it runs.
    const tokenExpiresAtMs = caller.kind === 'serviceaccount' ? serviceAccountTokenExpiry(header) : undefined;
    const callerKey = `${route.id}\n${caller.id}`;
    const namespaceKey = `${route.id}\n${namespaceOnRoute(caller, route.id) ?? ''}`;
    let limits: Admission;
    try {
      this.checkConnectionLimits(route, caller, callerKey, namespaceKey);
      // Each connection is one request for the rate limits; budgets admit it while none that applies is exhausted.
      limits = await admitPassThrough(this.deps, runtime, caller, route, true);
    } catch (err) {
      const refused = err instanceof GatewayError ? refusalDecision(err) : undefined;
      if (refused !== undefined) telemetry.admission(refused);
      throw err;
    }
    telemetry.admission({ result: 'allowed' });
    // Counted from here: connecting upstream takes a while, and parallel upgrades must see each other.
    this.open.set(route.id, this.connections(route.id) + 1);
    this.openByCaller.set(callerKey, (this.openByCaller.get(callerKey) ?? 0) + 1);
    this.openByNamespace.set(namespaceKey, (this.openByNamespace.get(namespaceKey) ?? 0) + 1);
    let counted = true;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      // A route's entry goes with its last connection: kept at zero, every route that ever had one stayed.
      const left = this.connections(route.id) - 1;
      if (left > 0) this.open.set(route.id, left);
      else this.open.delete(route.id);
      const mine = (this.openByCaller.get(callerKey) ?? 1) - 1;
      if (mine > 0) this.openByCaller.set(callerKey, mine);
      else this.openByCaller.delete(callerKey);
      const ours = (this.openByNamespace.get(namespaceKey) ?? 1) - 1;
      if (ours > 0) this.openByNamespace.set(namespaceKey, ours);
      else this.openByNamespace.delete(namespaceKey);
    };
    try {
      const ws = await this.loadWs();
      const { upstream, to } = await this.connectFirst(ws.connect, decision, url.searchParams, req, telemetry);
      let upgraded = false;
      ws.server.handleUpgrade(req, socket, head, (client) => {
        upgraded = true;
        telemetry.upgraded(to.target);
        const budget = new RealtimeBudget({
          connection: limits,
          admitters: this.deps.admitters ?? [],
          caller,
          route,
          budgets: runtime.snapshot.budgets,
          toUpstream: (text) => upstream.readyState === upstream.OPEN && upstream.send(text),
          toClient: (text) => client.readyState === client.OPEN && client.send(text),
          pauseClient: (paused) => (paused ? client.pause() : client.resume()),
          // As a chat request's worst case without max_tokens (admission.ts outputCap), for the session's target.
          targetOutputCap: (promptTokens) => (to.target.contextWindow === undefined ? DEFAULT_OUTPUT_CAP : Math.max(1, to.target.contextWindow - promptTokens)),
        });
        const pricingOf = (providerId: string, model: string): Pricing | undefined => {
          for (const r of runtime.snapshot.routes) for (const t of r.targets) if (t.providerId === providerId && t.model === model) return t.pricing;
          return undefined;
        };
        runSession(this.host, { client, upstream, route, to, caller, credentials, tokenExpiresAtMs, budget, uncount, telemetry, pricingOf });
      });
      // ws calls back synchronously or not at all: it aborted the handshake (the client went away
      // while upstream connected, a header it refuses). Nothing was served; the session upstream
      // and the admission go with it, or every such upgrade would hold a connection slot for good.
      if (!upgraded) {
        upstream.terminate();
        uncount();
        limits.settle({ usage: undefined, costUsd: 0 });
        telemetry.closed(CLIENT_CLOSED_REQUEST);
      }
    } catch (err) {
      uncount();
      limits.settle({ usage: undefined, costUsd: 0 });
      throw err;
    }
  }

  /**
   * The route's connection limit, then the caller's share of it (maxConnectionsPerCaller), then its
   * namespace's: 429 too_many_connections naming the limit. Before, one caller could hold every
   * connection of a route, and then one namespace with a few API keys or ServiceAccounts (which it
   * makes at will) still could, locking every other tenant, the route's own included, out of it.
   */
  private checkConnectionLimits(route: RouteConfig, caller: Caller, callerKey: string, namespaceKey: string): void {
    const realtime = route.passThrough?.realtime;
    const limit = realtime?.maxConnections ?? 0;
    if (this.connections(route.id) >= limit) {
      throw new GatewayError(429, 'too_many_connections', 'rate_limit_error', `route ${route.id} already has its maximum of ${limit} open Realtime connections on this gateway (spec.passThrough.realtime.maxConnections); retry shortly`, {
        headers: { 'retry-after': '1' },
      });
    }
    const perCaller = realtime?.maxConnectionsPerCaller ?? defaultRealtimePerCaller(limit);
    if ((this.openByCaller.get(callerKey) ?? 0) >= perCaller) {
      throw new GatewayError(
        429,
        'too_many_connections',
        'rate_limit_error',
        `${caller.id} already has its maximum of ${perCaller} open Realtime connections on route ${route.id} on this gateway (spec.passThrough.realtime.maxConnectionsPerCaller); close one or retry shortly`,
        { headers: { 'retry-after': '1' } },
      );
    }
    // The route's own namespace may use all of its route; any other at most half.
    const namespace = namespaceOnRoute(caller, route.id);
    const perNamespace = realtimePerNamespace(limit);
    if (namespace !== route.namespace && (this.openByNamespace.get(namespaceKey) ?? 0) >= perNamespace) {
      throw new GatewayError(
        429,
        'too_many_connections',
        'rate_limit_error',
        `the callers of namespace ${namespace ?? '(none)'} already hold ${perNamespace} open Realtime connections on route ${route.id} on this gateway, half of its spec.passThrough.realtime.maxConnections, the most another namespace than the route's may hold; close one or retry shortly`,
        { headers: { 'retry-after': '1' } },
      );
    }
  }

  /** The route's targets in order until one accepts the connection (nothing has been sent yet, so failing over is safe). */
  private async connectFirst(Connect: typeof WebSocket, decision: PassThroughDecision, query: URLSearchParams, req: IncomingMessage, telemetry: RealtimeTelemetry): Promise<{ upstream: WebSocket; to: ForwardTarget }> {
    let last: unknown;
    for (const to of decision.targets) {
      const started = performance.now();
      try {
        const upstream = await this.connectUpstream(Connect, to, query, req);
        telemetry.attempt(to.target, 'success', performance.now() - started);
        return { upstream, to };
      } catch (err) {
        // A target refused before anything was sent to it (no Realtime URL, a metadata address) is no attempt.
        const outcome = err instanceof RefusedAttempt ? err.outcome : 'ConnectionError';
        if (outcome !== undefined) telemetry.attempt(to.target, outcome, performance.now() - started);
        last = err instanceof RefusedAttempt ? err.error : err;
      }
    }
    throw last;
  }

  private connectUpstream(Connect: typeof WebSocket, to: ForwardTarget, query: URLSearchParams, req: IncomingMessage): Promise<WebSocket> {
    const headers = to.forwarding.headers(to.at);
    const beta = req.headers['openai-beta'];
    if (typeof beta === 'string') headers['openai-beta'] = beta;
    else if (String(req.headers['sec-websocket-protocol'] ?? '').split(',').some((p) => p.trim() === BETA_PROTOCOL)) headers['openai-beta'] = 'realtime=v1';
    const target = to.forwarding.url(REALTIME_PATH, query, to.at);
    return new Promise((resolve, reject) => {
      if (target === undefined) {
        reject(new RefusedAttempt(new GatewayError(502, 'upstream_unreachable', 'server_error', `Realtime upstream ${to.target.providerId} does not serve Realtime`), undefined));
        return;
      }
      // Never a cloud metadata or other link-local address (egress-guard.ts): a literal is refused
      // here, a name that resolves to one by the lookup the connection uses.
      const refused = refusedLiteral(new URL(target).hostname);
      if (refused !== undefined) {
        reject(new RefusedAttempt(new GatewayError(502, 'upstream_unreachable', 'server_error', `Realtime upstream ${to.target.providerId} was not called: ${refused.message}`), undefined));
        return;
      }
      // No permessage-deflate: a compressed message of a few kilobytes can inflate to maxPayload.
      const upstream = new Connect(target, { headers, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false, handshakeTimeout: to.provider.config.connectTimeoutMs, lookup: guardedLookup });
      const fail = (message: string, outcome: string): void => {
        upstream.removeAllListeners();
        upstream.on('error', () => undefined);
        upstream.terminate();
        reject(new RefusedAttempt(new GatewayError(502, 'upstream_unreachable', 'server_error', `Realtime upstream ${to.target.providerId} could not be connected to: ${message}`), outcome));
      };
      upstream.once('open', () => {
        // The upstream speaks first (session.created): hold its messages until the client's side is up.
        upstream.pause();
        upstream.removeAllListeners('error');
        upstream.removeAllListeners('unexpected-response');
        resolve(upstream);
      });
      upstream.once('unexpected-response', (_r, res) => fail(`the upstream answered the handshake with HTTP ${res.statusCode ?? 0}`, handshakeOutcome(res.statusCode ?? 0)));
      // ws's handshakeTimeout fails with this message; every other error is the connection's.
      // Node's own words name the upstream's address (connect ECONNREFUSED 10.0.4.7:8000) or its
      // certificate's names: the caller, maybe another team's, gets the gateway's (connection-failure.ts).
      upstream.once('error', (err) => {
        const timedOut = err.message.includes('handshake has timed out');
        fail(timedOut ? 'the upstream did not complete the WebSocket handshake in time' : connectionFailureText(err), timedOut ? 'Timeout' : 'ConnectionError');
      });
    });
  }

}
