// bin/tollgate, the image's entrypoint: --single-threaded-gc when the container has at most one CPU
// (cgroup v2 cpu.max, v1 cfs_quota_us/cfs_period_us, or a CPU affinity of one core), forced by
// TOLLGATE_SINGLE_THREADED_GC, and the chosen flags really reach node.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = resolve('bin/tollgate');
const tmp = mkdtempSync(join(tmpdir(), 'tollgate-entrypoint-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let dirs = 0;
/** A cgroup root holding the given files (paths relative to it). */
function cgroup(files: Record<string, string>): string {
  const root = join(tmp, `cg${dirs++}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  mkdirSync(root, { recursive: true });
  return root;
}

function flags(env: Record<string, string>, prefix: string[] = []): string {
  const [cmd = 'sh', ...args] = [...prefix, 'sh', SCRIPT];
  const base = { PATH: process.env.PATH ?? '', TOLLGATE_PRINT_NODE_FLAGS: '1' };
  return execFileSync(cmd, args, { env: { ...base, ...env }, encoding: 'utf8' }).trim();
}

// With more than one CPU by affinity the quota decides; on a one-CPU machine it is always on.
const manyCpus = availableParallelism() > 1;
const byQuota = (oneCpuOrLess: boolean): string => (oneCpuOrLess || !manyCpus ? '--single-threaded-gc' : '');

describe('bin/tollgate chooses --single-threaded-gc from the CPUs the container may use', () => {
  it('reads the cgroup v2 quota: at most one CPU turns it on, no limit or more than one leaves it off', () => {
    expect(flags({ TOLLGATE_CGROUP_ROOT: cgroup({ 'cpu.max': 'max 100000\n' }) })).toBe(byQuota(false));
    expect(flags({ TOLLGATE_CGROUP_ROOT: cgroup({ 'cpu.max': '100000 100000\n' }) })).toBe(byQuota(true));
    expect(flags({ TOLLGATE_CGROUP_ROOT: cgroup({ 'cpu.max': '50000 100000\n' }) })).toBe(byQuota(true));
    expect(flags({ TOLLGATE_CGROUP_ROOT: cgroup({ 'cpu.max': '150000 100000\n' }) })).toBe(byQuota(false));
    expect(flags({ TOLLGATE_CGROUP_ROOT: cgroup({ 'cpu.max': 'garbage\n' }) })).toBe(byQuota(false));
  });

  it('reads the cgroup v1 quota (cpu/ or cpu,cpuacct/), -1 meaning none, and treats missing files as no limit', () => {
    const v1 = (dir: string, quota: string): string => cgroup({ [`${dir}/cpu.cfs_quota_us`]: `${quota}\n`, [`${dir}/cpu.cfs_period_us`]: '100000\n' });
    expect(flags({ TOLLGATE_CGROUP_ROOT: v1('cpu', '-1') })).toBe(byQuota(false));
    expect(flags({ TOLLGATE_CGROUP_ROOT: v1('cpu', '100000') })).toBe(byQuota(true));
    expect(flags({ TOLLGATE_CGROUP_ROOT: v1('cpu,cpuacct', '80000') })).toBe(byQuota(true));
    expect(flags({ TOLLGATE_CGROUP_ROOT: v1('cpu,cpuacct', '200000') })).toBe(byQuota(false));
    expect(flags({ TOLLGATE_CGROUP_ROOT: cgroup({}) })).toBe(byQuota(false));
    expect(flags({ TOLLGATE_CGROUP_ROOT: join(tmp, 'absent') })).toBe(byQuota(false));
  });

  it('turns it on for a CPU affinity of one core, and TOLLGATE_SINGLE_THREADED_GC forces it either way', () => {
    const none = cgroup({ 'cpu.max': 'max 100000\n' });
    const one = cgroup({ 'cpu.max': '100000 100000\n' });
    expect(flags({ TOLLGATE_CGROUP_ROOT: none }, ['taskset', '-c', '0'])).toBe('--single-threaded-gc');
    expect(flags({ TOLLGATE_CGROUP_ROOT: one, TOLLGATE_SINGLE_THREADED_GC: 'off' })).toBe('');
    expect(flags({ TOLLGATE_CGROUP_ROOT: none, TOLLGATE_SINGLE_THREADED_GC: 'on' })).toBe('--single-threaded-gc');
    expect(flags({ TOLLGATE_CGROUP_ROOT: none, TOLLGATE_SINGLE_THREADED_GC: 'auto' })).toBe(byQuota(false));
    const bad = spawnSync('sh', [SCRIPT], { env: { PATH: process.env.PATH ?? '', TOLLGATE_SINGLE_THREADED_GC: 'yes' }, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("TOLLGATE_SINGLE_THREADED_GC must be auto, on or off (got 'yes')");
  });

  it('execs node with the flags, TOLLGATE_NODE_FLAGS after them, then dist/cli/tollgate.js with the arguments unchanged, and MALLOC_ARENA_MAX 2 unless set', () => {
    // A copy of the script next to a stand-in CLI that reports how it was started.
    const root = join(tmp, 'image');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'dist/cli'), { recursive: true });
    copyFileSync(SCRIPT, join(root, 'bin/tollgate'));
    writeFileSync(join(root, 'dist/cli/tollgate.js'), 'console.log(JSON.stringify({ execArgv: process.execArgv, args: process.argv.slice(2), arenas: process.env.MALLOC_ARENA_MAX }));\n');
    const env = { PATH: process.env.PATH ?? '', TOLLGATE_NODE: process.execPath, TOLLGATE_SINGLE_THREADED_GC: 'on', TOLLGATE_NODE_FLAGS: '--max-semi-space-size=16 --no-single-threaded-gc' };
    const out = execFileSync('sh', [join(root, 'bin/tollgate'), 'dev', '-f', 'a dir with spaces', '--port', '8080'], { env, encoding: 'utf8' });
    // glibc malloc gets two arenas unless the pod's environment says otherwise.
    expect(JSON.parse(out)).toEqual({ execArgv: ['--single-threaded-gc', '--max-semi-space-size=16', '--no-single-threaded-gc'], args: ['dev', '-f', 'a dir with spaces', '--port', '8080'], arenas: '2' });
    const own = execFileSync('sh', [join(root, 'bin/tollgate'), 'help'], { env: { ...env, MALLOC_ARENA_MAX: '8' }, encoding: 'utf8' });
    expect(JSON.parse(own)).toMatchObject({ args: ['help'], arenas: '8' });
  });
});
