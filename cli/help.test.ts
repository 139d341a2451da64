import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The built CLI, as a user runs it (npx tsc -p tsconfig.build.json first).
const CLI = join(process.cwd(), 'dist/cli/tollgate.js');

// CLI starts took over 20 s at load 45: each run may take 60 s (a test 90 s).
describe('tollgate help', { timeout: 90_000 }, () => {
  it.each([['--help'], ['-h'], ['help'], []])('tollgate %s prints the usage and exits 0', (...args: string[]) => {
    const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: tollgate <command>/);
    expect(run.stderr).not.toMatch(/unknown command/);
  });

  it('lists the flags dev shares with dataplane under both, and points to the environment settings', () => {
    const usage = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8', timeout: 60_000 }).stdout;
    const shared = usage.slice(usage.indexOf('dev and dataplane:'), usage.indexOf('\ndataplane:'));
    for (const flag of ['--drain-timeout', '--kubeconfig', '--auth-cache-ttl']) expect(shared, flag).toContain(flag);
    expect(shared).toMatch(/TOLLGATE_REDIS_URL.*TOLLGATE_CACHE_\*/s);
    expect(shared).toContain('docs/configuration.md');
  });

  it('an unknown command still fails with 2', () => {
    const run = spawnSync(process.execPath, [CLI, 'nonsense'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/unknown command nonsense/);
  });
});
