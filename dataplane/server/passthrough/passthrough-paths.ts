import type { PassThroughEndpoint } from '../../config/pass-through-endpoints.js';

export interface PassThroughPath {
  endpoint: PassThroughEndpoint;
  /**
   * The path with its ids as `{id}` (`/v1/files/{id}/content`): the SERVER span's http.route. The
   * path itself would make one value per file, batch or response (spans-to-metrics keep a series per value).
   */
  route: string;
}

/**
 * One id in a path (a file, batch or stored response): 1 to 256 letters, digits and `_-.:~=+@`,
 * never `.` or `..`. Not any segment: the upstream URL is made by the URL parser, which reads a
 * backslash as `/` and `%2e%2e` as `..`, so `/v1/files/..<backslash>chat<backslash>completions`
 * (node accepts backslashes in a request line) went upstream as `/v1/chat/completions`, with the
 * Provider's key: any path of its API (fine-tuning, deletions, another Azure deployment), past the
 * endpoints the route enables, its guardrails and its prices. No `%`: the providers' ids need none.
 */
const ID = String.raw`(?!\.\.?(?:/|$))[A-Za-z0-9_.:~=+@-]{1,256}`;

/** Paths served by each endpoint name; `:id` segments are one id (ID), named `{id}` in the route. */
const TABLE: readonly [RegExp, PassThroughEndpoint, (m: RegExpExecArray) => string][] = [
  [/^\/v1\/images\/(generations|edits|variations)$/, 'images', (m) => m[0]],
  [/^\/v1\/audio\/(transcriptions|translations|speech)$/, 'audio', (m) => m[0]],
  [new RegExp(`^/v1/files(/${ID}(/content)?)?$`), 'files', (m) => (m[1] === undefined ? '/v1/files' : `/v1/files/{id}${m[2] ?? ''}`)],
  [new RegExp(`^/v1/batches(/${ID}(/cancel)?)?$`), 'batches', (m) => (m[1] === undefined ? '/v1/batches' : `/v1/batches/{id}${m[2] ?? ''}`)],
  [/^\/v1\/moderations$/, 'moderations', (m) => m[0]],
  [/^\/v1\/rerank$/, 'rerank', (m) => m[0]],
  [/^\/v1\/score$/, 'score', (m) => m[0]],
  [/^\/(tokenize|detokenize)$/, 'tokenize', (m) => m[0]],
  // Compaction (runs the model) and input token counting (free) are not stored responses' ids.
  [/^\/v1\/responses\/(compact|input_tokens)$/, 'responses', (m) => m[0]],
  // Stored responses (POST /v1/responses itself is an inference endpoint, not a pass-through one).
  [new RegExp(`^/v1/responses/${ID}(/(input_items|cancel))?$`), 'responses', (m) => `/v1/responses/{id}${m[1] ?? ''}`],
];

/** Every public path a pass-through endpoint serves, for the route table. */
export const PASS_THROUGH_PATTERNS: readonly RegExp[] = TABLE.map(([re]) => re);

/** Which pass-through endpoint a path belongs to; undefined when none. Where it goes upstream is the Provider's (PathForwarding). */
export function passThroughPath(path: string): PassThroughPath | undefined {
  for (const [re, endpoint, route] of TABLE) {
    const m = re.exec(path);
    if (m !== null) return { endpoint, route: route(m) };
  }
  return undefined;
}

/** POSTs that only read (classify, score, count, transcribe, compact a conversation) or cancel: doing one twice makes nothing twice. */
const REPEATABLE_POSTS: readonly RegExp[] = [/^\/v1\/(moderations|rerank|score)$/, /^\/(tokenize|detokenize)$/, /^\/v1\/audio\/(transcriptions|translations)$/, /^\/v1\/responses\/(compact|input_tokens)$/, /\/cancel$/];

/**
 * Whether a request makes something upstream (an image, speech, a file, a batch): sent to a second
 * target after the first had all of it, it could be made twice, on two accounts, and billed twice.
 */
export function createsUpstream(method: string, path: string): boolean {
  return method === 'POST' && !REPEATABLE_POSTS.some((re) => re.test(path));
}

/**
 * A pass-through request that runs the model over its JSON body's prompt and is billed its tokens:
 * `POST /v1/responses/compact`. Its prompt is estimated at admission (a Budget holds it, like a
 * chat request's) and its answer's `usage` is charged. Before, `compact` was taken for a stored
 * response's id, whose usage is not charged again: a compaction was charged nothing.
 */
export function runsModel(method: string, path: string): boolean {
  return method === 'POST' && path === '/v1/responses/compact';
}

/**
 * Whether the `usage` a successful answer shows is charged. Not for the stored responses' paths
 * (a retrieval shows a Response charged when it was created, a cancel a background one's) nor for
 * input token counting (free, and its answer holds no `usage`); for every other answer that has one.
 */
export function chargesAnswerUsage(method: string, path: string): boolean {
  return passThroughPath(path)?.endpoint !== 'responses' || runsModel(method, path);
}
