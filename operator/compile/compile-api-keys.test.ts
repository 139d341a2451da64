import { describe, expect, it } from 'vitest';
import { provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import { wireJson } from '../../dataplane/config/secret-value.js';
import type { CompileInput, SecretInput } from './types.js';

const openai = provider('openai', { type: 'openai-compatible', url: 'http://10.0.0.1/v1' });
const chat = route('chat', { model: 'chat', targets: [{ providerRef: { name: 'openai' }, model: 'm' }] });

const apiKey = (namespace: string, name: string, key: string, createdAt?: string): SecretInput => ({
  namespace,
  name,
  data: { key },
  labels: { 'tollgate.dev/api-key': 'true' },
  ...(createdAt === undefined ? {} : { createdAt }),
});

function compileKeys(secrets: SecretInput[]) {
  const input: CompileInput = { providers: [openai], routes: [chat], budgets: [], secrets, apiKeyHashKey: 'install-key' };
  const { snapshot, leftOutApiKeys, copiedApiKeys } = compile(input);
  return { holders: snapshot.apiKeys.map((k) => `${k.namespace}/${k.name}`), refused: leftOutApiKeys ?? [], copied: copiedApiKeys ?? [], snapshot };
}

describe('API keys held by more than one Secret', () => {
  it('the oldest Secret keeps the key; a later copy in another namespace is refused with DuplicateApiKey naming the keeper, never the key', () => {
    const { holders, refused, snapshot } = compileKeys([
      apiKey('team-a', 'caller', 'tg-team-a-key', '2024-01-01T00:00:00Z'),
      apiKey('team-b', 'zz', 'tg-team-a-key', '2024-06-01T00:00:00Z'),
    ]);
    expect(holders).toEqual(['team-a/caller']);
    expect(refused).toEqual([{ namespace: 'team-b', name: 'zz', reason: 'DuplicateApiKey', message: expect.stringContaining('Secret team-a/caller holds the same key and keeps it') }]);
    expect(JSON.stringify(refused)).not.toContain('tg-team-a-key');
    expect(wireJson(snapshot)).not.toContain('team-b');
  });

  it("tells the keeper's owner its key was copied: a copy in another namespace unnamed (another tenant's), one in its own namespace named; the log list names them all", () => {
    const { copied } = compileKeys([
      apiKey('team-a', 'caller', 'tg-team-a-key', '2024-01-01T00:00:00Z'),
      apiKey('team-b', 'zz', 'tg-team-a-key', '2024-06-01T00:00:00Z'),
      apiKey('team-c', 'own', 'other', '2024-01-01T00:00:00Z'),
    ]);
    expect(copied).toEqual([{ namespace: 'team-a', name: 'caller', reason: 'DuplicateApiKey', message: expect.stringMatching(/^copied: a Secret in another namespace holds the same key; this Secret keeps it .*rotate it/), copies: ['team-b/zz'] }]);
    expect(copied[0]?.message).not.toMatch(/team-b|zz|tg-team-a-key/);
    const mixed = compileKeys([
      apiKey('team-a', 'caller', 'k', '2024-01-01T00:00:00Z'),
      apiKey('team-a', 'spare', 'k', '2024-02-01T00:00:00Z'),
      apiKey('team-b', 'zz', 'k', '2024-06-01T00:00:00Z'),
    ]).copied;
    expect(mixed[0]?.message).toMatch(/^copied: Secret team-a\/spare and a Secret in another namespace hold the same key/);
    expect(mixed[0]?.copies).toEqual(['team-a/spare', 'team-b/zz']);
    const near = compileKeys([apiKey('team-a', 'caller', 'k', '2024-01-01T00:00:00Z'), apiKey('team-a', 'spare', 'k', '2024-02-01T00:00:00Z')]).copied;
    expect(near[0]?.message).toMatch(/^copied: Secret team-a\/spare holds the same key; .*Give the copy a key of its own\.$/);
  });

  it('age decides, not the names: a copier whose namespace sorts first does not take the key, and an older Secret in a later namespace keeps it', () => {
    expect(compileKeys([apiKey('team-a', 'caller', 'k', '2024-01-01T00:00:00Z'), apiKey('aaa', 'a', 'k', '2024-06-01T00:00:00Z')]).holders).toEqual(['team-a/caller']);
    expect(compileKeys([apiKey('team-z', 'caller', 'k', '2024-01-01T00:00:00Z'), apiKey('team-a', 'new', 'k', '2024-06-01T00:00:00Z')]).holders).toEqual(['team-z/caller']);
  });

  it('the same age or no age at all: the first by namespace/name keeps it; a dated Secret before an undated one', () => {
    expect(compileKeys([apiKey('team-b', 'x', 'k', '2024-01-01T00:00:00Z'), apiKey('team-a', 'y', 'k', '2024-01-01T00:00:00Z')]).holders).toEqual(['team-a/y']);
    expect(compileKeys([apiKey('team-b', 'x', 'k'), apiKey('team-a', 'y', 'k')]).holders).toEqual(['team-a/y']);
    expect(compileKeys([apiKey('team-b', 'x', 'k', '2024-01-01T00:00:00Z'), apiKey('team-a', 'y', 'k')]).holders).toEqual(['team-b/x']);
  });

  it('counts a key padded with whitespace as the same key, refuses copies within one namespace too, and keeps distinct keys', () => {
    const { holders, refused } = compileKeys([
      apiKey('team-a', 'one', 'k', '2024-01-01T00:00:00Z'),
      apiKey('team-a', 'two', 'k\n', '2024-02-01T00:00:00Z'),
      apiKey('team-b', 'own', 'other', '2024-03-01T00:00:00Z'),
    ]);
    expect(holders).toEqual(['team-a/one', 'team-b/own']);
    expect(refused.map((r) => `${r.namespace}/${r.name}`)).toEqual(['team-a/two']);
  });

  it('gives the same snapshot whatever order the Secrets come in', () => {
    const secrets = [apiKey('team-b', 'zz', 'k', '2024-06-01T00:00:00Z'), apiKey('team-a', 'caller', 'k', '2024-01-01T00:00:00Z'), apiKey('team-c', 'c', 'c')];
    expect(compileKeys(secrets).snapshot.version).toBe(compileKeys([...secrets].reverse()).snapshot.version);
  });
});
