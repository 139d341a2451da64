import { GatewayError } from '../core/gateway-error.js';

/**
 * OpenAI API paths the gateway does not serve on purpose, with the reason its answer gives: an
 * official client calling one gets an error that says why, not a bare 404 that reads like a typo
 * in its base URL. Consulted only for a request no endpoint serves (the 404 path): the route table
 * and the pass-through paths are matched first, so this costs the served paths nothing.
 */
interface Unserved {
  path: RegExp;
  /** Methods refused; every method when absent. */
  methods?: readonly string[];
  status: 403 | 404 | 400;
  code: string;
  why: string;
}

const BYPASS = 'a client holding it talks to the upstream directly, past this gateway\'s authentication, rate limits, budgets, guardrails and metering';

const UNSERVED: readonly Unserved[] = [
  {
    path: /^\/v1\/realtime\/(client_secrets|sessions|transcription_sessions)$/,
    status: 403,
    code: 'endpoint_refused',
    why: `it mints an ephemeral key of the Provider's account: ${BYPASS}. Connect to the WebSocket at GET /v1/realtime through the gateway instead (spec.passThrough.endpoints: realtime)`,
  },
  {
    path: /^\/v1\/realtime\/calls(\/.*)?$/,
    status: 403,
    code: 'endpoint_refused',
    why: `Realtime calls over WebRTC and SIP connect a client (or a phone line) to the upstream's media servers: ${BYPASS}. Use the WebSocket at GET /v1/realtime through the gateway`,
  },
  {
    path: /^\/v1\/chatkit(\/.*)?$/,
    status: 403,
    code: 'endpoint_refused',
    why: `ChatKit sessions mint client secrets of the Provider's account for a browser: ${BYPASS}`,
  },
  {
    path: /^\/v1\/(organization|projects)(\/.*)?$/,
    status: 403,
    code: 'endpoint_refused',
    why: "it administers the Provider's OpenAI organization (keys, users, projects, usage and costs of every caller), which this gateway does not expose to its callers",
  },
  {
    path: /^\/v1\/fine_tuning\/checkpoints\/[^/]+\/permissions(\/[^/]+)?$/,
    status: 403,
    code: 'endpoint_refused',
    why: "it shares a fine-tuned model of the Provider's account with other projects (an admin key's work), which this gateway does not expose to its callers",
  },
  {
    path: /^\/v1\/models\/.+$/,
    methods: ['DELETE'],
    status: 403,
    code: 'endpoint_refused',
    why: "it deletes a fine-tuned model of the Provider's account, which every route using it depends on; this gateway does not expose that to its callers",
  },
  {
    path: /^\/v1\/(assistants|threads)(\/.*)?$/,
    status: 404,
    code: 'endpoint_retired',
    why: 'OpenAI retired the Assistants API on 2026-08-26; use the Responses API (POST /v1/responses) with conversations (spec.passThrough.endpoints: conversations)',
  },
  {
    path: /^\/v1\/chat\/completions(\/.*)?$/,
    methods: ['GET', 'HEAD', 'DELETE', 'POST'],
    status: 400,
    code: 'endpoint_not_supported',
    why: "stored chat completions (store: true) are not served: their list shows every caller's completions on the Provider's account. Use the Responses API, whose stored responses a route can serve by id (spec.passThrough.endpoints: responses)",
  },
  {
    path: /^\/v1\/fine_tuning\/alpha\/graders\/(run|validate)$/,
    status: 400,
    code: 'endpoint_not_supported',
    why: 'fine-tuning graders are not served by this gateway (a model grader runs and bills a model unseen); fine-tuning jobs are (spec.passThrough.endpoints: fine_tuning)',
  },
  {
    path: /^\/v1\/skills(\/.*)?$/,
    status: 400,
    code: 'endpoint_not_supported',
    why: 'skills are not served by this gateway',
  },
];

const TYPES: Record<Unserved['status'], string> = { 403: 'permission_error', 404: 'not_found_error', 400: 'invalid_request_error' };

/**
 * The error for a request to a path the gateway does not serve on purpose; undefined for any other
 * unknown path (a plain 404). `POST /v1/chat/completions` itself never gets here: the route table has it.
 */
export function unservedPath(method: string, path: string): GatewayError | undefined {
  for (const u of UNSERVED) {
    if (!u.path.test(path) || (u.methods !== undefined && !u.methods.includes(method))) continue;
    return new GatewayError(u.status, u.code, TYPES[u.status], `${method} ${path} is not served by this gateway: ${u.why}`);
  }
  return undefined;
}
