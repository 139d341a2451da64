import type { ServerResponse } from 'node:http';
import { upstreamTextOf } from '../core/upstream-text.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Writes a complete JSON response (what express's res.json did: content type and length).
 *
 * The headers reach writeHead as one flat list (name, value, name, value…), in the order and with
 * the values that `{ ...headers, 'content-type', 'content-length' }` would have: node then neither
 * gets a copied object nor walks its keys (bench/results/governance-off-s7-2026-12-05.md).
 */
export function sendJson(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  // An upstream answer passed back unchanged goes out as the upstream wrote it (core/upstream-text.ts).
  const text = upstreamTextOf(body) ?? JSON.stringify(body);
  const length = Buffer.byteLength(text);
  const list: (string | number)[] = [];
  let typed = false;
  let sized = false;
  for (const name of Object.keys(headers)) {
    // As in the spread, a content type or length among `headers` keeps its place and takes the JSON's value.
    if (name === 'content-type') {
      list.push(name, JSON_TYPE);
      typed = true;
    } else if (name === 'content-length') {
      list.push(name, length);
      sized = true;
    } else list.push(name, headers[name] as string);
  }
  if (!typed) list.push('content-type', JSON_TYPE);
  if (!sized) list.push('content-length', length);
  res.writeHead(status, list);
  res.end(text);
}
