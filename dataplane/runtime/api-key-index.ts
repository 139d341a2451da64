import { apiKeyDigest } from '../config/api-key-digest.js';
import type { ApiKeyConfig, Snapshot } from '../config/snapshot.js';

/**
 * The snapshot's API keys by keyed digest: one HMAC and one map lookup per request, whatever the
 * number of keys. The map is keyed by HMAC outputs, which a caller cannot steer, so the lookup
 * leaks nothing through timing that a constant-time compare would protect.
 */
export class ApiKeyIndex {
  private readonly byDigest: Map<string, ApiKeyConfig>;
  private readonly hashKey: string | undefined;

  constructor(snapshot: Pick<Snapshot, 'apiKeys' | 'apiKeyHashKey'>) {
    this.hashKey = snapshot.apiKeyHashKey?.reveal();
    this.byDigest = new Map(snapshot.apiKeys.map((k) => [k.hmacSha256.reveal(), k]));
  }

  get size(): number {
    return this.byDigest.size;
  }

  find(apiKey: string): ApiKeyConfig | undefined {
    if (this.hashKey === undefined) return undefined;
    return this.byDigest.get(apiKeyDigest(apiKey, this.hashKey));
  }
}

export const EMPTY_API_KEYS = new ApiKeyIndex({ apiKeys: [] });
