/** Longest bearer token looked at; ServiceAccount tokens are about 1 KB. */
export const MAX_TOKEN_LENGTH = 8192;
/** Tolerated clock difference with the API server when reading exp and nbf. */
export const CLOCK_SKEW_MS = 60_000;

export type Precheck = { ok: true; expiresAtMs?: number } | { ok: false; reason: string };

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses locally what the API server would refuse anyway: a token that is not a JWT, is not for
 * `audience`, has expired or is not yet valid. The payload is decoded WITHOUT verifying the
 * signature: this can only refuse early, never accept (acceptance is TokenReview's alone).
 */
export function precheckJwt(token: string, audience: string, nowMs: number): Precheck {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'token too long' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[\w-]+$/.test(p))) return { ok: false, reason: 'malformed token' };
  const header = decodeSegment(parts[0] as string);
  const claims = decodeSegment(parts[1] as string);
  if (header === undefined || claims === undefined || typeof header.alg !== 'string' || header.alg === 'none') return { ok: false, reason: 'malformed token' };
  const aud = claims.aud;
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(audience)) return { ok: false, reason: `token is not for audience ${audience}` };
  const { exp, nbf } = claims;
  if (exp !== undefined && typeof exp !== 'number') return { ok: false, reason: 'malformed token' };
  if (typeof exp === 'number' && exp * 1000 <= nowMs - CLOCK_SKEW_MS) return { ok: false, reason: 'token expired' };
  if (typeof nbf === 'number' && nbf * 1000 > nowMs + CLOCK_SKEW_MS) return { ok: false, reason: 'token not yet valid' };
  return typeof exp === 'number' ? { ok: true, expiresAtMs: exp * 1000 } : { ok: true };
}

/**
 * A JWT's `exp` in ms since the epoch, or undefined (not a JWT, no numeric `exp`). The claims are
 * read without verifying them: only for a token TokenReview accepted, whose signature covers them.
 */
export function jwtExpiresAtMs(token: string): number | undefined {
  const claims = token.split('.')[1];
  const exp = claims === undefined ? undefined : decodeSegment(claims)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}
