// The operator runs under exactly the ServiceAccount and RBAC that `helm install` creates (a token
// minted for that ServiceAccount), with the args the chart renders, and completes a full
// reconcile-and-push cycle to a data-plane process. A recording proxy in front of the API server
// logs every call it makes; the test fails on any call the chart's RBAC does not allow and on any
// permission the chart grants that no call used. Both RBAC layouts: all namespaces and watchNamespaces.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../cluster/cluster.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { type Conditioned, conditionOf, eventually, kubectlWith, POD_NET } from './harness.js';
import { compare, grantsFor } from './helm-rbac-model.js';
import {
  CHART,
  type CliProcess,
  containerArgs,
  containerEnv,
  find,
  helmOk,
  type K8sObject,
  parseManifests,
  type RecordingProxy,
  spawnTollgate,
  startRecordingProxy,
} from './helm-support.js';

const NS = 'tollgate-system';
const DP_IP = `${POD_NET}.20`;
const OPERATOR_PORT = 19191;

let cluster: Cluster;
let kubectl: (args: string[], input?: string) => string;
let proxy: RecordingProxy;
let upstream: OpenAiUpstream;
let dataplane: CliProcess | undefined;
let operator: CliProcess | undefined;
const work = mkdtempSync(join(tmpdir(), 'tollgate-helm-rbac-'));
const tokenFile = join(work, 'admin-token');
const metricsTokenFile = join(work, 'metrics-token');
const operatorKubeconfig = join(work, 'operator.kubeconfig');
const dataplaneKubeconfig = join(work, 'dataplane.kubeconfig');
/** Bearer tokens minted for the chart's ServiceAccounts: the proxy tells their calls apart by them. */
const saTokens = { operator: '', dataplane: '' };
/** Workload tokens (audience tollgate) of a ServiceAccount `client` per namespace. */
const clientTokens = new Map<string, string>();

/** What helm actually installed (not a fresh render): the objects the API server enforces. */
const installed = (): K8sObject[] => parseManifests(helmOk(['get', 'manifest', 'tollgate', '-n', NS], cluster.kubeconfig));

/** A kubeconfig for one of the chart's ServiceAccounts, pointing at the recording proxy. */
function writeKubeconfig(path: string, serviceAccount: string): string {
  const token = kubectl(['create', 'token', serviceAccount, '-n', NS, '--duration', '1h']).trim();
  writeFileSync(
    path,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node refuses plain HTTP unless TLS verification is off; the proxy verifies the API server.
      clusters: [{ name: 'proxy', cluster: { server: proxy.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'operator', user: { token } }],
      contexts: [{ name: 'operator', context: { cluster: 'proxy', user: 'operator' } }],
      'current-context': 'operator',
    }),
  );
  return token;
}

function startOperatorFromChart(objects: K8sObject[]): CliProcess {
  const deployment = find(objects, 'Deployment', 'tollgate-operator', NS);
  const args = containerArgs(deployment, { '--token-file': tokenFile, '--metrics-token-file': metricsTokenFile, '--kubeconfig': operatorKubeconfig, '--host': '127.0.0.1', '--port': String(OPERATOR_PORT) });
  // POD_NAMESPACE and POD_NAME come from the downward API in the chart.
  return spawnTollgate(args, { ...containerEnv(deployment), POD_NAMESPACE: NS, POD_NAME: 'tollgate-operator-0' });
}

/**
 * The data plane with the chart's args, once the operator has created the certificate Secret the
 * chart mounts into its pods (channel TLS is on by default): the test writes the mounted files.
 */
async function startDataplaneFromChart(objects: K8sObject[]): Promise<CliProcess> {
  const secret = await eventually(
    () => JSON.parse(kubectl(['get', 'secret', 'tollgate-dataplane-tls', '-n', NS, '-o', 'json'])) as { data: Record<string, string> },
    'the operator to create the data planes\' certificate Secret',
  );
  for (const [key, value] of Object.entries(secret.data)) writeFileSync(join(work, key), Buffer.from(value, 'base64'));
  const deployment = find(objects, 'Deployment', 'tollgate-dataplane', NS);
  const dpArgs = containerArgs(deployment, {
    '--token-file': tokenFile,
    '--metrics-token-file': metricsTokenFile,
    '--operator-url': `https://127.0.0.1:${OPERATOR_PORT}`,
    // The operator's certificate names its Service; here it is reached on loopback.
    '--operator-tls-server-name': `tollgate-operator.${NS}.svc`,
    '--admin-tls-cert': join(work, 'tls.crt'),
    '--admin-tls-key': join(work, 'tls.key'),
    '--operator-ca': join(work, 'ca.crt'),
    '--host': DP_IP,
    // In a pod it uses its mounted ServiceAccount token; here the same identity, through the proxy.
    '--kubeconfig': dataplaneKubeconfig,
  });
  return spawnTollgate(dpArgs, containerEnv(deployment));
}

function objectsIn(ns: string, model: string): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: upstream-key, namespace: ${ns} }
stringData: { apiKey: sk-${ns} }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: upstream, namespace: ${ns} }
spec:
  type: openai-compatible
  url: ${upstream.baseUrl}
  credentials: { secretRef: { name: upstream-key, key: apiKey } }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat, namespace: ${ns} }
spec:
  model: ${model}
  targets: [{ providerRef: { name: upstream }, model: upstream-${ns} }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: orphan, namespace: ${ns} }
spec:
  model: orphan-${ns}
  targets: [{ providerRef: { name: nowhere }, model: x }]
---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: monthly, namespace: ${ns} }
spec:
  limit: { amount: 100 }
  subjects: { namespaces: [${ns}] }
---
apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: audit, namespace: ${ns} }
spec:
  subjects: { namespaces: [${ns}] }
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: watch, namespace: ${ns} }
spec:
  subjects: { namespaces: [${ns}] }
  rules: [{ name: cards, phase: Request, action: Monitor, detector: { builtin: [PaymentCard] } }]
`;
}

/** A workload in `ns` calling with its projected ServiceAccount token, which the data plane reviews. */
const chat = (model: string, ns: string) =>
  new OpenAI({ baseURL: `http://${DP_IP}:8080/v1`, apiKey: clientToken(ns), maxRetries: 0 }).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });

function clientToken(ns: string): string {
  let token = clientTokens.get(ns);
  if (token === undefined) {
    kubectl(['create', 'serviceaccount', 'client', '-n', ns]);
    token = kubectl(['create', 'token', 'client', '-n', ns, '--audience', 'tollgate', '--duration', '1h']).trim();
    clientTokens.set(ns, token);
  }
  return token;
}

function programmed(kind: string, name: string, ns: string): Conditioned {
  const o = JSON.parse(kubectl(['get', kind, name, '-n', ns, '-o', 'json'])) as Conditioned;
  if (conditionOf(o, 'Programmed')?.status !== 'True') throw new Error(`${kind} ${ns}/${name}: ${JSON.stringify(o.status)}`);
  return o;
}

/** Applies objects to each namespace and waits until the operator has reconciled and pushed them. */
async function fullCycle(namespaces: string[]): Promise<void> {
  for (const ns of namespaces) kubectl(['apply', '-f', '-'], objectsIn(ns, `chat-${ns}`));
  for (const ns of namespaces) {
    const response = await eventually(() => chat(`chat-${ns}`, ns), `chat-${ns} to be served`, 30_000);
    expect(response.model).toBe(`upstream-${ns}`);
    // Caller identity is on: without a credential the route (access: Same namespace) refuses.
    const anonymous = await fetch(`http://${DP_IP}:8080/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: `chat-${ns}`, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(anonymous.status).toBe(401);
    expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer sk-${ns}`);
    await eventually(() => programmed('modelroute', 'chat', ns), `ModelRoute ${ns}/chat Programmed`);
    await eventually(() => programmed('provider', 'upstream', ns), `Provider ${ns}/upstream Programmed`);
    await eventually(() => programmed('budget', 'monthly', ns), `Budget ${ns}/monthly Programmed`);
    await eventually(() => programmed('datapolicy', 'audit', ns), `DataPolicy ${ns}/audit Programmed`);
    await eventually(() => programmed('guardrailpolicy', 'watch', ns), `GuardrailPolicy ${ns}/watch Programmed`);
    const orphan = await eventually(() => {
      const o = JSON.parse(kubectl(['get', 'modelroute', 'orphan', '-n', ns, '-o', 'json'])) as Conditioned;
      if (conditionOf(o, 'ResolvedRefs')?.reason !== 'ProviderNotFound') throw new Error('not yet');
      return o;
    }, `ModelRoute ${ns}/orphan ProviderNotFound`);
    expect(conditionOf(orphan, 'ResolvedRefs')?.status).toBe('False');
    await eventually(() => {
      const events = JSON.parse(kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=orphan', '-o', 'json'])) as { items: { reason: string }[] };
      if (!events.items.some((e) => e.reason === 'ProviderNotFound')) throw new Error('no Event yet');
    }, `an Event for ${ns}/orphan`);
  }
  // Usage history: today's report written for each namespace, the expired one swept.
  for (const ns of namespaces) {
    await eventually(() => {
      const report = JSON.parse(kubectl(['get', 'usagereport', new Date().toISOString().slice(0, 10), '-n', ns, '-o', 'json'])) as { status?: { totals?: { requests?: number } } };
      expect(report.status?.totals?.requests).toBeGreaterThan(0);
    }, `UsageReport in ${ns}`);
  }
  await eventually(() => expect(kubectl(['get', 'usagereports', '-A', '-o', 'name'])).not.toContain('2000-01-01'), 'the expired UsageReport deleted');
  // Leader election renews its Lease every 2 s; wait for a renewal (an update) before stopping.
  const lease = () => JSON.parse(kubectl(['get', 'lease', 'tollgate-operator', '-n', NS, '-o', 'json'])) as { metadata: { resourceVersion: string } };
  const first = lease().metadata.resourceVersion;
  await eventually(() => expect(lease().metadata.resourceVersion).not.toBe(first), 'a Lease renewal');
}

/** A UsageReport past any retention: the operator's sweep deletes it (the delete permission is used). */
function oldUsageReport(ns: string): void {
  kubectl(['apply', '-f', '-'], 'apiVersion: tollgate.dev/v1alpha1\nkind: UsageReport\nmetadata: { name: 2000-01-01, namespace: ' + ns + ' }\n');
}

/** A failed cycle names the calls the API server refused first: usually the reason. */
function failure(err: unknown): string {
  const forbidden = proxy.calls.filter((c) => c.status === 403).map((c) => `${c.method} ${c.path}`);
  return `${(err as Error).message}\nrefused (403): ${JSON.stringify([...new Set(forbidden)])}\noperator logs:\n${operator?.logs.join('').slice(-3000) ?? ''}`;
}

async function checkRbac(objects: K8sObject[]): Promise<void> {
  // A graceful stop releases the Lease: one more update.
  await operator?.stop('SIGTERM');
  operator = undefined;
  const forbidden = proxy.calls.filter((c) => c.status === 403).map((c) => `${c.method} ${c.path}${c.query}`);
  expect(forbidden, 'calls the API server refused (403): the chart lacks a permission').toEqual([]);
  for (const who of ['operator', 'dataplane'] as const) {
    const calls = proxy.calls.filter((c) => c.bearer === saTokens[who]);
    expect(calls.length, who).toBeGreaterThan(0);
    const { missing, unused } = compare(calls, grantsFor(objects, { name: `tollgate-${who}`, namespace: NS }));
    expect(missing, `calls of the ${who} that no rule of the chart allows`).toEqual([]);
    // Least privilege: every permission the chart grants was used in this cycle.
    expect(unused, `permissions the chart grants the ${who} but it never used`).toEqual([]);
  }
  const strangers = proxy.calls.filter((c) => c.bearer !== saTokens.operator && c.bearer !== saTokens.dataplane);
  expect(strangers.map((c) => `${c.method} ${c.path}`), 'calls with another identity').toEqual([]);
}

beforeAll(async () => {
  cluster = await startCluster();
  kubectl = (args, input) => kubectlWith(cluster.kubeconfig, args, input);
  for (const ns of [NS, 'team-a', 'team-b', 'team-c']) kubectl(['create', 'namespace', ns]);
  helmOk(['install', 'tollgate', CHART, '-n', NS], cluster.kubeconfig);
  kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=30s']);
  proxy = await startRecordingProxy(cluster.kubeconfig);
  upstream = await startOpenAiUpstream();
  saTokens.operator = writeKubeconfig(operatorKubeconfig, 'tollgate-operator');
  saTokens.dataplane = writeKubeconfig(dataplaneKubeconfig, 'tollgate-dataplane');
  const secret = JSON.parse(kubectl(['get', 'secret', 'tollgate-admin-token', '-n', NS, '-o', 'json'])) as { data: { token: string } };
  writeFileSync(tokenFile, Buffer.from(secret.data.token, 'base64').toString('utf8'));
  const metrics = JSON.parse(kubectl(['get', 'secret', 'tollgate-metrics-token', '-n', NS, '-o', 'json'])) as { data: { token: string } };
  writeFileSync(metricsTokenFile, Buffer.from(metrics.data.token, 'base64').toString('utf8'));

  // The data plane starts in each cycle, once the operator has made its certificate (startDataplaneFromChart);
  // no controllers run, so the test writes the EndpointSlice the EndpointSlice controller would
  // write for the chart's data-plane Service.
  const objects = installed();
  const service = find(objects, 'Service', 'tollgate-dataplane', NS);
  const ports = slicePorts(service);
  kubectl(
    ['apply', '-f', '-'],
    yaml.dump({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'tollgate-dataplane-test', namespace: NS, labels: { 'kubernetes.io/service-name': 'tollgate-dataplane' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [DP_IP], conditions: { ready: true } }],
      ports,
    }),
  );
}, 180_000);

/** EndpointSlice ports as the controller derives them from the Service's named target ports. */
function slicePorts(service: K8sObject): { name: string; port: number; protocol: string }[] {
  const containerPorts: Record<string, number> = { http: 8080, admin: 9090 };
  return ((service.spec as { ports: { name: string; targetPort: string }[] }).ports ?? []).map((p) => ({
    name: p.name,
    port: containerPorts[p.targetPort] ?? Number(p.targetPort),
    protocol: 'TCP',
  }));
}

afterAll(async () => {
  await operator?.stop('SIGKILL');
  await dataplane?.stop('SIGKILL');
  await proxy?.close();
  await upstream?.close();
  await cluster?.stop();
});

describe('operator under the chart RBAC', () => {
  it('all namespaces (ClusterRole): reconciles, pushes, and uses exactly the permissions granted', async () => {
    const objects = installed();
    expect(objects.filter((o) => o.kind === 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([`${NS}/tollgate-operator`]);
    oldUsageReport('team-a');
    proxy.calls.length = 0;
    operator = startOperatorFromChart(objects);
    try {
      dataplane = await startDataplaneFromChart(objects);
      await fullCycle(['team-a']);
      // The Secrets the operator made go with its ServiceAccount (helm uninstall; the garbage collector deletes them).
      for (const name of ['tollgate-api-key-hash', 'tollgate-ca', 'tollgate-dataplane-tls']) {
        const owners = (JSON.parse(kubectl(['get', 'secret', name, '-n', NS, '-o', 'json'])) as { metadata: { ownerReferences?: { kind: string; name: string }[] } }).metadata.ownerReferences;
        expect(owners?.map((o) => `${o.kind}/${o.name}`), name).toEqual(['ServiceAccount/tollgate-operator']);
      }
    } catch (err) {
      throw new Error(failure(err));
    }
    await checkRbac(objects);
  });

  it('watchNamespaces (a Role per namespace): reconciles only those namespaces, with exactly the permissions granted', async () => {
    helmOk(['upgrade', 'tollgate', CHART, '-n', NS, '--reuse-values', '--set', 'watchNamespaces={team-b,team-c}'], cluster.kubeconfig);
    const objects = installed();
    expect(objects.filter((o) => o.kind === 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      `team-b/tollgate-operator-${NS}`,
      `team-c/tollgate-operator-${NS}`,
      `${NS}/tollgate-operator`,
    ]);
    // A fresh Lease, so that this run creates it again (the previous run released it).
    kubectl(['delete', 'lease', 'tollgate-operator', '-n', NS]);
    // And none of the installation's Secrets (API key hash key, channel CA and certificate), so that this run creates them again too.
    kubectl(['delete', 'secret', 'tollgate-api-key-hash', 'tollgate-ca', 'tollgate-dataplane-tls', '-n', NS]);
    await dataplane?.stop('SIGKILL');
    for (const ns of ['team-b', 'team-c']) oldUsageReport(ns);
    proxy.calls.length = 0;
    operator = startOperatorFromChart(objects);
    try {
      dataplane = await startDataplaneFromChart(objects);
      await fullCycle(['team-b', 'team-c']);
      // team-a is not watched any more: its route left the snapshot.
      await eventually(async () => expect(await chat('chat-team-a', 'team-a').catch((e: { status?: number }) => e.status)).toBe(404), 'team-a to be dropped');
    } catch (err) {
      throw new Error(failure(err));
    }
    await checkRbac(objects);
  });
});
