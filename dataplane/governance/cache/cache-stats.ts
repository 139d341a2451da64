/** Counters for metrics; the observability side reads them. */
export interface CacheStats {
  hits: number;
  misses: number;
  stores: number;
  /** Entries dropped to respect maxEntries or the byte bound (expiry not counted). */
  evictions: number;
  /** Entries not stored because they were larger than maxEntryBytes. */
  tooLarge: number;
  /** Backend failures (Redis down, timeout, OOM, unreadable entry); each is served as a miss or a skipped store. */
  errors: number;
  /** `errors` by operation: lookups served as misses, stores skipped. */
  errorsByOp: { get: number; set: number };
}

export function newCacheStats(): CacheStats {
  return { hits: 0, misses: 0, stores: 0, evictions: 0, tooLarge: 0, errors: 0, errorsByOp: { get: 0, set: 0 } };
}

/** Response header that says whether the cache served the response: "hit" or "miss". */
export const CACHE_STATUS_HEADER = 'x-tollgate-cache';
