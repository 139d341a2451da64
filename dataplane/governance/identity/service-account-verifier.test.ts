import { randomBytes } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../core/gateway-error.js';
import { Authenticator } from './authenticator.js';
import { precheckJwt } from './jwt-precheck.js';
import type { ReviewResult, TokenReviewer } from './token-reviewer.js';
import { EMPTY_API_KEYS } from '../../runtime/api-key-index.js';

const NOW_MS = 1_800_000_000_000;
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const token = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', kid: 'k' }) =>
  `${b64(header)}.${b64(claims)}.${randomBytes(32).toString('base64url')}`;
/** A token that passes every local check: only the API server can tell it is forged. */
const plausible = (sub = 'x') => token({ aud: ['tollgate'], exp: NOW_MS / 1000 + 600, sub });

/** Counts reviews and the most in flight at once; answers on a later turn of the event loop, refusing everything. */
class CountingReviewer implements TokenReviewer {
  calls = 0;
  inflight = 0;
  maxInflight = 0;
  constructor(private readonly result: ReviewResult = { authenticated: false, reason: 'invalid bearer token' }) {}
  async review(): Promise<ReviewResult> {
    this.calls++;
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    await tick();
    await tick();
    this.inflight--;
    return this.result;
  }
}

const bearer = (value: string) => (name: string) => (name === 'authorization' ? `Bearer ${value}` : undefined);

describe('ServiceAccount tokens: the API server is not the caller’s to drive', () => {
  it('500 random JWT-shaped tokens cause no TokenReview at all', async () => {
    const reviewer = new CountingReviewer();
    const auth = new Authenticator({ reviewer, now: () => NOW_MS });
    const random = Array.from({ length: 500 }, () => `eyJ${randomBytes(24).toString('base64url')}.${randomBytes(48).toString('base64url')}.${randomBytes(32).toString('base64url')}`);
    const callers = await Promise.all(random.map((t) => auth.authenticate(bearer(t), EMPTY_API_KEYS)));
    expect(callers.every((c) => c.kind === 'anonymous' && c.invalidCredential === 'malformed token')).toBe(true);
    expect(reviewer.calls).toBe(0);
  });

  it('refuses wrong-audience, expired, not-yet-valid and unsigned tokens locally', async () => {
    const reviewer = new CountingReviewer();
    const auth = new Authenticator({ reviewer, now: () => NOW_MS });
    const cases: [string, string][] = [
      [token({ aud: ['https://kubernetes.default.svc'], exp: NOW_MS / 1000 + 600 }), 'token is not for audience tollgate'],
      [token({ exp: NOW_MS / 1000 + 600 }), 'token is not for audience tollgate'],
      [token({ aud: 'tollgate', exp: NOW_MS / 1000 - 3600 }), 'token expired'],
      [token({ aud: 'tollgate', exp: NOW_MS / 1000 + 7200, nbf: NOW_MS / 1000 + 3600 }), 'token not yet valid'],
      [token({ aud: 'tollgate', exp: NOW_MS / 1000 + 600 }, { alg: 'none' }), 'malformed token'],
      [token({ aud: 'tollgate', exp: 'tomorrow' }), 'malformed token'],
    ];
    for (const [t, reason] of cases) expect((await auth.authenticate(bearer(t), EMPTY_API_KEYS)).invalidCredential, reason).toBe(reason);
    expect(reviewer.calls).toBe(0);
  });

  it('500 requests with 50 plausible forged tokens: identical ones share a review, refusals are cached, at most 8 reviews at once', async () => {
    let now = NOW_MS;
    const reviewer = new CountingReviewer();
    const auth = new Authenticator({ reviewer, now: () => now });
    const tokens = Array.from({ length: 50 }, (_, i) => plausible(`forged-${i}`));
    const burst = Array.from({ length: 500 }, (_, i) => tokens[i % 50] as string);
    const callers = await Promise.all(burst.map((t) => auth.authenticate(bearer(t), EMPTY_API_KEYS)));
    expect(callers.every((c) => c.invalidCredential === 'ServiceAccount token refused')).toBe(true);
    expect(reviewer.calls).toBe(50);
    expect(reviewer.maxInflight).toBeLessThanOrEqual(8);
    await Promise.all(burst.map((t) => auth.authenticate(bearer(t), EMPTY_API_KEYS)));
    expect(reviewer.calls).toBe(50);
    // Refusals are cached briefly: after the refusal TTL the API server is asked again.
    now += 10_001;
    await auth.authenticate(bearer(tokens[0] as string), EMPTY_API_KEYS);
    expect(reviewer.calls).toBe(51);
  });

  it('a queue beyond its bound answers 503 at once instead of piling up reviews', async () => {
    const reviewer = new CountingReviewer();
    const auth = new Authenticator({ reviewer, now: () => NOW_MS, maxConcurrentReviews: 2, maxQueuedReviews: 3 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => auth.authenticate(bearer(plausible(`t${i}`)), EMPTY_API_KEYS)));
    const overloaded = results.filter((r) => r.status === 'rejected' && r.reason instanceof GatewayError && r.reason.status === 503);
    expect(overloaded).toHaveLength(5);
    expect(reviewer.calls).toBe(5);
    expect(reviewer.maxInflight).toBe(2);
  });

  it('accepts only what TokenReview accepts, and caches the acceptance', async () => {
    const reviewer = new CountingReviewer({ authenticated: true, username: 'system:serviceaccount:team-a:app', audiences: ['tollgate'] });
    const auth = new Authenticator({ reviewer, now: () => NOW_MS });
    const t = plausible();
    const [a, b] = await Promise.all([auth.authenticate(bearer(t), EMPTY_API_KEYS), auth.authenticate(bearer(t), EMPTY_API_KEYS)]);
    expect(a).toEqual({ kind: 'serviceaccount', namespace: 'team-a', name: 'app', id: 'sa:team-a/app' });
    expect(b).toEqual(a);
    await auth.authenticate(bearer(t), EMPTY_API_KEYS);
    expect(reviewer.calls).toBe(1);
  });

  it('precheck never accepts on its own: it only says whether a review is worth asking for', () => {
    expect(precheckJwt(plausible(), 'tollgate', NOW_MS)).toEqual({ ok: true, expiresAtMs: NOW_MS + 600_000 });
    expect(precheckJwt('a.b', 'tollgate', NOW_MS)).toEqual({ ok: false, reason: 'malformed token' });
    expect(precheckJwt(`${plausible()}${'A'.repeat(9000)}`, 'tollgate', NOW_MS)).toEqual({ ok: false, reason: 'token too long' });
  });
});

describe('TokenReview details never reach the caller', () => {
  const API_SERVER = 'https://10.96.0.1:443';
  const OWN_SA = 'system:serviceaccount:tollgate-system:tollgate-dataplane';

  it('an API server that cannot be asked gives a bare 503; the reason goes to the log hook only', async () => {
    const logged: unknown[] = [];
    const failing: TokenReviewer = {
      review: () => Promise.reject(new Error(`TokenReview failed: HTTP 403 tokenreviews is forbidden: User "${OWN_SA}" cannot create at ${API_SERVER}`)),
    };
    const auth = new Authenticator({ reviewer: failing, now: () => NOW_MS, onReviewError: (err) => logged.push(err) });
    const err = await auth.authenticate(bearer(plausible()), EMPTY_API_KEYS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    const body = JSON.stringify((err as GatewayError).toBody());
    expect(body).toContain('cannot verify the token now');
    expect(body).not.toMatch(/10\.96\.0\.1|tollgate-dataplane|forbidden/);
    expect(String(logged[0])).toContain(API_SERVER);
  });

  it('a refusal says that the token was refused, not what the API server said about it', async () => {
    const reviewer = new CountingReviewer({ authenticated: false, reason: `[invalid bearer token, serviceaccounts "ci-bot" not found in team-a via ${API_SERVER}]` });
    const caller = await new Authenticator({ reviewer, now: () => NOW_MS }).authenticate(bearer(plausible()), EMPTY_API_KEYS);
    expect(caller.invalidCredential).toBe('ServiceAccount token refused');
  });
});
