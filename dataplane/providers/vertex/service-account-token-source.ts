import { createSign } from 'node:crypto';
import { readCapped } from '../../upstream/read-capped.js';
import type { Transport } from '../../upstream/transport.js';
import type { UpstreamSignal } from '../../upstream/attempt-signal.js';
import { parseServiceAccountKey, type ServiceAccountKey } from '../../config/service-account-key.js';
import type { AccessTokenSource } from '../types.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** Tokens are renewed this long before they expire. */
const EARLY_REFRESH_MS = 5 * 60_000;
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

/** The RS256-signed JWT assertion of the OAuth 2.0 JWT bearer grant (RFC 7523). */
export function signedAssertion(key: ServiceAccountKey, nowMs: number, scope = CLOUD_PLATFORM_SCOPE): string {
  const iat = Math.floor(nowMs / 1000);
  const header = key.private_key_id === undefined ? { alg: 'RS256', typ: 'JWT' } : { alg: 'RS256', typ: 'JWT', kid: key.private_key_id };
  const claims = { iss: key.client_email, scope, aud: key.token_uri ?? DEFAULT_TOKEN_URI, iat, exp: iat + 3600 };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(key.private_key);
  return `${unsigned}.${base64url(signature)}`;
}

/**
 * Google OAuth access tokens for a service account: a signed JWT exchanged at the key's token_uri,
 * cached until shortly before expiry, one exchange at a time. Used by Vertex AI providers.
 */
export class ServiceAccountTokenSource implements AccessTokenSource {
  private readonly key: ServiceAccountKey;
  private cached: { token: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    keyJson: string,
    private readonly transport: Transport,
    private readonly now: () => number = Date.now,
  ) {
    this.key = parseServiceAccountKey(keyJson);
  }

  async token(signal: UpstreamSignal): Promise<string> {
    if (this.cached !== undefined && this.now() < this.cached.expiresAt - EARLY_REFRESH_MS) return this.cached.token;
    this.pending ??= this.exchange(signal).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async exchange(signal: UpstreamSignal): Promise<string> {
    const started = this.now();
    const body = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: signedAssertion(this.key, started),
    }).toString();
    const res = await this.transport.send(
      { url: this.key.token_uri ?? DEFAULT_TOKEN_URI, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
      { signal, connectTimeoutMs: 5_000 },
    );
    // A token answer is a few hundred bytes; an endpoint that sends more is not one.
    const read = await readCapped(res.body, MAX_TOKEN_RESPONSE_BYTES);
    if (!read.complete) throw new Error(`token endpoint answered more than ${MAX_TOKEN_RESPONSE_BYTES} bytes`);
    const text = read.text();
    if (res.status !== 200) throw new Error(`token endpoint answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    const parsed = JSON.parse(text) as { access_token?: unknown; expires_in?: unknown };
    if (typeof parsed.access_token !== 'string') throw new Error('token endpoint answered without access_token');
    const expiresIn = typeof parsed.expires_in === 'number' ? parsed.expires_in : 3600;
    this.cached = { token: parsed.access_token, expiresAt: started + expiresIn * 1000 };
    return parsed.access_token;
  }
}
