import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { buildConnector } from './undici.js';

/**
 * How long a client of the data plane's admin port or the operator's port has to send a request's
 * headers (its TLS handshake too): from the connection's start for its first request, from the first
 * byte of the headers for later ones.
 */
export const CHANNEL_HEADERS_TIMEOUT_MS = 15_000;

/**
 * The HTTP(S) server of one end of the operator↔data-plane channel (the data plane's admin port,
 * the operator's port with the console), which closes connections that do not send a request's
 * headers in time. Node enforces headersTimeout only on the later requests of a keep-alive
 * connection: a connection that sent nothing, or part of its first request's headers, was held open
 * for ever, so that anyone who could reach the port could hold its file descriptors and memory
 * without a token. A request whose headers arrived is bounded by node's requestTimeout.
 */
export function createChannelServer(handler: RequestListener, opts: { tls?: { cert: string; key: string }; headersTimeoutMs?: number } = {}): Server {
  const timeoutMs = opts.headersTimeoutMs ?? CHANNEL_HEADERS_TIMEOUT_MS;
  // How often node looks for later requests whose headers stall (30 s by default).
  const checking = { connectionsCheckingInterval: Math.min(5_000, timeoutMs) };
  const server: Server =
    opts.tls === undefined ? createHttpServer(checking, handler) : createHttpsServer({ ...checking, cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: timeoutMs }, handler);
  server.headersTimeout = timeoutMs;
  // The socket HTTP is read from: the TLS socket once its handshake is done (the handshake itself is
  // bounded by handshakeTimeout), else the TCP connection. Admin traffic only: a timer per connection costs nothing here.
  const firstRequest = new WeakMap<Socket, NodeJS.Timeout>();
  server.on(opts.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    timer.unref();
    firstRequest.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });
  server.on('request', (req: { socket: Socket }) => {
    const timer = firstRequest.get(req.socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    firstRequest.delete(req.socket);
  });
  return server;
}

/** Replaces a TLS channel server's certificate (a renewed file pair); undefined for a plain-HTTP one. */
export function secureContextOf(server: Server): ((pair: { cert: string; key: string }) => void) | undefined {
  return server instanceof HttpsServer ? (pair) => server.setSecureContext(pair) : undefined;
}

/**
 * An Agent `connect` for a TLS client of the channel whose trusted CA can change (followCaFile):
 * new connections verify against the CA last set; open ones were verified when they were made.
 */
export function trustingConnector(opts: { ca: string; servername?: string; timeout?: number }): { connect: ReturnType<typeof buildConnector>; trust(ca: string): void } {
  let connector = buildConnector({ ...opts });
  return {
    connect: (options, callback) => connector(options, callback),
    trust(ca) {
      connector = buildConnector({ ...opts, ca });
    },
  };
}
