import type { KeyObject } from 'node:crypto';
import { apiKeyDigest, apiKeyHashKeyObject } from '../config/api-key-digest.js';
import type { ApiKeyConfig, Snapshot } from '../config/snapshot.js';

/** Keys presented recently and found, remembered per index (per snapshot) by default. */
export const RECENT_API_KEYS = 1024;

/**
 * The snapshot's API keys by keyed digest: one HMAC and one map lookup per request, whatever the
 * number of keys. The map is keyed by HMAC outputs, which a caller cannot steer, so the lookup
 * leaks nothing through timing that a constant-time compare would protect.
 *
 * The HMAC is most of a request's authentication cost, so the last `recentLimit` keys that were
 * found are remembered (least recently used dropped first). Only keys that verified are kept: a
 * flood of wrong keys can neither grow the memory nor push a real caller's key out, and the answer
 * for a kept key is the one its HMAC gave. The raw keys stay inside this object (never logged or
 * exposed) and go with it when a new snapshot (with its own index) replaces it, so a revoked key
 * stops working with the snapshot that drops it.
 */
export class ApiKeyIndex {
  private readonly byDigest = new Map<string, ApiKeyConfig>();
  /** Digests the snapshot lists more than once: answered by no one (see the constructor). */
  private readonly ambiguousDigests = new Set<string>();
  private readonly hashKey: KeyObject | undefined;
  private readonly recent = new Map<string, ApiKeyConfig>();
  /** The key last found (the newest in `recent`): found again, it is already where a move would put it. */
  private newest: string | undefined;

  constructor(
    snapshot: Pick<Snapshot, 'apiKeys' | 'apiKeyHashKey'>,
    private readonly recentLimit = RECENT_API_KEYS,
  ) {
    const hashKey = snapshot.apiKeyHashKey?.reveal();
    this.hashKey = hashKey === undefined ? undefined : apiKeyHashKeyObject(hashKey);
    // One key listed for two Secrets would identify its caller as whichever came last, another
    // tenant's Secret perhaps (its route, its Provider, its Budgets). The operator keeps one holder
    // per key (compile-api-keys.ts); a snapshot that still lists a key twice (from an operator
    // before that) gets it answered by no one rather than by a guess.
    for (const k of snapshot.apiKeys) {
      const digest = k.hmacSha256.reveal();
      if (this.ambiguousDigests.has(digest)) continue;
      if (this.byDigest.has(digest)) {
        this.byDigest.delete(digest);
        this.ambiguousDigests.add(digest);
      } else this.byDigest.set(digest, k);
    }
  }

  /** How many keys the snapshot lists more than once, and so identify no one. */
  get ambiguous(): number {
    return this.ambiguousDigests.size;
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** How many verified keys are remembered now (at most the limit). */
  get recentCount(): number {
    return this.recent.size;
  }

  find(apiKey: string): ApiKeyConfig | undefined {
    if (this.hashKey === undefined) return undefined;
    const known = this.recent.get(apiKey);
    if (known !== undefined) {
      // Most recently used last: Map iteration order is insertion order.
      if (apiKey !== this.newest) {
        this.recent.delete(apiKey);
        this.recent.set(apiKey, known);
        this.newest = apiKey;
      }
      return known;
    }
    const found = this.byDigest.get(apiKeyDigest(apiKey, this.hashKey));
    if (found !== undefined && this.recentLimit > 0) {
      if (this.recent.size >= this.recentLimit) this.recent.delete(this.recent.keys().next().value as string);
      this.recent.set(apiKey, found);
      this.newest = apiKey;
    }
    return found;
  }
}

export const EMPTY_API_KEYS = new ApiKeyIndex({ apiKeys: [] });
