// Starts a real kube-apiserver + etcd for integration tests, via the scripts
// beside this file (build.sh, up.sh, down.sh). Node built-ins only.
//
//   const cluster = await startCluster();
//   process.env.KUBECONFIG = cluster.kubeconfig;
//   ...
//   await cluster.stop();
//
// The first call on a fresh machine builds kube-apiserver/etcd/helm from Go
// modules (a few minutes); later calls reuse the cache and take ~5 s.

import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT_DIR = dirname(fileURLToPath(import.meta.url));

export interface StartClusterOptions {
  /**
   * Where up.sh keeps kubeconfig, certs, etcd data, logs and pids. Default: a
   * new temporary directory, so parallel test files get separate clusters.
   */
  stateDir?: string;
}

export interface Cluster {
  /** Path of a kubeconfig for a system:masters admin (x509 client cert). */
  kubeconfig: string;
  /** kube-apiserver URL, e.g. https://127.0.0.1:43123 */
  server: string;
  stateDir: string;
  /** Path of the helm binary built by build.sh. */
  helm: string;
  /** Stops kube-apiserver and etcd and removes the state dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts kube-apiserver only (same port, certs and etcd data). */
  restartApiServer(): Promise<void>;
}

interface RunResult {
  stdout: string;
  stderr: string;
}

const verbose = process.env.TOLLGATE_CLUSTER_VERBOSE === '1';

function runScript(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(SCRIPT_DIR, script), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (verbose) process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const how = signal !== null ? `signal ${signal}` : `exit code ${String(code)}`;
      reject(
        new Error(
          `test/cluster/${script} ${args.join(' ')} failed with ${how}\n${stderr}${stdout}`,
        ),
      );
    });
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim();
}

async function readClusterEnv(stateDir: string): Promise<Map<string, string>> {
  const text = await readFile(join(stateDir, 'cluster.env'), 'utf8');
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return vars;
}

export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const ownsStateDir = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'tollgate-cluster-')));

  // build.sh is a no-op when the binaries are cached; its last line is the dir.
  const binDir = lastLine((await runScript('build.sh', [])).stdout);
  const env: NodeJS.ProcessEnv = { ...process.env, TOLLGATE_CLUSTER_BIN_DIR: binDir };

  let stopped = false;
  // Safety net: never leave etcd/kube-apiserver running after the test process
  // exits without calling stop() (only synchronous work is possible here).
  const onExit = (): void => {
    if (stopped) return;
    spawnSync('bash', [join(SCRIPT_DIR, 'down.sh'), stateDir], { stdio: 'ignore' });
    if (ownsStateDir) rmSync(stateDir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    await runScript('down.sh', [stateDir], env);
    if (ownsStateDir) await rm(stateDir, { recursive: true, force: true });
  };

  try {
    const up = await runScript('up.sh', [stateDir], env);
    const exportLine = lastLine(up.stdout);
    const prefix = 'export KUBECONFIG=';
    if (!exportLine.startsWith(prefix)) {
      throw new Error(`unexpected output from up.sh: ${up.stdout}\n${up.stderr}`);
    }
    const kubeconfig = exportLine.slice(prefix.length);
    const server = (await readClusterEnv(stateDir)).get('SERVER');
    if (server === undefined) throw new Error(`SERVER missing in ${stateDir}/cluster.env`);

    return {
      kubeconfig,
      server,
      stateDir,
      helm: join(binDir, 'bin', 'helm'),
      stop,
      restartApiServer: async (): Promise<void> => {
        if (stopped) throw new Error('cluster is stopped');
        await runScript('up.sh', ['--restart-apiserver', stateDir], env);
      },
    };
  } catch (err: unknown) {
    await stop().catch(() => undefined);
    throw err;
  }
}
