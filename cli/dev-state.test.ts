import { mkdtempSync, rmSync, statSync } from 'node:fs';
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
});
