// bin/tollgate, the image's entrypoint: --single-threaded-gc only when TOLLGATE_SINGLE_THREADED_GC is on
// (off by default, whatever the CPUs), and the chosen flags really reach node.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = resolve('bin/tollgate');
const tmp = mkdtempSync(join(tmpdir(), 'tollgate-entrypoint-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function flags(env: Record<string, string>, prefix: string[] = []): string {
  const [cmd = 'sh', ...args] = [...prefix, 'sh', SCRIPT];
  const base = { PATH: process.env.PATH ?? '', TOLLGATE_PRINT_NODE_FLAGS: '1' };
  return execFileSync(cmd, args, { env: { ...base, ...env }, encoding: 'utf8' }).trim();
}

describe('bin/tollgate adds --single-threaded-gc only when asked', () => {
  it('leaves it off by default, also pinned to one core, and TOLLGATE_SINGLE_THREADED_GC on or off decides', () => {
    // On one quiet core the flag gave no throughput and more RSS with held streams (stream-memory-s9).
    expect(flags({})).toBe('');
    expect(flags({}, ['taskset', '-c', '0'])).toBe('');
    expect(flags({ TOLLGATE_SINGLE_THREADED_GC: 'off' }, ['taskset', '-c', '0'])).toBe('');
    expect(flags({ TOLLGATE_SINGLE_THREADED_GC: 'on' })).toBe('--single-threaded-gc');
    for (const value of ['auto', 'yes']) {
      const bad = spawnSync('sh', [SCRIPT], { env: { PATH: process.env.PATH ?? '', TOLLGATE_SINGLE_THREADED_GC: value }, encoding: 'utf8' });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain(`TOLLGATE_SINGLE_THREADED_GC must be on or off (got '${value}')`);
    }
  });

  it('execs node with the flags, TOLLGATE_NODE_FLAGS after them, then dist/cli/tollgate.js with the arguments unchanged, and MALLOC_ARENA_MAX 16 unless set', () => {
    // A copy of the script next to a stand-in CLI that reports how it was started.
    const root = join(tmp, 'image');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'dist/cli'), { recursive: true });
    copyFileSync(SCRIPT, join(root, 'bin/tollgate'));
    writeFileSync(join(root, 'dist/cli/tollgate.js'), 'console.log(JSON.stringify({ execArgv: process.execArgv, args: process.argv.slice(2), arenas: process.env.MALLOC_ARENA_MAX }));\n');
    const env = { PATH: process.env.PATH ?? '', TOLLGATE_NODE: process.execPath, TOLLGATE_SINGLE_THREADED_GC: 'on', TOLLGATE_NODE_FLAGS: '--max-semi-space-size=16 --no-single-threaded-gc' };
    const out = execFileSync('sh', [join(root, 'bin/tollgate'), 'dev', '-f', 'a dir with spaces', '--port', '8080'], { env, encoding: 'utf8' });
    // glibc malloc gets an arena per thread (16) unless the pod's environment says otherwise.
    expect(JSON.parse(out)).toEqual({ execArgv: ['--single-threaded-gc', '--max-semi-space-size=16', '--no-single-threaded-gc'], args: ['dev', '-f', 'a dir with spaces', '--port', '8080'], arenas: '16' });
    const own = execFileSync('sh', [join(root, 'bin/tollgate'), 'help'], { env: { ...env, MALLOC_ARENA_MAX: '8' }, encoding: 'utf8' });
    expect(JSON.parse(own)).toMatchObject({ args: ['help'], arenas: '8' });
  });
});
