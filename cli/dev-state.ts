import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where `tollgate dev` keeps what must outlive one run: TOLLGATE_STATE_DIR, else $XDG_STATE_HOME/tollgate, else ~/.local/state/tollgate. */
export function devStateDir(env: NodeJS.ProcessEnv): string {
  if (env.TOLLGATE_STATE_DIR !== undefined && env.TOLLGATE_STATE_DIR !== '') return env.TOLLGATE_STATE_DIR;
  const base = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'tollgate');
}

/** A secret kept in a file only its owner can read, created with `generate()` on first use. */
export function readOrCreateSecretFile(dir: string, name: string, generate: () => string): { value: string; path: string } {
  const path = join(dir, name);
  try {
    const value = readFileSync(path, 'utf8').trim();
    if (value !== '') return { value, path };
  } catch {
    // not there yet
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const value = generate();
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { value, path };
}
