import { createHash } from 'node:crypto';
import type { RouteConfig } from '../../config/snapshot.js';
import type { CanonicalRequest } from '../../core/canonical.js';
import type { Caller } from '../../core/caller.js';

/**
 * Body fields that do not change what the model answers, left out of the key: how the answer is
 * delivered (stream, stream_options.include_usage; the delivery mode is keyed separately), who the
 * end user is for abuse monitoring (user, safety_identifier), and provider-side bookkeeping
 * (metadata, store, prompt_cache_key). Everything else sent upstream counts, sampling parameters,
 * seed and the other stream_options included.
 */
export const VOLATILE_FIELDS: readonly string[] = ['stream', 'user', 'safety_identifier', 'metadata', 'store', 'prompt_cache_key'];

/** Which rule served and which targets it may use (routing/rules RouteDecision, reduced to what the key needs). */
export interface KeyedDecision {
  rule: string;
  candidates: readonly { providerId: string; model: string }[];
  skipped: readonly { providerId: string; model: string; reason: string }[];
}

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
 * The targets that may answer this request under its decision: the candidates plus those passive
 * health ejected for now (health must not churn keys), without those residency, capabilities or
 * the context window excluded. Sorted: strategy order does not change who may answer.
 */
function eligibleTargets(decision: KeyedDecision, identityOf: ProviderIdentity): string[] {
  const ids = [...decision.candidates, ...decision.skipped.filter((s) => s.reason === 'ejected')].map((t) => `${t.providerId}/${t.model}@${identityOf(t.providerId) ?? ''}`);
  return [...new Set(ids)].sort();
}

/** A provider's answerIdentity (ProviderConfig): what its answers depend on besides its key. */
export type ProviderIdentity = (providerId: string) => string | undefined;

/**
 * The cache key of a request: "<route id>#<sha256>". The hash covers the operation, the route, the
 * resolved decision (the rule and the targets that may answer under it, each with its Provider's
 * answerIdentity so that a re-pointed Provider starts afresh; a `premium` answer never
 * serves a `general` request and a caller restricted by residency never gets an answer a provider it
 * may not use made), the caller's identity unless the route shares its cache across callers, the
 * delivery mode, and the body without VOLATILE_FIELDS. The prompt never appears in the key. Stream
 * and non-stream requests never share an entry (a stream is replayed chunk by chunk as received).
 * Callers with an invalid credential are never given a key (routeCanonical bypasses the cache).
 */
export function cacheKey(
  route: RouteConfig,
  caller: Caller,
  req: CanonicalRequest,
  decision: KeyedDecision = { rule: 'default', candidates: route.targets, skipped: [] },
  identityOf: ProviderIdentity = () => undefined,
): string {
  // Object.fromEntries defines own properties, so a `__proto__` member of the body (which JSON.parse
  // keeps, and which is sent upstream) is keyed like any other field instead of vanishing.
  const body = Object.fromEntries(
    Object.entries(req.body)
      .filter(([k]) => !VOLATILE_FIELDS.includes(k))
      .map(([k, v]) => (k === 'stream_options' && isRecord(v) ? [k, Object.fromEntries(Object.entries(v).filter(([o]) => o !== 'include_usage'))] : [k, v])),
  );
  const material = {
    v: 3,
    op: req.op,
    route: route.id,
    rule: decision.rule,
    targets: eligibleTargets(decision, identityOf),
    caller: route.cache?.shareAcrossCallers === true ? null : caller.id,
    mode: deliveryMode(req),
    body,
  };
  return `${route.id}#${createHash('sha256').update(canonicalJson(material)).digest('hex')}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The route part of a key made by cacheKey (the partition whose maxEntries applies). */
export function partitionOf(key: string): string {
  const i = key.lastIndexOf('#');
  return i < 0 ? '' : key.slice(0, i);
}
