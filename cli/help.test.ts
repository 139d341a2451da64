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

  it('an unknown command still fails with 2', () => {
    const run = spawnSync(process.execPath, [CLI, 'nonsense'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/unknown command nonsense/);
  });
});
