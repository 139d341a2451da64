import { createHash } from 'node:crypto';
import type { RouteConfig } from '../../config/snapshot.js';
import type { CanonicalRequest } from '../../providers/types.js';
import type { Caller } from '../types.js';

/**
 * Body fields that do not change what the model answers, left out of the key: how the answer is
 * delivered (stream, stream_options; the delivery mode is keyed separately), who the end user is
 * for abuse monitoring (user, safety_identifier), and provider-side bookkeeping (metadata, store,
 * prompt_cache_key). Everything else counts, sampling parameters and seed included.
 */
export const VOLATILE_FIELDS: readonly string[] = ['stream', 'stream_options', 'user', 'safety_identifier', 'metadata', 'store', 'prompt_cache_key'];

/** JSON with object keys sorted at every depth and undefined members dropped: equal data, equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** How the cached answer is replayed; streams with and without the usage chunk are kept apart. */
function deliveryMode(req: CanonicalRequest): 'response' | 'stream' | 'stream+usage' {
  if (!req.stream) return 'response';
  return req.clientWantsUsage ? 'stream+usage' : 'stream';
}

/**
 * The cache key of a request: "<route id>#<sha256>". The hash covers the operation, the route and
 * the upstream models it points at (so re-pointing a route does not serve old answers), the
 * caller's identity unless the route shares its cache across callers, the delivery mode, and the
 * body without VOLATILE_FIELDS. The prompt never appears in the key. Stream and non-stream
 * requests never share an entry (a stream is replayed chunk by chunk as it was received).
 */
export function cacheKey(route: RouteConfig, caller: Caller, req: CanonicalRequest): string {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req.body)) if (!VOLATILE_FIELDS.includes(k)) body[k] = v;
  const material = {
    v: 1,
    op: req.op,
    route: route.id,
    targets: route.targets.map((t) => `${t.providerId}/${t.model}`),
    caller: route.cache?.shareAcrossCallers === true ? null : caller.id,
    mode: deliveryMode(req),
    body,
  };
  return `${route.id}#${createHash('sha256').update(canonicalJson(material)).digest('hex')}`;
}

/** The route part of a key made by cacheKey (the partition whose maxEntries applies). */
export function partitionOf(key: string): string {
  const i = key.lastIndexOf('#');
  return i < 0 ? '' : key.slice(0, i);
}
