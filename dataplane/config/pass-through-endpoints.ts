/**
 * Endpoints the gateway forwards without translating (pass-through), enabled per ModelRoute. Each
 * name covers the paths below; `realtime` is the WebSocket upgrade at GET /v1/realtime; `responses`
 * is the stored responses of a target that keeps them (GET/DELETE /v1/responses/{id}, its input_items, cancel).
 */
export const PASS_THROUGH_ENDPOINTS = ['images', 'audio', 'files', 'batches', 'moderations', 'rerank', 'score', 'tokenize', 'realtime', 'responses'] as const;
export type PassThroughEndpoint = (typeof PASS_THROUGH_ENDPOINTS)[number];

/** Default largest request body of a pass-through request (OpenAI's own upload limit for audio is 25 MB). */
export const DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
/** Largest upload limit a route may set (OpenAI's file upload limit is 512 MB). */
export const MAX_UPLOAD_BYTES_LIMIT = 512 * 1024 * 1024;
export const DEFAULT_REALTIME_MAX_CONNECTIONS = 100;
export const DEFAULT_REALTIME_IDLE_MS = 5 * 60_000;
