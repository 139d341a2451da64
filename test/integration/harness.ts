import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { type Cluster, startCluster } from '../cluster/cluster.js';

/** Data planes bind addresses in this range; the test runs in a private network namespace where it is on lo. */
export const POD_NET = process.env.TOLLGATE_TEST_POD_NET ?? '10.250.0';
export const TOKEN = 'test-admin-token';
const CLI = join(process.cwd(), 'dist/cli/tollgate.js');

export interface TestCluster {
  cluster: Cluster;
  /** Admin kubeconfig. */
  kubeconfig: string;
  /** kubeconfig of the operator's ServiceAccount, bound to the chart's ClusterRole. */
  operatorKubeconfig: string;
  kubectl(args: string[], input?: string): string;
  apply(manifest: string): void;
  get<T>(kind: string, name: string, namespace?: string): T;
  stop(): Promise<void>;
}

/** The API server's answer to a manifest: '' when accepted, its message when refused. */
export function applyOrRefusal(k: TestCluster, manifest: string): string {
  try {
    k.apply(manifest);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

export function kubectlWith(kubeconfig: string, args: string[], input?: string): string {
  const r = spawnSync('kubectl', args, { input, encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfig } });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A kubeconfig for the test cluster that authenticates with a bearer token (a ServiceAccount's): that token's RBAC applies. */
export function tokenKubeconfig(cluster: Cluster, name: string, token: string): string {
  const admin = yaml.load(readFileSync(cluster.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string>; name: string }[] };
  const path = join(cluster.stateDir, `${name}.kubeconfig`);
  writeFileSync(
    path,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: admin.clusters,
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: admin.clusters[0]?.name, user: name } }],
      'current-context': name,
    }),
  );
  return path;
}

/**
 * A ServiceAccount platform-viewer (namespace tollgate-system) that may read Tollgate's objects and
 * their Events in every namespace, as the console and `tollgate spend` need for a cross-namespace view.
 */
export const PLATFORM_VIEWER = `apiVersion: v1
kind: ServiceAccount
metadata: { name: platform-viewer, namespace: tollgate-system }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: tollgate-reader }
rules:
  - { apiGroups: [tollgate.dev], resources: [usagereports, budgets, modelroutes, providers], verbs: [get, list] }
  - { apiGroups: [""], resources: [events], verbs: [list] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: platform-viewer }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tollgate-reader }
subjects: [{ kind: ServiceAccount, name: platform-viewer, namespace: tollgate-system }]
`;

/** Starts a real kube-apiserver + etcd, installs the CRDs and the operator's least-privilege identity. */
export async function startTestCluster(): Promise<TestCluster> {
  const cluster = await startCluster();
  const kubeconfig = cluster.kubeconfig;
  const kubectl = (args: string[], input?: string): string => kubectlWith(kubeconfig, args, input);
  kubectl(['apply', '-f', 'crds/']);
  kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=30s']);
  const rules = yaml.load(readFileSync('charts/tollgate/files/operator-rules.yaml', 'utf8'));
  const identity = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tollgate-system' } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'tollgate-operator', namespace: 'tollgate-system' } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'tollgate-operator' }, rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'tollgate-operator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tollgate-operator' },
      subjects: [{ kind: 'ServiceAccount', name: 'tollgate-operator', namespace: 'tollgate-system' }],
    },
  ];
  kubectl(['apply', '-f', '-'], identity.map((d) => yaml.dump(d)).join('---\n'));
  const token = kubectl(['create', 'token', 'tollgate-operator', '-n', 'tollgate-system', '--duration', '2h']).trim();
  const operatorKubeconfig = tokenKubeconfig(cluster, 'operator', token);
  return {
    cluster,
    kubeconfig,
    operatorKubeconfig,
    kubectl,
    apply: (manifest) => {
      kubectl(['apply', '-f', '-'], manifest);
    },
    get: <T>(kind: string, name: string, namespace = 'default'): T => JSON.parse(kubectl(['get', kind, name, '-n', namespace, '-o', 'json'])) as T,
    stop: () => cluster.stop(),
  };
}

export interface Proc {
  child: ChildProcess;
  logs: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs the built CLI (dist/cli/tollgate.js) as a process, the way a container would. */
export function spawnCli(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  child.stdout?.on('data', (d: Buffer) => logs.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  return {
    child,
    logs,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

export function startOperator(kubeconfig: string, opts: { port: number; identity: string; host?: string; args?: string[]; env?: Record<string, string> }): Proc {
  return spawnCli(
    [
      'operator',
      '--kubeconfig',
      kubeconfig,
      '--host',
      opts.host ?? '127.0.0.1',
      '--port',
      String(opts.port),
      '--identity',
      opts.identity,
      '--dataplane-namespace',
      'tollgate-system',
      ...(opts.args ?? []),
    ],
    { TOLLGATE_ADMIN_TOKEN: TOKEN, ...opts.env },
  );
}

export function startDataplane(ip: string, opts: { operatorUrl?: string; env?: Record<string, string>; args?: string[] } = {}): Proc {
  const args = ['dataplane', '--host', ip, '--port', '8080', '--admin-port', '9090', ...(opts.args ?? [])];
  if (opts.operatorUrl !== undefined) args.push('--operator-url', opts.operatorUrl);
  return spawnCli(args, { TOLLGATE_ADMIN_TOKEN: TOKEN, ...opts.env });
}

/** The data-plane Service and one EndpointSlice per pod IP, as the EndpointSlice controller would write them. */
export function dataplaneService(ips: string[], ready = true): string {
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'tollgate-dataplane', namespace: 'tollgate-system' },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'admin', port: 9090, targetPort: 9090 }] },
  };
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'tollgate-dataplane-test', namespace: 'tollgate-system', labels: { 'kubernetes.io/service-name': 'tollgate-dataplane' } },
    addressType: 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready } })),
    ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 9090 }],
  };
  return [service, slice].map((d) => yaml.dump(d)).join('---\n');
}

export async function eventually<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : String(last)}`);
}

export interface Conditioned {
  metadata: { generation: number; resourceVersion: string };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number; lastTransitionTime: string }[] };
}

export function conditionOf(obj: Conditioned, type: string): { status: string; reason: string; message: string; observedGeneration?: number } | undefined {
  return obj.status?.conditions?.find((c) => c.type === type);
}

/** An openai-compatible Provider `up` in `namespace`, for the upstream emulator at `baseUrl`. */
export function upstreamProvider(namespace: string, baseUrl: string, extra = ''): string {
  return `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: up, namespace: ${namespace} }
spec:
  type: openai-compatible
  url: ${baseUrl}
${extra}`;
}

/**
 * A Secret and Provider `up` in `namespace` with upstream model `m` at $1000 / $2000 per million
 * tokens: a JSON answer of the emulator (10 in, 5 out) costs $0.02, a 4-chunk stream (7 in, 4 out) $0.015.
 */
export function pricedUpstream(namespace: string, baseUrl: string): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: key, namespace: ${namespace} }
stringData: { apiKey: sk-x }
---
${upstreamProvider(namespace, baseUrl, '  credentials: { secretRef: { name: key, key: apiKey } }\n  models: [{ name: m, pricing: { input: 1000, output: 2000 } }]\n')}`;
}

/** A ModelRoute open to anonymous callers, serving `model` from Provider `up` (upstream model `m`). */
export function anonymousRoute(namespace: string, model: string, extra = ''): string {
  return `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${model}, namespace: ${namespace} }
spec:
  model: ${model}
  targets: [{ providerRef: { name: up }, model: m }]
  access: { anonymous: true }
${extra}`;
}

/** POSTs a one-message chat completion to a data plane; the HTTP status, or 0 when unreachable. */
export async function postChat(ip: string, model: string): Promise<number> {
  try {
    const res = await fetch(`http://${ip}:8080/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
