import type { PassThroughEndpoint } from '../../config/pass-through-endpoints.js';

export interface PassThroughPath {
  endpoint: PassThroughEndpoint;
  /** The path on the upstream, relative to its base URL (which ends in /v1), or to its origin when `fromOrigin`. */
  upstreamPath: string;
  fromOrigin: boolean;
}

/** Paths served by each endpoint name; `:id` segments are any one path segment. */
const TABLE: readonly [RegExp, PassThroughEndpoint][] = [
  [/^\/v1\/images\/(generations|edits|variations)$/, 'images'],
  [/^\/v1\/audio\/(transcriptions|translations|speech)$/, 'audio'],
  [/^\/v1\/files(\/[^/]+(\/content)?)?$/, 'files'],
  [/^\/v1\/batches(\/[^/]+(\/cancel)?)?$/, 'batches'],
  [/^\/v1\/moderations$/, 'moderations'],
  [/^\/v1\/rerank$/, 'rerank'],
  [/^\/v1\/score$/, 'score'],
  [/^\/(tokenize|detokenize)$/, 'tokenize'],
];

/** Every public path a pass-through endpoint serves, for the route table. */
export const PASS_THROUGH_PATTERNS: readonly RegExp[] = TABLE.map(([re]) => re);

/** Which pass-through endpoint a path belongs to, and where it goes upstream; undefined when none. */
export function passThroughPath(path: string): PassThroughPath | undefined {
  for (const [re, endpoint] of TABLE) {
    if (!re.test(path)) continue;
    // vLLM serves /tokenize at its root, beside /v1; the other paths live under the base URL's /v1.
    if (path.startsWith('/v1/')) return { endpoint, upstreamPath: path.slice('/v1'.length), fromOrigin: false };
    return { endpoint, upstreamPath: path, fromOrigin: true };
  }
  return undefined;
}

/** The upstream URL for a base URL (up to /v1) and a pass-through path, with the query kept. */
export function upstreamUrl(baseUrl: string, path: PassThroughPath, query: string): URL {
  const base = baseUrl.replace(/\/+$/, '');
  const root = path.fromOrigin ? base.replace(/\/v1$/, '') : base;
  return new URL(`${root}${path.upstreamPath}${query}`);
}
