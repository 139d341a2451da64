import type { RouteConfig } from './snapshot.js';

const MiB = 1024 * 1024;

/**
 * Largest non-streaming upstream body read by default. It fits the biggest embeddings batch OpenAI
 * accepts (2,048 inputs) of text-embedding-3-large as base64 (about 34 MB), or of
 * text-embedding-3-small as float JSON up to roughly 1,000 inputs; chat answers are far smaller.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * MiB;

/** Largest single stream event by default: a streamed image (base64) fits, a runaway event does not. */
export const DEFAULT_MAX_STREAM_EVENT_BYTES = 16 * MiB;

/** Upper bound of both settings in the CRD: beyond this one response alone threatens the pod. */
export const MAX_ROUTE_LIMIT_BYTES = 1024 * MiB;

/**
 * At most this much of an upstream error body is read: enough for any provider's error JSON, and an
 * upstream that answers an error with megabytes costs nothing.
 */
export const MAX_ERROR_BODY_BYTES = 16 * 1024;

export interface RouteLimits {
  maxResponseBytes: number;
  maxStreamEventBytes: number;
}

/** The route's limits with the defaults filled in. */
export function routeLimits(route: Pick<RouteConfig, 'limits'>): RouteLimits {
  return {
    maxResponseBytes: route.limits?.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    maxStreamEventBytes: route.limits?.maxStreamEventBytes ?? DEFAULT_MAX_STREAM_EVENT_BYTES,
  };
}
