import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import express, { type Response, type Router } from 'express';
import { announcesBody } from '../../dataplane/config/channel-answers.js';
import { METADATA_LIST, METADATA_ONE } from '../kube/kube-client.js';
import { CONSOLE_PAGE } from './console-page.js';

/**
 * Reads the Kubernetes API as the viewer: their bearer token, their RBAC; `accept` asks for another
 * representation (metadata only). The body may be a stream: it is relayed as it arrives.
 */
export interface ViewerReader {
  streamAs(path: string, token: string, accept?: string): Promise<{ status: number; body: string | Readable }>;
}

/**
 * API reads relayed at once. A list can be hundreds of megabytes (every UsageReport of a large
 * cluster), relayed as it arrives without being held; past this many at once (one page load makes
 * five or six, a few viewers at once several times that) a read is answered 429, so that viewers
 * cannot together hold the operator's sockets and buffers without bound.
 */
export const MAX_RELAYED_READS = 32;

/**
 * How long a relay waits for a viewer that reads nothing before it is cut: a slot held by a
 * client that never reads would otherwise last the API read's whole 30 s timeout, and 32 such
 * clients, renewed, kept every other viewer at 429.
 */
export const RELAY_STALL_MS = 5_000;

/** Destroys `res` once its buffers stay full (the client reads nothing) for `ms`; stop() when the relay ends. */
function cutWhenStalled(res: Response, ms: number): { stop(): void } {
  let since: number | undefined;
  const timer = setInterval(() => {
    if (!res.writableNeedDrain) since = undefined;
    else if (since === undefined) since = Date.now();
    else if (Date.now() - since >= ms) res.destroy(new Error('the viewer stopped reading'));
  }, Math.max(10, Math.floor(ms / 5)));
  return { stop: () => clearInterval(timer) };
}

// What `?as=metadata` asks the API server for: the objects' metadata only (the console reads the
// UsageReports' day-summary annotations, not their hourly breakdowns). Same verb, same RBAC.
export { METADATA_LIST, METADATA_ONE };

const TOLLGATE_KINDS = '(providers|modelroutes|budgets|usagereports)';
const NAME = '[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?';
const NAMESPACE = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const TOLLGATE_PATH = new RegExp(`^/apis/tollgate\\.dev/v1alpha1(/namespaces/${NAMESPACE})?/${TOLLGATE_KINDS}(/${NAME})?$`);
const EVENTS_PATH = new RegExp(`^/api/v1(/namespaces/${NAMESPACE})?/events$`);
/** Events of Tollgate's objects only, whatever the viewer asks for. */
const EVENTS_SELECTOR = 'involvedObject.apiVersion=tollgate.dev/v1alpha1';

/**
 * The path and query the console may read, or undefined: Tollgate's resources (get and list) and
 * the Events about them, nothing else of the cluster, and only GET.
 */
export function allowedPath(path: string, query: URLSearchParams): string | undefined {
  const kept = new URLSearchParams();
  for (const key of ['limit', 'continue']) {
    const value = query.get(key);
    if (value !== null) kept.set(key, value);
  }
  if (TOLLGATE_PATH.test(path)) return kept.size === 0 ? path : `${path}?${kept}`;
  if (EVENTS_PATH.test(path)) {
    kept.set('fieldSelector', EVENTS_SELECTOR);
    return `${path}?${kept}`;
  }
  return undefined;
}

/** The Accept header for a metadata-only read of an allowed path: one object or a list. */
function metadataAccept(target: string): string {
  const named = TOLLGATE_PATH.exec(target.split('?')[0] ?? '')?.[4] !== undefined;
  return named ? METADATA_ONE : METADATA_LIST;
}

/** The browser's modules (compiled from web/ by the build): the page's script, and the numbers and reading it shares with `tollgate spend`. */
const SCRIPTS: Record<string, string> = {
  'console.js': fileURLToPath(new URL('./web/console.js', import.meta.url)),
  'usage-numbers.js': fileURLToPath(new URL('./web/usage-numbers.js', import.meta.url)),
  'usage-reading.js': fileURLToPath(new URL('./web/usage-reading.js', import.meta.url)),
};

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * The read-only console at /console/: the page, its script (compiled from web/console.ts by the
 * build), and /console/api/k8s/<path>, which reads the Kubernetes API with the viewer's own token.
 * Mounted before any token check of the port it is on: the viewer's credential is checked by the
 * API server, never by Tollgate, and the operator's own credentials are never used for it.
 */
export function consoleRouter(reader: ViewerReader, opts: { relayStallMs?: number } = {}): Router {
  const relayStallMs = opts.relayStallMs ?? RELAY_STALL_MS;
  const router = express.Router();
  let relaying = 0;
  router.use((_req, res, next) => {
    res.set({
      'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    });
    next();
  });
  // The console reads no request body. One it would not use is never read: the answer closes the
  // connection instead (as the port's token check does), else node would read and discard the body
  // to its end, as long as the caller sends it, for anyone who can reach the port, token or not.
  router.use('/console', (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // The API's 405 below (the page and scripts: the port's token check).
      next();
      return;
    }
    if (!announcesBody(req.headers)) {
      next();
      return;
    }
    res.status(400).set('connection', 'close').json({ error: { message: 'the console takes no request body', type: 'invalid_request_error', code: 'body_not_allowed' } });
  });
  // Routing ignores a trailing slash: the page's relative-free links work either way, but send /console to /console/.
  router.get('/console/', (req, res) => {
    if (!req.originalUrl.split('?')[0]?.endsWith('/')) {
      res.redirect(308, '/console/');
      return;
    }
    res.type('html').send(CONSOLE_PAGE.html);
  });
  router.get('/console/console.css', (_req, res) => {
    res.type('css').send(CONSOLE_PAGE.css);
  });
  router.get('/console/:script', async (req, res, next) => {
    const file = SCRIPTS[req.params.script];
    if (file === undefined || !Object.hasOwn(SCRIPTS, req.params.script)) {
      next();
      return;
    }
    try {
      res.type('js').send(await readFile(file, 'utf8'));
    } catch {
      res.status(503).type('text').send('the console script is not built: run `npm run build`');
    }
  });
  router.use('/console/api/k8s', async (req, res) => {
    if (req.method !== 'GET') {
      res.status(405).set('connection', 'close').json({ error: { message: 'the console is read-only', type: 'invalid_request_error', code: 'method_not_allowed' } });
      return;
    }
    const token = bearer(req.get('authorization'));
    if (token === undefined) {
      res.status(401).json({ error: { message: 'send your Kubernetes bearer token (Authorization: Bearer …)', type: 'authentication_error', code: 'missing_token' } });
      return;
    }
    const url = new URL(req.originalUrl, 'http://console');
    const target = allowedPath(url.pathname.slice('/console/api/k8s'.length), url.searchParams);
    if (target === undefined) {
      res.status(403).json({ error: { message: "the console reads only Tollgate's resources and their Events", type: 'permission_error', code: 'path_not_allowed' } });
      return;
    }
    const accept = url.searchParams.get('as') !== 'metadata' ? undefined : metadataAccept(target);
    if (relaying >= MAX_RELAYED_READS) {
      res.status(429).set('retry-after', '1').json({ error: { message: `the console relays at most ${MAX_RELAYED_READS} Kubernetes API reads at once; retry shortly`, type: 'rate_limit_error', code: 'too_many_reads' } });
      return;
    }
    relaying++;
    try {
      const answer = await reader.streamAs(target, token, accept);
      res.status(answer.status).type('json');
      if (typeof answer.body === 'string') res.send(answer.body);
      else {
        const stall = cutWhenStalled(res, relayStallMs);
        try {
          await pipeline(answer.body, res);
        } finally {
          stall.stop();
        }
      }
    } catch (err) {
      if (!res.headersSent) res.status(502).json({ error: { message: `Kubernetes API unreachable: ${(err as Error).message}`, type: 'server_error', code: 'kube_unreachable' } });
      else res.destroy();
    } finally {
      relaying--;
    }
  });
  return router;
}
