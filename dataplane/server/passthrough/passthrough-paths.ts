import type { PassThroughEndpoint } from '../../config/pass-through-endpoints.js';

export interface PassThroughPath {
  endpoint: PassThroughEndpoint;
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
  // Stored responses (POST /v1/responses itself is an inference endpoint, not a pass-through one).
  [/^\/v1\/responses\/[^/]+(\/(input_items|cancel))?$/, 'responses'],
];

/** Every public path a pass-through endpoint serves, for the route table. */
export const PASS_THROUGH_PATTERNS: readonly RegExp[] = TABLE.map(([re]) => re);

/** Which pass-through endpoint a path belongs to; undefined when none. Where it goes upstream is the Provider's (PathForwarding). */
export function passThroughPath(path: string): PassThroughPath | undefined {
  for (const [re, endpoint] of TABLE) if (re.test(path)) return { endpoint };
  return undefined;
}

/** POSTs that only read (classify, score, count, transcribe) or cancel: doing one twice makes nothing twice. */
const REPEATABLE_POSTS: readonly RegExp[] = [/^\/v1\/(moderations|rerank|score)$/, /^\/(tokenize|detokenize)$/, /^\/v1\/audio\/(transcriptions|translations)$/, /\/cancel$/];

/**
 * Whether a request makes something upstream (an image, speech, a file, a batch): sent to a second
 * target after the first had all of it, it could be made twice, on two accounts, and billed twice.
 */
export function createsUpstream(method: string, path: string): boolean {
  return method === 'POST' && !REPEATABLE_POSTS.some((re) => re.test(path));
}
