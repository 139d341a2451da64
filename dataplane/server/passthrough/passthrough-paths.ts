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

/**
 * The http.route of an object path: the segments that name objects become `{id}`, the API's own
 * words (`files`, `search`, `cancel`, ...) stay, so that every vector store's search is one route.
 */
function objectRoute(path: string, words: ReadonlySet<string>): string {
  const parts = path.split('/');
  // '', 'v1', the collection; from there on, an API word or an id.
  for (let i = 3; i < parts.length; i++) if (!words.has(parts[i] ?? '')) parts[i] = '{id}';
  return parts.join('/');
}

const VECTOR_STORE_WORDS = new Set(['files', 'file_batches', 'search', 'content', 'cancel']);
const UPLOAD_WORDS = new Set(['parts', 'complete', 'cancel']);
const CONVERSATION_WORDS = new Set(['items']);
const VIDEO_WORDS = new Set(['content', 'remix', 'characters', 'edits', 'extensions']);
const CONTAINER_WORDS = new Set(['files', 'content']);
const FINE_TUNING_WORDS = new Set(['jobs', 'cancel', 'pause', 'resume', 'events', 'checkpoints']);
const EVAL_WORDS = new Set(['runs', 'output_items']);

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
  // Vector stores, their files (and a file's parsed content), file batches, search.
  [
    new RegExp(`^/v1/vector_stores(/${ID}(/search|/files(/${ID}(/content)?)?|/file_batches(/${ID}(/files|/cancel)?)?)?)?$`),
    'vector_stores',
    (m) => objectRoute(m[0], VECTOR_STORE_WORDS),
  ],
  [new RegExp(`^/v1/uploads(/${ID}/(parts|complete|cancel))?$`), 'uploads', (m) => objectRoute(m[0], UPLOAD_WORDS)],
  [new RegExp(`^/v1/conversations(/${ID}(/items(/${ID})?)?)?$`), 'conversations', (m) => objectRoute(m[0], CONVERSATION_WORDS)],
  [new RegExp(`^/v1/videos(/(edits|extensions|characters)|/characters/${ID}|/${ID}(/(content|remix))?)?$`), 'videos', (m) => objectRoute(m[0], VIDEO_WORDS)],
  [new RegExp(`^/v1/containers(/${ID}(/files(/${ID}(/content)?)?)?)?$`), 'containers', (m) => objectRoute(m[0], CONTAINER_WORDS)],
  // Jobs only: checkpoint permissions share a model with other projects (an admin key's work), see unserved-paths.ts.
  [new RegExp(`^/v1/fine_tuning/jobs(/${ID}(/(cancel|pause|resume|events|checkpoints))?)?$`), 'fine_tuning', (m) => objectRoute(m[0], FINE_TUNING_WORDS)],
  [new RegExp(`^/v1/evals(/${ID}(/runs(/${ID}(/output_items(/${ID})?)?)?)?)?$`), 'evals', (m) => objectRoute(m[0], EVAL_WORDS)],
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

/**
 * POSTs that only read (classify, score, count, transcribe, compact a conversation, search a vector
 * store) or change a state (cancel, pause, resume a job): doing one twice makes nothing twice.
 */
const REPEATABLE_POSTS: readonly RegExp[] = [
  /^\/v1\/(moderations|rerank|score)$/,
  /^\/(tokenize|detokenize)$/,
  /^\/v1\/audio\/(transcriptions|translations)$/,
  /^\/v1\/responses\/(compact|input_tokens)$/,
  /^\/v1\/vector_stores\/[^/]+\/search$/,
  /\/(cancel|pause|resume)$/,
];

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
