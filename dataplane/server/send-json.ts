import type { ServerResponse } from 'node:http';
import { upstreamTextOf } from '../core/upstream-text.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Writes a complete JSON response (what express's res.json did: content type and length). */
export function sendJson(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  // An upstream answer passed back unchanged goes out as the upstream wrote it (core/upstream-text.ts).
  const text = upstreamTextOf(body) ?? JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
