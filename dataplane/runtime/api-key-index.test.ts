import { describe, expect, it } from 'vitest';
import { apiKeyDigest, apiKeyHashKeyObject } from '../config/api-key-digest.js';
import { secret } from '../config/secret-value.js';
import { ApiKeyIndex } from './api-key-index.js';

const HASH_KEY = 'installation-key';
const entry = (key: string, name: string) => ({ hmacSha256: secret(apiKeyDigest(key, HASH_KEY)), namespace: 'ns', name, labels: {} });

describe('ApiKeyIndex', () => {
  it('digests with the imported installation key exactly as with its text (the operator digests with the text)', () => {
    expect(apiKeyDigest('sk-some-key', apiKeyHashKeyObject(HASH_KEY))).toBe(apiKeyDigest('sk-some-key', HASH_KEY));
  });

  it('answers a remembered key as its HMAC did, and remembers only keys that verified', () => {
    const index = new ApiKeyIndex({ apiKeys: [entry('k1', 'one')], apiKeyHashKey: secret(HASH_KEY) });
    for (let i = 0; i < 3; i++) expect(index.find('k1')?.name).toBe('one');
    expect(index.recentCount).toBe(1);
    for (let i = 0; i < 500; i++) expect(index.find(`wrong-${i}`)).toBeUndefined();
    expect(index.recentCount).toBe(1);
    // A key that differs only in case or by a suffix is its own key, not a remembered one.
    expect(index.find('K1')).toBeUndefined();
    expect(index.find('k1 ')).toBeUndefined();
  });

  it('remembers at most its limit, dropping the least recently used key first', () => {
    const index = new ApiKeyIndex({ apiKeys: ['a', 'b', 'c'].map((k) => entry(k, k)), apiKeyHashKey: secret(HASH_KEY) }, 2);
    index.find('a');
    index.find('b');
    index.find('a'); // b is now the least recently used
    index.find('c');
    expect(index.recentCount).toBe(2);
    for (const k of ['a', 'b', 'c']) expect(index.find(k)?.name).toBe(k); // dropped or not, every key still verifies
    expect(index.recentCount).toBe(2);
  });

  it('a new snapshot whose index lacks a key refuses it, whatever the old index remembered (revocation)', () => {
    const before = new ApiKeyIndex({ apiKeys: [entry('k1', 'one')], apiKeyHashKey: secret(HASH_KEY) });
    expect(before.find('k1')?.name).toBe('one');
    const after = new ApiKeyIndex({ apiKeys: [], apiKeyHashKey: secret(HASH_KEY) });
    expect(after.find('k1')).toBeUndefined();
  });

  it('a key the snapshot lists for two Secrets identifies neither (never the one listed last), in any order; other keys still verify', () => {
    const a = { ...entry('shared', 'caller'), namespace: 'team-a' };
    const b = { ...entry('shared', 'zz'), namespace: 'team-b' };
    for (const apiKeys of [[a, b, entry('own', 'own')], [b, a, entry('own', 'own')], [a, b, a, entry('own', 'own')]]) {
      const index = new ApiKeyIndex({ apiKeys, apiKeyHashKey: secret(HASH_KEY) });
      expect(index.find('shared')).toBeUndefined();
      expect(index.find('own')?.name).toBe('own');
      expect(index.ambiguous).toBe(1);
      expect(index.size).toBe(1);
    }
  });

  it('finds nothing without an installation key', () => {
    expect(new ApiKeyIndex({ apiKeys: [entry('k1', 'one')] }).find('k1')).toBeUndefined();
  });
});
