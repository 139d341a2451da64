/**
 * Endpoints the gateway forwards without translating (pass-through), enabled per ModelRoute. Each
 * name covers the paths below; `realtime` is the WebSocket upgrade at GET /v1/realtime; `responses`
 * is the stored responses of a target that keeps them (GET/DELETE /v1/responses/{id}, its input_items, cancel).
 * The objects an account keeps (vector stores, uploads, conversations, videos, containers,
 * fine-tuning jobs, evals) are each a name of their own: enabling files does not open them.
 */
export const PASS_THROUGH_ENDPOINTS = [
  'images',
  'audio',
  'files',
  'batches',
  'moderations',
  'rerank',
  'score',
  'tokenize',
  'realtime',
  'responses',
  'vector_stores',
  'uploads',
  'conversations',
  'videos',
  'containers',
  'fine_tuning',
  'evals',
] as const;
export type PassThroughEndpoint = (typeof PASS_THROUGH_ENDPOINTS)[number];

/** Default largest request body of a pass-through request (OpenAI's own upload limit for audio is 25 MB). */
export const DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
/** Largest upload limit a route may set (OpenAI's file upload limit is 512 MB). */
export const MAX_UPLOAD_BYTES_LIMIT = 512 * 1024 * 1024;
export const DEFAULT_REALTIME_MAX_CONNECTIONS = 100;
export const DEFAULT_REALTIME_IDLE_MS = 5 * 60_000;
/** OpenAI ends its own Realtime sessions at 60 minutes: a session through the gateway is not longer by default. */
export const DEFAULT_REALTIME_MAX_DURATION_MS = 60 * 60_000;

/**
 * Open Realtime connections one caller may hold on a route when the route does not say: a quarter
 * of the route's (at least one), so that one caller cannot take every slot and three others still find some.
 */
export function defaultRealtimePerCaller(maxConnections: number): number {
  return Math.max(1, Math.ceil(maxConnections / 4));
}

/**
 * Open Realtime connections of a route the callers of one namespace other than the route's may hold
 * together per pod: half of them (at least 1). A tenant makes API keys and ServiceAccounts at will,
 * so the per-caller share alone does not keep one tenant from taking a shared route's every connection.
 */
export function realtimePerNamespace(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 2));
}
