import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { StartupError } from '../dataplane/main/startup-error.js';

/** Where `tollgate dev` keeps what must outlive one run: TOLLGATE_STATE_DIR, else $XDG_STATE_HOME/tollgate, else ~/.local/state/tollgate. */
export function devStateDir(env: NodeJS.ProcessEnv): string {
  if (env.TOLLGATE_STATE_DIR !== undefined && env.TOLLGATE_STATE_DIR !== '') return env.TOLLGATE_STATE_DIR;
  const base = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'tollgate');
}

/**
 * The secret in `path`, if the file exists, only when it is this user's and nobody else's to read or
 * write (as ssh treats a private key): a file another user wrote holds a secret they know (a shared
 * TOLLGATE_STATE_DIR), and one others may read is one they can take. Checked on the open file, so
 * the file read is the file checked.
 */
function readOwnSecret(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const stat = fstatSync(fd);
    const uid = process.getuid?.();
    if (uid !== undefined && stat.uid !== uid) throw new StartupError(`${path} belongs to another user (uid ${stat.uid}), who may know the secret in it: remove it, or set TOLLGATE_STATE_DIR to a directory of your own`);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new StartupError(`${path} can be read or written by other users (mode ${(stat.mode & 0o777).toString(8)}): chmod 600 ${path}, or remove it for a new one`);
    }
    return readFileSync(fd, 'utf8').trim();
  } finally {
    closeSync(fd);
  }
}

/** A secret kept in a file only its owner can read, created with `generate()` on first use. */
export function readOrCreateSecretFile(dir: string, name: string, generate: () => string): { value: string; path: string } {
  const path = join(dir, name);
  const value = readOwnSecret(path);
  if (value !== undefined && value !== '') return { value, path };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fresh = generate();
  writeFileSync(path, `${fresh}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { value: fresh, path };
}
