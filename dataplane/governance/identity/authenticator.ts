import { createHash } from 'node:crypto';
import type { ApiKeyConfig } from '../../config/snapshot.js';
import type { ApiKeyIndex } from '../../runtime/api-key-index.js';
import { GatewayError } from '../../core/gateway-error.js';
import { ANONYMOUS, type Caller } from '../../core/caller.js';
import { ServiceAccountVerifier, type VerifierOptions } from './service-account-verifier.js';
import { jwtExpiresAtMs } from './jwt-precheck.js';

export const TOKEN_AUDIENCE = 'tollgate';

/** TokenReview access and its limits (see ServiceAccountVerifier); without a reviewer only API keys are accepted. */
export type AuthenticatorOptions = Partial<Omit<VerifierOptions, 'audience'>>;

export const unauthenticated = (message: string): GatewayError =>
  new GatewayError(401, 'invalid_api_key', 'authentication_error', message, { headers: { 'www-authenticate': 'Bearer' } });

/** An Authorization header that is not `Bearer <credential>`, with no key header to fall back on. */
const NOT_BEARER: unique symbol = Symbol('not-bearer');

/**
 * The one credential of a request: `Authorization: Bearer <x>` (as the OpenAI SDKs send it), else
 * `x-api-key` (Anthropic SDKs), else `api-key` (Azure-style clients). Another Authorization scheme
 * (`Basic …`, a bare key) is no credential: the key headers are read instead, and without them the
 * caller is told its scheme is not accepted rather than silently made anonymous.
 */
function credentialOf(header: (name: string) => string | undefined): string | typeof NOT_BEARER | undefined {
  const auth = header('authorization')?.trim();
  if (auth !== undefined && auth !== '') {
    // Trimmed, so the group has no whitespace at either end; `Bearer` alone (an SDK with an empty key) has none.
    const m = /^Bearer(?:\s+(.+))?$/i.exec(auth);
    if (m?.[1] !== undefined) return m[1];
    const key = header('x-api-key')?.trim() ?? header('api-key')?.trim();
    return key !== undefined || m !== null ? key : NOT_BEARER;
  }
  return header('x-api-key')?.trim() ?? header('api-key')?.trim();
}

function invalid(reason: string): Caller {
  return { ...ANONYMOUS, invalidCredential: reason };
}

/** The value is never echoed: a `Basic` header carries a password, a bare one a key. */
const SCHEME_NOT_ACCEPTED: Caller = Object.freeze(
  invalid('the Authorization header must be "Bearer <token or key>" (other schemes and a bare key are not accepted); or send the key in x-api-key'),
);

function looksLikeJwt(token: string): boolean {
  return /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(token);
}

/**
 * When the ServiceAccount token a request carries expires (its `exp`, ms since the epoch), or
 * undefined (no token, an API key, a token without `exp`). Only for a caller `authenticate`
 * accepted as a ServiceAccount: TokenReview verified the signature over that claim. For a
 * connection that outlives its handshake (Realtime), which is not verified again.
 */
export function serviceAccountTokenExpiry(header: (name: string) => string | undefined): number | undefined {
  const credential = credentialOf(header);
  return typeof credential !== 'string' || !looksLikeJwt(credential) ? undefined : jwtExpiresAtMs(credential);
}

/**
 * Who is calling: a ServiceAccount (bearer JWT verified by TokenReview for audience `tollgate`;
 * ServiceAccountVerifier says what is refused locally, cached and bounded), an API key (its HMAC
 * looked up in the snapshot's index), or anonymous (no credential at all; credentialOf says which header counts).
 */
export class Authenticator {
  private readonly verifier: ServiceAccountVerifier | undefined;
  /** One caller per key of a snapshot, made on its first request (frozen: every request of that key shares it). */
  private readonly callers = new WeakMap<ApiKeyConfig, Caller>();

  constructor(opts: AuthenticatorOptions = {}) {
    const { reviewer, ...limits } = opts;
    this.verifier = reviewer === undefined ? undefined : new ServiceAccountVerifier({ ...limits, reviewer, audience: TOKEN_AUDIENCE });
  }

  /** False without TokenReview access: every ServiceAccount token is then refused. */
  get verifiesServiceAccounts(): boolean {
    return this.verifier !== undefined;
  }

  async authenticate(header: (name: string) => string | undefined, apiKeys: ApiKeyIndex): Promise<Caller> {
    return this.authenticateNow(header, apiKeys);
  }

  /** authenticate, answered at once when nothing needs waiting for (no credential, an API key); a promise only for a ServiceAccount token. */
  authenticateNow(header: (name: string) => string | undefined, apiKeys: ApiKeyIndex): Caller | Promise<Caller> {
    const credential = credentialOf(header);
    if (credential === NOT_BEARER) return SCHEME_NOT_ACCEPTED;
    if (credential === undefined || credential === '') return ANONYMOUS;
    if (looksLikeJwt(credential)) return this.serviceAccount(credential, createHash('sha256').update(credential).digest('hex'));
    const key = apiKeys.find(credential);
    if (key === undefined) return invalid('invalid API key');
    let caller = this.callers.get(key);
    if (caller === undefined) {
      caller = Object.freeze({ kind: 'apikey', namespace: key.namespace, name: key.name, labels: key.labels, id: `key:${key.namespace}/${key.name}` });
      this.callers.set(key, caller);
    }
    return caller;
  }

  private async serviceAccount(token: string, cacheKey: string): Promise<Caller> {
    if (this.verifier === undefined) return invalid('ServiceAccount tokens are not accepted here (no TokenReview access configured)');
    const verdict = await this.verifier.verify(token, cacheKey);
    return verdict.ok ? verdict.caller : invalid(verdict.reason);
  }
}
