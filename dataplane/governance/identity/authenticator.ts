import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from '../../config/snapshot.js';
import { GatewayError } from '../../server/gateway-error.js';
import { ANONYMOUS, type Caller } from '../types.js';
import type { TokenReviewer } from './token-reviewer.js';

export const TOKEN_AUDIENCE = 'tollgate';
const SA_PREFIX = 'system:serviceaccount:';

export interface AuthenticatorOptions {
  reviewer?: TokenReviewer;
  /** Longest a positive TokenReview is trusted (also bounded by the token's own expiry). */
  cacheTtlMs?: number;
  maxCacheEntries?: number;
  now?: () => number;
}

interface CacheEntry {
  caller: Caller;
  expiresAt: number;
}

export const unauthenticated = (message: string): GatewayError =>
  new GatewayError(401, 'invalid_api_key', 'authentication_error', message, { headers: { 'www-authenticate': 'Bearer' } });

function credentialOf(header: (name: string) => string | undefined): string | undefined {
  const auth = header('authorization');
  if (auth !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    return m?.[1]?.trim();
  }
  // Anthropic clients send x-api-key; Azure-style clients send api-key.
  return header('x-api-key')?.trim() ?? header('api-key')?.trim();
}

function invalid(reason: string): Caller {
  return { ...ANONYMOUS, invalidCredential: reason };
}

function looksLikeJwt(token: string): boolean {
  return /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(token);
}

/** exp of a JWT, read without verifying (only to bound how long a verified result is cached). */
function jwtExpiryMs(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Who is calling: a ServiceAccount (bearer JWT verified by TokenReview for audience `tollgate`,
 * cached for at most its lifetime in a bounded cache), an API key (SHA-256 looked up among the
 * snapshot's key hashes, compared in constant time), or anonymous (no credential at all).
 */
export class Authenticator {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly now: () => number;

  constructor(private readonly opts: AuthenticatorOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  async authenticate(header: (name: string) => string | undefined, apiKeys: readonly ApiKeyConfig[]): Promise<Caller> {
    const credential = credentialOf(header);
    if (credential === undefined || credential === '') return ANONYMOUS;
    const digest = createHash('sha256').update(credential).digest();
    if (looksLikeJwt(credential)) return this.serviceAccount(credential, digest.toString('hex'));
    const hex = digest.toString('hex');
    const key = apiKeys.find((k) => k.sha256 === hex);
    if (key === undefined || !timingSafeEqual(Buffer.from(key.sha256, 'hex'), digest)) return invalid('invalid API key');
    return { kind: 'apikey', namespace: key.namespace, name: key.name, labels: key.labels, id: `key:${key.namespace}/${key.name}` };
  }

  private async serviceAccount(token: string, cacheKey: string): Promise<Caller> {
    const now = this.now();
    const hit = this.cache.get(cacheKey);
    if (hit !== undefined && hit.expiresAt > now) return hit.caller;
    if (hit !== undefined) this.cache.delete(cacheKey);
    const reviewer = this.opts.reviewer;
    if (reviewer === undefined) return invalid('ServiceAccount tokens are not accepted here (no TokenReview access configured)');
    let result;
    try {
      result = await reviewer.review(token, TOKEN_AUDIENCE);
    } catch (err) {
      throw new GatewayError(503, 'auth_unavailable', 'service_unavailable_error', `cannot verify the token now: ${(err as Error).message}`, {
        headers: { 'retry-after': '1' },
      });
    }
    if (!result.authenticated) return invalid(`ServiceAccount token refused: ${result.reason}`);
    if (!result.audiences.includes(TOKEN_AUDIENCE)) return invalid(`token is not for audience ${TOKEN_AUDIENCE}`);
    if (!result.username.startsWith(SA_PREFIX)) return invalid('only ServiceAccount tokens are accepted');
    const [namespace, name] = result.username.slice(SA_PREFIX.length).split(':');
    if (namespace === undefined || name === undefined) return invalid('malformed ServiceAccount username');
    const caller: Caller = { kind: 'serviceaccount', namespace, name, id: `sa:${namespace}/${name}` };
    const ttl = this.opts.cacheTtlMs ?? 60_000;
    const expiresAt = Math.min(now + ttl, jwtExpiryMs(token) ?? now + ttl);
    const max = this.opts.maxCacheEntries ?? 10_000;
    if (this.cache.size >= max) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(cacheKey, { caller, expiresAt });
    return caller;
  }
}
