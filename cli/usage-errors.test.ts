import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built CLI, as a user runs it (npx tsc -p tsconfig.build.json first).
const CLI = join(process.cwd(), 'dist/cli/tollgate.js');
const QUICKSTART = join(process.cwd(), 'examples/quickstart');
const HINT = "Run 'tollgate --help' for the commands and their options.";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tollgate(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TOLLGATE_STATE_DIR: '/tmp/tollgate-usage-errors-state', ...env } }, (err, stdout, stderr) =>
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr }),
    );
  });
}

let busy: Server;
let busyPort = 0;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

// CLI starts took over 20 s at load 45: each run may take 60 s.
describe('CLI mistakes: one line saying what is wrong, no stack trace', { timeout: 120_000 }, () => {
  it.each([
    ['a directory without -f', ['dev', 'examples/quickstart'], 'tollgate: unexpected argument examples/quickstart (the manifests go after -f: tollgate dev -f examples/quickstart)'],
    ['an unknown option', ['dev', '-f', QUICKSTART, '--prot', '18091'], "tollgate: dev: unknown option '--prot'"],
    ['a -f that does not exist', ['dev', '-f', '/nonexistent/manifests', '--port', '0'], 'tollgate: -f /nonexistent/manifests: no such file or directory'],
    ['a -f that does not exist (compile)', ['compile', '-f', '/nonexistent/manifests'], 'tollgate: -f /nonexistent/manifests: no such file or directory'],
    ['an unknown command', ['nonsense', '--whatever'], 'tollgate: unknown command nonsense'],
    ['a bad --log-level', ['compile', '-f', QUICKSTART, '--log-level', 'loud'], 'tollgate: --log-level must be one of trace, debug, info, warn, error, fatal or silent, got "loud"'],
  ])('%s: exit 2', async (_name, args, line) => {
    const run = await tollgate(args);
    expect(run.stderr).toBe(`${line}\n${HINT}\n`);
    expect(run.status).toBe(2);
  });

  it.each([
    ['LOG_LEVEL', 'loud', 'tollgate: LOG_LEVEL must be one of'],
    ['TOLLGATE_CACHE_BACKEND', 'memcached', 'tollgate: invalid cache configuration: TOLLGATE_CACHE_BACKEND:'],
    ['TOLLGATE_RATE_LIMIT_FAIL_MODE', 'maybe', 'tollgate: invalid rate-limit configuration: TOLLGATE_RATE_LIMIT_FAIL_MODE:'],
  ])('a bad %s=%s: exit 2', async (variable, value, start) => {
    const run = await tollgate(['dev', '-f', QUICKSTART, '--port', '0'], { [variable]: value });
    expect(run.stderr.startsWith(start), run.stderr).toBe(true);
    expect(run.stderr.endsWith(`\n${HINT}\n`), run.stderr).toBe(true);
    expect(run.stderr.split('\n')).toHaveLength(3);
    expect(run.status).toBe(2);
  });

  it('a port in use: one line naming it, exit 1', async () => {
    const run = await tollgate(['dev', '-f', QUICKSTART, '--port', String(busyPort)]);
    expect(run.stderr).toContain(`tollgate: cannot listen on 127.0.0.1:${busyPort}: the port is in use (another tollgate?); choose another with --port or --host\n`);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.status).toBe(1);
  });

  it('help dev prints the usage; --version prints the package version', async () => {
    const help = await tollgate(['help', 'dev']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: tollgate <command>/);
    const version = await tollgate(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout).toBe(`tollgate ${(await import('../package.json', { with: { type: 'json' } })).default.version}\n`);
  });

  it('compile -f takes one manifest file, as kubectl -f does', async () => {
    const run = await tollgate(['compile', '-f', join(QUICKSTART, 'providers.yaml')]);
    expect(run.status, run.stderr).toBe(0);
    const { statuses } = JSON.parse(run.stdout) as { statuses: { kind: string; name: string }[] };
    expect(statuses.map((s) => s.kind)).toContain('Provider');
  });
});
