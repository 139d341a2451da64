import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../cluster/cluster.js';
import { eventually, POD_NET } from './harness.js';

// Issue 20: one documented command starts the operator and N data planes against cluster-up's API server.
let cluster: Cluster;
const env = (): NodeJS.ProcessEnv => ({ ...process.env, TOLLGATE_LOCAL_OPERATOR_PORT: '19391' });
const local = (args: string[]) => spawnSync('bash', ['test/cluster/local.sh', ...args], { encoding: 'utf8', env: env(), timeout: 120_000 });
const pidAlive = (file: string): boolean => {
  try {
    process.kill(Number(readFileSync(file, 'utf8')), 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  cluster = await startCluster();
}, 120_000);

afterAll(async () => {
  local(['down', cluster.stateDir]);
  await cluster?.stop();
});

describe('test/cluster/local.sh (make cluster-local DATAPLANES=N)', () => {
  it('starts the operator and N data planes with PID files, serves what kubectl applies, and tears down', async () => {
    const up = local(['up', '2', cluster.stateDir]);
    expect(up.status, up.stderr).toBe(0);
    const dir = join(cluster.stateDir, 'local');
    const pids = ['operator.pid', 'dataplane-1.pid', 'dataplane-2.pid'].map((f) => join(dir, f));
    expect(pids.every(pidAlive)).toBe(true);
    const kubectl = (args: string[]) => spawnSync('kubectl', args, { encoding: 'utf8', env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
    expect(kubectl(['apply', '-f', 'examples/quickstart/']).status).toBe(0);
    // The quickstart routes admit callers of their own namespace: a workload's ServiceAccount token.
    expect(kubectl(['create', 'serviceaccount', 'app', '-n', 'default']).status).toBe(0);
    const token = kubectl(['create', 'token', 'app', '-n', 'default', '--audience', 'tollgate']).stdout.trim();
    for (const ip of [`${POD_NET}.11`, `${POD_NET}.12`]) {
      await eventually(async () => {
        const res = await fetch(`http://${ip}:8080/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: 'Hello' }] }),
        });
        expect(res.status).toBe(200);
      }, `data plane ${ip} to serve`, 30_000);
    }
    const down = local(['down', cluster.stateDir]);
    expect(down.status, down.stderr).toBe(0);
    expect(pids.some((p) => existsSync(p))).toBe(false);
  });
});
