// Helpers for the chart tests: the helm binary that test/cluster/build.sh installs, rendering the
// chart into objects, and a recording proxy in front of the API server.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { spawnCli } from './harness.js';

export const CHART = 'charts/tollgate';
export const ALL_FEATURES = `${CHART}/ci/all-features-values.yaml`;
/** The chart's kubeVersion needs one; the test API server runs this minor. */
export const KUBE_VERSION = '1.32.0';

let helmPath: string | undefined;

/**
 * Path of the helm binary built by test/cluster/build.sh (it builds what is missing, then is a
 * no-op), or TOLLGATE_HELM: a helm already at hand, to run the render tests without building a cluster.
 */
export function helmBinary(): string {
  if (helmPath !== undefined) return helmPath;
  const given = process.env.TOLLGATE_HELM;
  if (given !== undefined && given !== '') return (helmPath = given);
  const r = spawnSync('bash', ['test/cluster/build.sh'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`test/cluster/build.sh failed: ${r.stderr}`);
  const dir = r.stdout.trim().split('\n').at(-1)?.trim() ?? '';
  helmPath = join(dir, 'bin', 'helm');
  return helmPath;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs helm; never throws, so that tests can check refusals. */
export function helm(args: string[], kubeconfig?: string): RunResult {
  const env: NodeJS.ProcessEnv = { ...process.env, HELM_CACHE_HOME: '/tmp/tollgate-helm/cache', HELM_CONFIG_HOME: '/tmp/tollgate-helm/config', HELM_DATA_HOME: '/tmp/tollgate-helm/data' };
  if (kubeconfig !== undefined) env.KUBECONFIG = kubeconfig;
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function helmOk(args: string[], kubeconfig?: string): string {
  const r = helm(args, kubeconfig);
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A rendered Kubernetes object, loosely typed: tests navigate it with `at`. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export function parseManifests(text: string): K8sObject[] {
  return yaml.loadAll(text).filter((d): d is K8sObject => typeof d === 'object' && d !== null && 'kind' in d);
}

/** `helm template` into objects. */
export function render(opts: { values?: string[]; set?: string[]; namespace?: string; includeCrds?: boolean } = {}): K8sObject[] {
  const args = ['template', 'tollgate', CHART, '--namespace', opts.namespace ?? 'tollgate-system', '--kube-version', KUBE_VERSION];
  if (opts.includeCrds === true) args.push('--include-crds');
  for (const f of opts.values ?? []) args.push('-f', f);
  for (const s of opts.set ?? []) args.push('--set', s);
  return parseManifests(helmOk(args));
}

export function find(objects: K8sObject[], kind: string, name: string, namespace?: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name && (namespace === undefined || x.metadata.namespace === namespace));
  if (o === undefined) throw new Error(`${kind} ${namespace ?? '*'}/${name} not rendered; have ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

/** Walks a dotted path (`spec.template.spec`); numeric segments index arrays. */
export function at<T = unknown>(value: unknown, path: string): T {
  let v: unknown = value;
  for (const key of path.split('.')) {
    if (v === null || v === undefined) break;
    v = (v as Record<string, unknown>)[key];
  }
  return v as T;
}

export const toYaml = (objects: unknown[]): string => objects.map((o) => yaml.dump(o, { noRefs: true })).join('---\n');

export interface ApiCall {
  method: string;
  path: string;
  query: string;
  status: number;
  /** The bearer token the call carried: who made it. */
  bearer: string;
}

export interface RecordingProxy {
  url: string;
  calls: ApiCall[];
  close(): Promise<void>;
}

/**
 * A plain-HTTP proxy in front of the API server that records every request (method, path, status)
 * and passes it on unchanged, with the caller's bearer token. Watches stream through.
 */
export async function startRecordingProxy(adminKubeconfig: string): Promise<RecordingProxy> {
  const config = yaml.load(readFileSync(adminKubeconfig, 'utf8')) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[] };
  const cluster = config.clusters[0]?.cluster;
  if (cluster === undefined) throw new Error('admin kubeconfig has no cluster');
  const upstream = new URL(cluster.server);
  const ca = Buffer.from(cluster['certificate-authority-data'], 'base64');
  const calls: ApiCall[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const call: ApiCall = { method: req.method ?? 'GET', path: url.pathname, query: url.search, status: 0, bearer };
    calls.push(call);
    const headers = { ...req.headers, host: upstream.host };
    const out = httpsRequest({ hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, ca }, (up) => {
      call.status = up.statusCode ?? 0;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface CliProcess {
  child: ChildProcess;
  logs: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs the built CLI (dist/cli/tollgate.js) as a process, the way a container would; stops with SIGTERM by default. */
export function spawnTollgate(args: string[], env: Record<string, string>): CliProcess {
  const proc = spawnCli(args, env);
  return { child: proc.child, logs: proc.logs, stop: (signal: NodeJS.Signals = 'SIGTERM') => proc.kill(signal) };
}

/** The container args of a rendered Deployment, with flags replaced or added for a local run. */
export function containerArgs(deployment: K8sObject, overrides: Record<string, string>): string[] {
  const args = at<string[]>(deployment, 'spec.template.spec.containers.0.args');
  const out = args.filter((a) => !Object.keys(overrides).some((flag) => a === flag || a.startsWith(`${flag}=`)));
  for (const [flag, value] of Object.entries(overrides)) out.push(`${flag}=${value}`);
  return out;
}

/** Plain `value` env vars of a rendered Deployment's first container. */
export function containerEnv(deployment: K8sObject): Record<string, string> {
  const env = at<{ name: string; value?: string }[]>(deployment, 'spec.template.spec.containers.0.env') ?? [];
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value ?? '']));
}
