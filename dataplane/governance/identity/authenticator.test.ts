import { createHash } from 'node:crypto';
import { apiKeyDigest } from '../../config/api-key-digest.js';
import { secret } from '../../config/secret-value.js';
import { ApiKeyIndex, EMPTY_API_KEYS } from '../../runtime/api-key-index.js';
import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../config/snapshot.js';
import { accessDenied, mayCall } from '../access.js';
import { ANONYMOUS, type Caller } from '../../core/caller.js';
import { Authenticator, serviceAccountTokenExpiry } from './authenticator.js';
import type { ReviewResult, TokenReviewer } from './token-reviewer.js';

const jwt = (exp: number) =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ aud: ['tollgate'], exp })).toString('base64url')}.c2ln`;

class FakeReviewer implements TokenReviewer {
  calls = 0;
  constructor(private readonly result: ReviewResult) {}
  async review(): Promise<ReviewResult> {
    this.calls++;
    return this.result;
  }
}

const header = (value: string | undefined) => (name: string) => (name === 'authorization' && value !== undefined ? `Bearer ${value}` : undefined);
const HASH_KEY = 'installation-key';
const keys = new ApiKeyIndex({
  apiKeys: [{ hmacSha256: secret(apiKeyDigest('k1', HASH_KEY)), namespace: 'team-a', name: 'ci', labels: { team: 'ci' } }],
  apiKeyHashKey: secret(HASH_KEY),
});

describe('Authenticator', () => {
  it('caches a verified token until the earlier of its expiry and the cache TTL', async () => {
    let now = 1_000_000;
    const reviewer = new FakeReviewer({ authenticated: true, username: 'system:serviceaccount:team-a:app', audiences: ['tollgate'] });
    const auth = new Authenticator({ reviewer, cacheTtlMs: 60_000, now: () => now });
    const token = jwt(now / 1000 + 30);
    expect(await auth.authenticate(header(token), EMPTY_API_KEYS)).toEqual({ kind: 'serviceaccount', namespace: 'team-a', name: 'app', id: 'sa:team-a/app' });
    await auth.authenticate(header(token), EMPTY_API_KEYS);
    expect(reviewer.calls).toBe(1);
    now += 31_000; // past the token's own expiry, before the TTL
    await auth.authenticate(header(token), EMPTY_API_KEYS);
    expect(reviewer.calls).toBe(2);
  });

  it('bounds the cache', async () => {
    const reviewer = new FakeReviewer({ authenticated: true, username: 'system:serviceaccount:a:b', audiences: ['tollgate'] });
    const auth = new Authenticator({ reviewer, maxCacheEntries: 2 });
    for (const exp of [2e9, 2e9 + 1, 2e9 + 2]) await auth.authenticate(header(jwt(exp)), EMPTY_API_KEYS);
    await auth.authenticate(header(jwt(2e9)), EMPTY_API_KEYS); // evicted first, so reviewed again
    expect(reviewer.calls).toBe(4);
  });

  it('refuses unauthenticated tokens, wrong audiences and non-ServiceAccount users', async () => {
    const cases: ReviewResult[] = [
      { authenticated: false, reason: 'expired' },
      { authenticated: true, username: 'system:serviceaccount:a:b', audiences: ['other'] },
      { authenticated: true, username: 'alice', audiences: ['tollgate'] },
    ];
    for (const result of cases) {
      const caller = await new Authenticator({ reviewer: new FakeReviewer(result) }).authenticate(header(jwt(2e9)), EMPTY_API_KEYS);
      expect(caller).toMatchObject({ kind: 'anonymous', invalidCredential: expect.any(String) });
    }
  });

  it('knows API keys by keyed hash (HMAC under the installation key), refuses unknown keys, and is anonymous without a credential', async () => {
    const auth = new Authenticator();
    expect(await auth.authenticate(header('k1'), keys)).toMatchObject({ kind: 'apikey', id: 'key:team-a/ci', labels: { team: 'ci' } });
    expect(await auth.authenticate(header('k2'), keys)).toMatchObject({ kind: 'anonymous', invalidCredential: 'invalid API key' });
    expect(await auth.authenticate(header(undefined), keys)).toBe(ANONYMOUS);
    const viaXApiKey = (name: string) => (name === 'x-api-key' ? 'k1' : undefined);
    expect((await auth.authenticate(viaXApiKey, keys)).id).toBe('key:team-a/ci');
  });

  it('reads one credential: Authorization when it is Bearer, else x-api-key, else api-key (docs/governance.md)', async () => {
    const auth = new Authenticator();
    const headers = (h: Record<string, string>) => (name: string) => h[name];
    expect(await auth.authenticate(headers({ authorization: 'Bearer k2', 'x-api-key': 'k1' }), keys)).toMatchObject({ kind: 'anonymous', invalidCredential: 'invalid API key' });
    expect(await auth.authenticate(headers({ 'x-api-key': 'k2', 'api-key': 'k1' }), keys)).toMatchObject({ invalidCredential: 'invalid API key' });
    expect((await auth.authenticate(headers({ 'api-key': 'k1' }), keys)).id).toBe('key:team-a/ci');
    expect((await auth.authenticate(headers({ authorization: '  bearer   k1 ' }), keys)).id).toBe('key:team-a/ci');
  });

  it('reads x-api-key (or api-key) when Authorization is not Bearer, and without one says the scheme is not accepted', async () => {
    const auth = new Authenticator();
    const headers = (h: Record<string, string>) => (name: string) => h[name];
    // Before, any Authorization header hid the key headers, and a non-Bearer one made the caller plainly anonymous.
    expect((await auth.authenticate(headers({ authorization: 'Basic dTpw', 'x-api-key': 'k1' }), keys)).id).toBe('key:team-a/ci');
    expect((await auth.authenticate(headers({ authorization: 'k1', 'api-key': 'k1' }), keys)).id).toBe('key:team-a/ci');
    expect((await auth.authenticate(headers({ authorization: 'Bearer', 'x-api-key': 'k1' }), keys)).id).toBe('key:team-a/ci');
    for (const authorization of ['Basic dTpw', 'k1', 'Bearerk1', 'Token k1']) {
      const caller = await auth.authenticate(headers({ authorization }), keys);
      expect(caller).toMatchObject({ kind: 'anonymous', invalidCredential: expect.stringContaining('must be "Bearer <token or key>"') });
      expect(caller.invalidCredential).not.toContain('k1');
      expect(caller.invalidCredential).not.toContain('dTpw');
    }
    // Refused with that reason, not the generic "requires a ServiceAccount token or an API key".
    const unknown = await auth.authenticate(headers({ authorization: 'Basic dTpw' }), keys);
    expect(accessDenied(unknown, { id: 'team-a/r', namespace: 'team-a', model: 'm' } as RouteConfig).message).toMatch(/^the Authorization header must be "Bearer/);
    // An SDK with an empty key sends `Bearer` alone: still no credential, as before.
    expect(await auth.authenticate(headers({ authorization: 'Bearer ' }), keys)).toBe(ANONYMOUS);
    expect(await auth.authenticate(headers({ authorization: '' }), keys)).toBe(ANONYMOUS);
    expect(serviceAccountTokenExpiry(headers({ authorization: 'Basic dTpw' }))).toBeUndefined();
  });

  it('does not accept a key whose plain SHA-256 is listed, nor any key under another installation key', async () => {
    const auth = new Authenticator();
    const unsalted = new ApiKeyIndex({
      apiKeys: [{ hmacSha256: secret(createHash('sha256').update('k1').digest('hex')), namespace: 'team-a', name: 'ci', labels: {} }],
      apiKeyHashKey: secret(HASH_KEY),
    });
    expect(await auth.authenticate(header('k1'), unsalted)).toMatchObject({ invalidCredential: 'invalid API key' });
    const other = new ApiKeyIndex({ apiKeys: [{ hmacSha256: secret(apiKeyDigest('k1', 'another-installation')), namespace: 'team-a', name: 'ci', labels: {} }], apiKeyHashKey: secret(HASH_KEY) });
    expect(await auth.authenticate(header('k1'), other)).toMatchObject({ invalidCredential: 'invalid API key' });
  });

  it('indexes keys by digest (10,000 keys)', () => {
    const apiKeys = Array.from({ length: 10_000 }, (_, i) => ({ hmacSha256: secret(apiKeyDigest(`key-${i}`, HASH_KEY)), namespace: 'ns', name: `k${i}`, labels: {} }));
    const index = new ApiKeyIndex({ apiKeys, apiKeyHashKey: secret(HASH_KEY) });
    expect(index.size).toBe(10_000);
    expect(index.find('key-9999')?.name).toBe('k9999');
    expect(index.find('key-10000')).toBeUndefined();
  });

  it('answers one API key with one caller per snapshot, and a new snapshot with its own labels', async () => {
    const auth = new Authenticator();
    const first = await auth.authenticate(header('k1'), keys);
    expect(first).toEqual({ kind: 'apikey', namespace: 'team-a', name: 'ci', labels: { team: 'ci' }, id: 'key:team-a/ci' });
    expect(await auth.authenticate(header('k1'), keys)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const relabelled = new ApiKeyIndex({
      apiKeys: [{ hmacSha256: secret(apiKeyDigest('k1', HASH_KEY)), namespace: 'team-a', name: 'ci', labels: { team: 'ops' } }],
      apiKeyHashKey: secret(HASH_KEY),
    });
    expect((await auth.authenticate(header('k1'), relabelled)).labels).toEqual({ team: 'ops' });
  });
});

describe('mayCall', () => {
  const route = (access: RouteConfig['access']) => ({ id: 'team-a/r', namespace: 'team-a', model: 'm', access }) as RouteConfig;
  const sa = (ns: string, name = 'app'): Caller => ({ kind: 'serviceaccount', namespace: ns, name, id: `sa:${ns}/${name}` });
  const base = { anonymous: false, namespaces: { from: 'Same' as const }, serviceAccounts: [] };

  it.each([
    ['same namespace', base, sa('team-a'), true],
    ['other namespace', base, sa('team-b'), false],
    ['anonymous on a closed route', base, ANONYMOUS, false],
    ['anonymous on an open route', { ...base, anonymous: true }, ANONYMOUS, true],
    ['identified on an open route', { ...base, anonymous: true }, sa('team-b'), true],
    ['listed ServiceAccount', { ...base, serviceAccounts: ['team-b/app'] }, sa('team-b'), true],
    ['All namespaces', { ...base, namespaces: { from: 'All' as const } }, sa('team-z'), true],
    ['namespace selector match', { ...base, namespaces: { from: 'Selector' as const, selector: { matchLabels: { llm: 'yes' } } } }, sa('team-b'), true],
    ['namespace selector miss', { ...base, namespaces: { from: 'Selector' as const, selector: { matchLabels: { llm: 'yes' } } } }, sa('team-c'), false],
  ])('%s', (_name, access, caller, allowed) => {
    expect(mayCall(caller, route(access), { 'team-b': { llm: 'yes' }, 'team-c': {} })).toBe(allowed);
  });
});

describe('serviceAccountTokenExpiry', () => {
  it("is the token's exp in ms; undefined for an API key, no credential or a token without exp", () => {
    expect(serviceAccountTokenExpiry(header(jwt(2e9)))).toBe(2e12);
    expect(serviceAccountTokenExpiry(header('k1'))).toBeUndefined();
    expect(serviceAccountTokenExpiry(header(undefined))).toBeUndefined();
    const noExp = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ aud: ['tollgate'] })).toString('base64url')}.c2ln`;
    expect(serviceAccountTokenExpiry(header(noExp))).toBeUndefined();
  });
});
