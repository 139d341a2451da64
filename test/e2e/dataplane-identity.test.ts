import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';

// Issue 20: a data plane without TokenReview access says so at start-up and, where identity is required, is not ready.
const CLI = join(process.cwd(), 'dist/cli/tollgate.js');
const running: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tollgate-identity-'));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** The built CLI with neither --kubeconfig, KUBECONFIG nor an in-cluster ServiceAccount. */
async function dataplane(extra: string[]): Promise<{ admin: string; logs: () => string }> {
  const snapshot = join(dir, 'snapshot.json');
  writeFileSync(snapshot, JSON.stringify(compile({ providers: [], routes: [], budgets: [], secrets: [] }).snapshot));
  const [port, adminPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = { ...process.env, TOLLGATE_ADMIN_TOKEN: 'dataplane-identity-test-token', LOG_LEVEL: 'info' };
  delete env.KUBECONFIG;
  const args = [CLI, 'dataplane', '--host', '127.0.0.1', '--port', String(port), '--admin-port', String(adminPort), '--snapshot', snapshot, ...extra];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const admin = `http://127.0.0.1:${adminPort}`;
  // Until it listens (or exits), up to 60 s: a CLI start on a loaded machine took longer than
  // 100 × 50 ms (7-9 s at load 30, over 25 s at load 45).
  const deadline = Date.now() + 60_000;
  while (!out.includes('data plane listening') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return { admin, logs: () => out };
}

afterEach(async () => {
  for (const child of running.splice(0)) {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
});

describe('data plane without TokenReview access', () => {
  it('refuses to start with an empty or short admin token, naming where it came from', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-token-'));
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    const env = { ...process.env, TOLLGATE_ADMIN_TOKEN: '' };
    const fromFile = spawnSync(process.execPath, [CLI, 'dataplane', '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--token-file', empty], { encoding: 'utf8', env, timeout: 30_000 });
    expect(fromFile.status).not.toBe(0);
    expect(fromFile.stderr).toContain('--token-file: the admin token must have at least 16 characters (it has 0)');
    const operator = spawnSync(process.execPath, [CLI, 'operator', '--port', '0'], { encoding: 'utf8', env: { ...process.env, TOLLGATE_ADMIN_TOKEN: 'short' }, timeout: 30_000 });
    expect(operator.status).not.toBe(0);
    expect(operator.stderr).toContain('TOLLGATE_ADMIN_TOKEN: the admin token must have at least 16 characters (it has 5)');
  });

  it('documents --kubeconfig as it behaves (KUBECONFIG, then in-cluster)', () => {
    const help = spawnSync(process.execPath, [CLI, 'help'], { encoding: 'utf8' }).stdout;
    expect(help).toMatch(/--kubeconfig <path>\s+API server for TokenReview \(dev: with --auth; dataplane default: env KUBECONFIG,\s+else the pod's own ServiceAccount; with neither, ServiceAccount tokens get 401/);
  });

  it('warns at start-up and stays ready when identity is not required', { timeout: 90_000 }, async () => {
    const dp = await dataplane([]);
    expect(dp.logs()).toMatch(/"level":40.*no TokenReview access: ServiceAccount tokens cannot be verified and get 401/);
    const res = await fetch(`${dp.admin}/readyz`);
    expect(res.status).toBe(200);
  });

  it('is not ready where identity is required, and says why', { timeout: 90_000 }, async () => {
    const dp = await dataplane(['--require-identity']);
    const res = await fetch(`${dp.admin}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reason?: string }).reason).toMatch(/^no TokenReview access/);
  });
});

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
