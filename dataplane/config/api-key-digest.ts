import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';

/**
 * The digest a client API key is known by: HMAC-SHA256 under the installation's own key, so that a
 * leaked digest cannot be checked against guesses without that key (and is worth nothing in another
 * installation). The operator digests the keys in Secrets, the data plane what a caller presents.
 * `hashKey` is the key's text, or the same imported once with apiKeyHashKeyObject (no per-call import).
 */
export function apiKeyDigest(apiKey: string, hashKey: string | KeyObject): string {
  return createHmac('sha256', hashKey).update(apiKey).digest('hex');
}

/** The installation key imported once, for digesting many keys (the same digests as the text). */
export function apiKeyHashKeyObject(hashKey: string): KeyObject {
  return createSecretKey(Buffer.from(hashKey, 'utf8'));
}

/** A fresh installation key (256 bits, hex). */
export function newApiKeyHashKey(): string {
  return randomBytes(32).toString('hex');
}
