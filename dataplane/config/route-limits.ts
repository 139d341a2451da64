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

/**
 * Most JSON objects, arrays and object members one upstream answer (or one stream event) may hold by
 * default, counted before it is parsed. Parsing runs on the event loop every tenant shares: a million
 * empty objects take JSON.parse about 0.2 s, a million distinct keys about 0.8 s, and the 64 MiB byte
 * limit alone let through 22 million. A chat answer holds hundreds; the largest legitimate ones are
 * logprobs (about 107 per token with top_logprobs 20: some 9,000 tokens fit) and embeddings batches
 * (about 5 per input; the numbers in a vector are not counted).
 */
export const DEFAULT_MAX_RESPONSE_JSON_ELEMENTS = 1_000_000;

/** Upper bound of maxResponseJsonElements in the CRD. */
export const MAX_ROUTE_JSON_ELEMENTS = 20_000_000;

/**
 * Deepest nesting of objects and arrays in an upstream answer or stream event. Provider answers nest
 * a handful of levels (tool arguments a model wrote inside them, a few more); a deeper one exists to
 * overflow the stack of a recursive walk of the parsed value.
 */
export const MAX_RESPONSE_JSON_DEPTH = 128;

/**
 * Bytes of large successful upstream answers read whole (not streams; past RESERVE_FROM_BYTES in
 * upstream/read-capped.ts) that one process holds at once, each until its reply has been written,
 * by default. Unbounded, three 60 MiB answers at once took a pod to 938-1,062 MiB (the chart's limit
 * is 1 GiB). An answer takes about five times its size until it is written (its bytes, their joined
 * copy, the text, the parsed value, the reply's bytes; measured: two 60 MiB answers at once peaked at
 * 685-779 MiB from about 100 idle), so this is an eighth of that limit: two answers of the default
 * 64 MiB maximum at once. Held only until parsed, the three answers still overlapped: 942 MiB.
 */
export const DEFAULT_MAX_INFLIGHT_RESPONSE_BYTES = 128 * MiB;

/** Upper bound of both byte settings in the CRD: beyond this one response alone threatens the pod. */
export const MAX_ROUTE_LIMIT_BYTES = 1024 * MiB;

/**
 * At most this much of an upstream error body is read: enough for any provider's error JSON, and an
 * upstream that answers an error with megabytes costs nothing.
 */
export const MAX_ERROR_BODY_BYTES = 16 * 1024;

export interface RouteLimits {
  maxResponseBytes: number;
  maxStreamEventBytes: number;
  /** Objects, arrays and members one answer or stream event may hold (DEFAULT_MAX_RESPONSE_JSON_ELEMENTS). */
  maxResponseJsonElements: number;
}

/** The route's limits with the defaults filled in. */
export function routeLimits(route: Pick<RouteConfig, 'limits'>): RouteLimits {
  return {
    maxResponseBytes: route.limits?.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    maxStreamEventBytes: route.limits?.maxStreamEventBytes ?? DEFAULT_MAX_STREAM_EVENT_BYTES,
    maxResponseJsonElements: route.limits?.maxResponseJsonElements ?? DEFAULT_MAX_RESPONSE_JSON_ELEMENTS,
  };
}
