import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../core/gateway-error.js';

/** Host names a gateway listening on loopback answers for: what a browser on the same machine sends for it. */
const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether `host` (a listen address) is a loopback address: then only this machine's clients, and its browser's pages, reach it. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function hostName(hostHeader: string): string {
  const h = hostHeader.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

const refused = (message: string): GatewayError => new GatewayError(403, 'cross_site_request', 'permission_error', message);

/**
 * Why a request came from a web page that must not use the gateway, or undefined. API clients and
 * the SDKs send neither `Origin` nor `Sec-Fetch-Site`; a browser marks every cross-origin request
 * with them, and a page can send a POST (text/plain, a form) without asking first. The gateway
 * answers no CORS, so a page could never read an answer, but it could still spend a caller's
 * credentials or, against a loopback `tollgate dev` holding a provider key, the developer's own.
 * On loopback the Host is checked as well: a DNS-rebinding page names its own host there, and is
 * same-origin to the browser.
 */
export function browserRefusal(req: IncomingMessage, loopbackOnly: boolean): GatewayError | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return refused('requests from other web sites are refused (Sec-Fetch-Site: ' + site + '); call the gateway from a server, not from a browser page');
  const origin = req.headers.origin;
  const host = req.headers.host ?? '';
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = origin === 'null' ? undefined : new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost === undefined || originHost.toLowerCase() !== host.toLowerCase()) return refused('requests from other web sites are refused (their Origin is not this gateway); call the gateway from a server, not from a browser page');
  }
  if (loopbackOnly && !LOOPBACK_NAMES.has(hostName(host))) {
    return refused('this gateway listens on a loopback address and answers only requests for localhost, 127.0.0.1 or [::1] (a page that rebinds its own host name to this machine is refused)');
  }
  return undefined;
}
