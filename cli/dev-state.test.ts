import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { devStateDir, readOrCreateSecretFile } from './dev-state.js';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tollgate dev state', () => {
  it('keeps a generated secret across runs, readable by its owner only', () => {
    let generated = 0;
    const gen = () => `key-${++generated}`;
    const first = readOrCreateSecretFile(join(dir, 'nested'), 'api-key-hash-key', gen);
    const second = readOrCreateSecretFile(join(dir, 'nested'), 'api-key-hash-key', gen);
    expect(first.value).toBe('key-1');
    expect(second.value).toBe('key-1');
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
  });

  it('lives in TOLLGATE_STATE_DIR, else $XDG_STATE_HOME/tollgate, else ~/.local/state/tollgate', () => {
    expect(devStateDir({ TOLLGATE_STATE_DIR: '/s' })).toBe('/s');
    expect(devStateDir({ XDG_STATE_HOME: '/x' })).toBe('/x/tollgate');
    expect(devStateDir({})).toMatch(/\.local\/state\/tollgate$/);
  });

  // The admin token opens snapshot pushes (send a developer's traffic anywhere) and the key hashes
  // the API keys. Before, whatever the file held was used: one another user wrote (a shared
  // TOLLGATE_STATE_DIR) is a token they know, and one others may read is a token they can take.
  it('refuses a secret file others may read or write, saying how to fix it', () => {
    const shared = join(dir, 'shared');
    readOrCreateSecretFile(shared, 'admin-token', () => 'mine');
    writeFileSync(join(shared, 'admin-token'), 'known-to-others\n', { mode: 0o644 });
    chmodSync(join(shared, 'admin-token'), 0o644);
    expect(() => readOrCreateSecretFile(shared, 'admin-token', () => 'new')).toThrow(/admin-token can be read or written by other users \(mode 644\): chmod 600/);
  });

  it.runIf(process.getuid?.() === 0)('refuses a secret file another user owns', () => {
    const shared = join(dir, 'foreign');
    readOrCreateSecretFile(shared, 'admin-token', () => 'planted');
    chownSync(join(shared, 'admin-token'), 12345, 12345);
    expect(() => readOrCreateSecretFile(shared, 'admin-token', () => 'new')).toThrow(/admin-token belongs to another user \(uid 12345\)/);
  });
});

