import { createHmac, randomBytes } from 'node:crypto';

/**
 * The digest a client API key is known by: HMAC-SHA256 under the installation's own key, so that a
 * leaked digest cannot be checked against guesses without that key (and is worth nothing in another
 * installation). The operator digests the keys in Secrets, the data plane what a caller presents.
 */
export function apiKeyDigest(apiKey: string, hashKey: string): string {
  return createHmac('sha256', hashKey).update(apiKey).digest('hex');
}

/** A fresh installation key (256 bits, hex). */
export function newApiKeyHashKey(): string {
  return randomBytes(32).toString('hex');
}
