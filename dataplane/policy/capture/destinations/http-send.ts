import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { guardedLookup, refusedLiteral } from '../../../config/egress-guard.js';

/** A destination's answer: its status and body (its first MAX_ANSWER_BYTES). */
export interface HttpAnswer {
  status: number;
  body: Buffer;
}

// node:http rather than fetch: the capture worker would otherwise load and compile Node's bundled
// undici and the web streams under it for a few requests a second, and on the request thread fetch
// shares the upstream client's global dispatcher (the undici package installs its Agent as it), whose
// inline caches its handlers make megamorphic. Keep-alive pools of this thread, like fetch's; their idle
// sockets do not keep the process alive (node:http unrefs them). TLS as fetch's: Node's CA store
// (with NODE_EXTRA_CA_CERTS), the certificate verified.
let agents: { http: HttpAgent; https: HttpsAgent } | undefined;

/**
 * The most of an answer's body kept: the destinations only quote the start of an error body, and a
 * bucket or collector that answers with megabytes must not make the worker hold them (the rest is read
 * and dropped, so the connection can be reused).
 */
export const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * One request with its whole body, answered with the status and the answer's body (at most MAX_ANSWER_BYTES of it). Rejects on
 * a network or TLS error, or when the answer is not complete within `timeoutMs` (the whole exchange,
 * as fetch's AbortSignal.timeout was).
 */
export function send(url: URL, method: string, headers: Record<string, string>, body: Uint8Array, timeoutMs: number): Promise<HttpAnswer> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new Error(`unsupported protocol ${url.protocol}`));
  // A destination's URL is a tenant's: never a cloud metadata or other link-local address (egress-guard.ts).
  const refused = refusedLiteral(url.hostname);
  if (refused !== undefined) return Promise.reject(refused);
  agents ??= { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  const https = url.protocol === 'https:';
  return new Promise<HttpAnswer>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    const answered = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept >= MAX_ANSWER_BYTES) return;
        const part = kept + chunk.length > MAX_ANSWER_BYTES ? chunk.subarray(0, MAX_ANSWER_BYTES - kept) : chunk;
        chunks.push(part);
        kept += part.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
      });
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) fail(new Error(`${method} ${url.host}: the answer was cut off`));
      });
    };
    const options = { method, lookup: guardedLookup, headers: { ...headers, host: url.host, 'content-length': String(body.byteLength) } };
    const req = https ? httpsRequest(url, { ...options, agent: agents!.https }, answered) : httpRequest(url, { ...options, agent: agents!.http }, answered);
    timer = setTimeout(() => req.destroy(new Error(`${method} ${url.host} timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', fail);
    req.end(body);
  });
}
