import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The built CLI, as a user runs it (npx tsc -p tsconfig.build.json first).
const CLI = join(process.cwd(), 'dist/cli/tollgate.js');

describe('tollgate help', () => {
  it.each([['--help'], ['-h'], ['help'], []])('tollgate %s prints the usage and exits 0', (...args: string[]) => {
    const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: tollgate <command>/);
    expect(run.stderr).not.toMatch(/unknown command/);
  });

  it('an unknown command still fails with 2', () => {
    const run = spawnSync(process.execPath, [CLI, 'nonsense'], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/unknown command nonsense/);
  });
});
