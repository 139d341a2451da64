// The chart: lint, render (defaults and every optional feature), values-schema refusals, and the
// rendered manifests on a real kube-apiserver (server-side dry run, then for real), `helm install`
// and `helm upgrade`. No controllers run there, so nothing waits for a rollout.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE_REPORT_ALLOWANCE_MS } from '../../dataplane/main/shutdown-deadline.js';
import { TOLLGATE_VERSION } from '../../dataplane/telemetry/tracing-config.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';
import { type Cluster, startCluster } from '../cluster/cluster.js';
import { kubectlWith } from './harness.js';
import { ALL_FEATURES, at, CHART, find, helm, helmOk, type K8sObject, KUBE_VERSION, parseManifests, render, toYaml } from './helm-support.js';

const NS = 'tollgate-system';
const work = mkdtempSync(join(tmpdir(), 'tollgate-helm-chart-'));

interface Probe {
  httpGet: { path: string; port: string; scheme?: string };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

/** The longest event-loop stall a probe rides out: probes started in its first (stall - timeout) s fail (Kubernetes defaults 10 / 1 / 3). */
const stallTolerated = (p: Probe): number => (p.timeoutSeconds ?? 1) + ((p.failureThreshold ?? 3) - 1) * (p.periodSeconds ?? 10);

interface Container {
  name: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports: { name: string; containerPort: number }[];
  securityContext: Record<string, unknown>;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}

const podSpec = (d: K8sObject) => at<Record<string, unknown>>(d, 'spec.template.spec');
const container = (d: K8sObject) => at<Container>(d, 'spec.template.spec.containers.0');
const deployments = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Deployment');

/** Writes a values file and returns its path. */
function valuesFile(name: string, content: string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

describe('helm lint and template', () => {
  it('lints strictly with default values and with every optional feature on', () => {
    for (const extra of [[], ['-f', ALL_FEATURES]]) {
      const r = helm(['lint', '--strict', CHART, '--kube-version', KUBE_VERSION, ...extra]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('renders without --kube-version: the helm build stamps the Kubernetes version of its release build', () => {
    // helm built without its release ldflags reports v1.20, below the chart's kubeVersion (>=1.28).
    const r = helm(['template', 't', CHART]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('renders a production-shaped default: two operators, two data planes, Services, PDBs, token Secret, NetworkPolicies, channel TLS', () => {
    const objects = render();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        'ClusterRole/tollgate-operator-tollgate-system',
        'ClusterRoleBinding/tollgate-operator-tollgate-system',
        'ClusterRole/tollgate-dataplane-tollgate-system',
        'ClusterRoleBinding/tollgate-dataplane-tollgate-system',
        'Deployment/tollgate-dataplane',
        'Deployment/tollgate-operator',
        'NetworkPolicy/tollgate-dataplane',
        'NetworkPolicy/tollgate-operator',
        'PodDisruptionBudget/tollgate-dataplane',
        'PodDisruptionBudget/tollgate-operator',
        'Role/tollgate-operator',
        'RoleBinding/tollgate-operator',
        'Secret/tollgate-admin-token',
        'Secret/tollgate-metrics-token',
        'Service/tollgate',
        'Service/tollgate-dataplane',
        'Service/tollgate-operator',
        'ServiceAccount/tollgate-dataplane',
        'ServiceAccount/tollgate-operator',
      ].sort(),
    );
    expect(at(find(objects, 'Deployment', 'tollgate-operator'), 'spec.replicas')).toBe(2);
    expect(at(find(objects, 'Deployment', 'tollgate-dataplane'), 'spec.replicas')).toBe(2);

    // Workloads call http://tollgate.<ns>.svc: port 80 to the public port.
    const client = find(objects, 'Service', 'tollgate');
    expect(at(client, 'spec.type')).toBe('ClusterIP');
    expect(at(client, 'spec.ports')).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    // The operator finds pods through this Service; its admin port must be named admin.
    const discovery = find(objects, 'Service', 'tollgate-dataplane');
    expect(at<{ name: string }[]>(discovery, 'spec.ports').map((p) => p.name)).toContain('admin');

    const dp = container(find(objects, 'Deployment', 'tollgate-dataplane'));
    expect(dp.args).toEqual([
      'dataplane',
      '--port=8080',
      '--admin-port=9090',
      '--drain-timeout=30',
      '--auth-cache-ttl=60',
      '--max-body-bytes=10485760',
      '--max-inflight-body-bytes=67108864',
      '--max-json-elements=100000',
      '--max-inflight-response-bytes=134217728',
      '--operator-url=https://tollgate-operator.tollgate-system.svc:9091',
      '--token-file=/var/run/tollgate/admin-token/token',
      '--metrics-token-file=/var/run/tollgate/metrics-token/token',
      '--admin-tls-cert=/var/run/tollgate/tls/tls.crt',
      '--admin-tls-key=/var/run/tollgate/tls/tls.key',
      '--operator-ca=/var/run/tollgate/tls/ca.crt',
      '--require-identity',
    ]);
    expect(dp.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'admin', scheme: 'HTTPS' });
    // The data planes mount the certificate Secret the operator makes; they start once it exists.
    expect(podSpec(find(objects, 'Deployment', 'tollgate-dataplane')).volumes).toContainEqual(
      expect.objectContaining({ name: 'channel-tls', secret: expect.objectContaining({ secretName: 'tollgate-dataplane-tls' }) }),
    );
    const op = container(find(objects, 'Deployment', 'tollgate-operator'));
    expect(op.args).toEqual([
      'operator',
      '--port=9091',
      '--dataplane-service=tollgate-dataplane',
      '--token-file=/var/run/tollgate/admin-token/token',
      '--metrics-token-file=/var/run/tollgate/metrics-token/token',
      '--previous-token-file=/var/run/tollgate/admin-token-previous/token',
      '--api-key-hash-secret=tollgate-api-key-hash',
      '--owner-service-account=tollgate-operator',
      '--lease-name=tollgate-operator',
      '--retention-interval=600',
      '--managed-tls',
      '--tls-secret-prefix=tollgate',
      '--operator-service=tollgate-operator',
    ]);
    // The previous admin token of a rotation (docs/upgrade.md): an optional key, absent otherwise.
    expect(podSpec(find(objects, 'Deployment', 'tollgate-operator')).volumes).toContainEqual(
      expect.objectContaining({ name: 'admin-token-previous', secret: expect.objectContaining({ secretName: 'tollgate-admin-token', optional: true, items: [{ key: 'previous', path: 'token' }] }) }),
    );
    expect(op.env?.map((e) => e.name)).toEqual(['POD_NAMESPACE', 'POD_NAME', 'LOG_LEVEL']);
    // The data plane verifies callers' ServiceAccount tokens (TokenReview) with its own, and may do nothing else.
    expect(podSpec(find(objects, 'Deployment', 'tollgate-dataplane')).automountServiceAccountToken).toBe(true);
    expect(at(find(objects, 'ClusterRole', 'tollgate-dataplane-tollgate-system'), 'rules')).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    ]);
    expect(Buffer.from(at<string>(find(objects, 'Secret', 'tollgate-admin-token'), 'data.token'), 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
  });

  it('budgets.mode exact gives the data planes and the operator the budget mode and Redis; the data planes require identity', () => {
    const objects = render({ set: ['budgets.mode=exact', 'budgets.holdTimeoutSeconds=45', 'redis.url=redis://redis.platform.svc:6379/0'] });
    for (const name of ['tollgate-dataplane', 'tollgate-operator']) {
      const env = Object.fromEntries((container(find(objects, 'Deployment', name)).env ?? []).map((e) => [e.name, e.value]));
      expect(env, name).toMatchObject({ TOLLGATE_BUDGET_MODE: 'exact', TOLLGATE_BUDGET_HOLD_TIMEOUT_MS: '45000', TOLLGATE_REDIS_URL: 'redis://redis.platform.svc:6379/0' });
    }
    expect(container(find(objects, 'Deployment', 'tollgate-dataplane')).args).toContain('--require-identity');
    const noToken = render({ set: ['dataplane.serviceAccount.automountToken=false'] });
    expect(container(find(noToken, 'Deployment', 'tollgate-dataplane')).args).not.toContain('--require-identity');
    const r = helm(['template', 't', CHART, '--set', 'budgets.mode=exact']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('budgets.mode exact needs Redis');
  });

  it('gives both components the egress allowlist, and refuses an entry that is not a host name', () => {
    const objects = render({ set: ['egress.allowedHosts={llm.example.com,*.example.net}', 'egress.allowedCIDRs={10.244.0.0/16}'] });
    for (const name of ['tollgate-dataplane', 'tollgate-operator']) {
      const env = Object.fromEntries((container(find(objects, 'Deployment', name)).env ?? []).map((e) => [e.name, e.value]));
      expect(env, name).toMatchObject({ TOLLGATE_EGRESS_ALLOW_HOSTS: 'llm.example.com,*.example.net', TOLLGATE_EGRESS_ALLOW_CIDRS: '10.244.0.0/16' });
    }
    const r = helm(['template', 't', CHART, '--set', 'egress.allowedHosts={http://llm.example.com}']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('egress.allowedHosts.0');
  });

  it('passes the request body limits as whole numbers, however large', () => {
    const d = find(render({ set: ['dataplane.maxRequestBodyBytes=33554432', 'dataplane.maxInflightRequestBodyBytes=4294967296'] }), 'Deployment', 'tollgate-dataplane');
    expect(container(d).args).toEqual(expect.arrayContaining(['--max-body-bytes=33554432', '--max-inflight-body-bytes=4294967296']));
  });

  it('refuses an in-flight body limit below the largest body (the data plane would not start)', () => {
    const r = helm(['template', 't', CHART, '--kube-version', KUBE_VERSION, '--set', 'dataplane.maxInflightRequestBodyBytes=1048576']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('dataplane.maxInflightRequestBodyBytes (1048576) must be at least dataplane.maxRequestBodyBytes (10485760)');
    const equal = find(render({ set: ['dataplane.maxInflightRequestBodyBytes=10485760'] }), 'Deployment', 'tollgate-dataplane');
    expect(container(equal).args).toContain('--max-inflight-body-bytes=10485760');
  });

  it('refuses equal public and admin ports (the data plane would fail to listen on the second and crash-loop)', () => {
    for (const set of ['dataplane.port=9090', 'dataplane.adminPort=8080']) {
      const r = helm(['template', 't', CHART, '--kube-version', KUBE_VERSION, '--set', set]);
      expect(r.status, set).not.toBe(0);
      expect(r.stderr).toMatch(/dataplane.port and dataplane.adminPort must differ \(both (9090|8080)\)/);
    }
    expect(container(find(render({ set: ['dataplane.port=8000', 'dataplane.adminPort=9000'] }), 'Deployment', 'tollgate-dataplane')).args).toEqual(expect.arrayContaining(['--port=8000', '--admin-port=9000']));
  });

  it('refuses a ServiceMonitor scrapeTimeout above its interval (the Prometheus Operator skips such a ServiceMonitor: no metrics)', () => {
    const r = helm(['template', 't', CHART, '--kube-version', KUBE_VERSION, '--set', 'serviceMonitor.enabled=true', '--set', 'serviceMonitor.interval=1m30s', '--set', 'serviceMonitor.scrapeTimeout=90001ms']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('serviceMonitor.scrapeTimeout (90001ms) must not exceed serviceMonitor.interval (1m30s)');
    const equal = render({ set: ['serviceMonitor.enabled=true', 'serviceMonitor.interval=1m30s', 'serviceMonitor.scrapeTimeout=90s'] });
    expect(at(find(equal, 'ServiceMonitor', 'tollgate-operator'), 'spec.endpoints.0')).toMatchObject({ interval: '1m30s', scrapeTimeout: '90s' });
    // Only checked when the ServiceMonitors are rendered.
    expect(helm(['template', 't', CHART, '--kube-version', KUBE_VERSION, '--set', 'serviceMonitor.scrapeTimeout=1m']).status).toBe(0);
  });

  it('leaves --single-threaded-gc off by default (the entrypoint\'s default), and turns it on with dataplane.singleThreadedGc on', () => {
    const gcEnv = (objects: K8sObject[]) => container(find(objects, 'Deployment', 'tollgate-dataplane')).env?.find((e) => e.name === 'TOLLGATE_SINGLE_THREADED_GC');
    expect(gcEnv(render())).toBeUndefined();
    expect(gcEnv(render({ set: ['dataplane.singleThreadedGc=off'] }))).toBeUndefined();
    expect(gcEnv(render({ set: ['dataplane.singleThreadedGc=on'] }))).toEqual({ name: 'TOLLGATE_SINGLE_THREADED_GC', value: 'on' });
    for (const value of ['auto', 'yes']) expect(helm(['template', 't', CHART, '--kube-version', KUBE_VERSION, '--set', `dataplane.singleThreadedGc=${value}`]).stderr).toMatch(/singleThreadedGc/);
  });

  it('issues the channel certificates with cert-manager when asked, and speaks plain HTTP only when TLS is turned off', () => {
    const cm = render({ set: ['tls.certManager.enabled=true', 'tls.certManager.issuerRef.name=channel-ca'] });
    expect(cm.filter((o) => o.kind === 'Certificate').map((o) => at<string>(o, 'spec.secretName')).sort()).toEqual(['tollgate-dataplane-tls', 'tollgate-operator-tls']);
    expect(at<string[]>(find(cm, 'Certificate', 'tollgate-operator-tls'), 'spec.dnsNames')).toContain('tollgate-operator.tollgate-system.svc');
    const opArgs = container(find(cm, 'Deployment', 'tollgate-operator')).args;
    expect(opArgs).toEqual(expect.arrayContaining(['--tls-cert=/var/run/tollgate/tls/tls.crt', '--dataplane-ca=/var/run/tollgate/tls/ca.crt']));
    expect(opArgs).not.toContain('--managed-tls');
    expect(helm(['template', 't', CHART, '--kube-version', KUBE_VERSION, '--set', 'tls.certManager.enabled=true']).stderr).toMatch(/needs tls.certManager.issuerRef.name/);
    // cert-manager asked for, TLS off: refused, where it used to render a plain-HTTP channel and no Certificate.
    expect(helm(['template', 't', CHART, '--kube-version', KUBE_VERSION, '--set', 'tls.certManager.enabled=true', '--set', 'tls.certManager.issuerRef.name=channel-ca', '--set', 'tls.enabled=false']).stderr).toContain('tls.certManager.enabled needs tls.enabled');
    // cert-manager refuses a commonName over 64 bytes: the Service name in a long namespace is one. The dnsNames name it.
    const longNamespace = 'team-llm-gateway-production-europe-west1-b'.padEnd(50, 'x');
    for (const c of render({ namespace: longNamespace, set: ['tls.certManager.enabled=true', 'tls.certManager.issuerRef.name=channel-ca'] }).filter((o) => o.kind === 'Certificate')) {
      expect(at(c, 'spec.commonName'), c.metadata.name).toBeUndefined();
      expect(at<string[]>(c, 'spec.dnsNames')[0]).toMatch(new RegExp(`^tollgate-(dataplane|operator)\\.${longNamespace}\\.svc$`));
    }

    const plain = render({ set: ['tls.enabled=false'] });
    const dp = container(find(plain, 'Deployment', 'tollgate-dataplane'));
    expect(dp.args).toContain('--operator-url=http://tollgate-operator.tollgate-system.svc:9091');
    expect(dp.args.some((a) => a.startsWith('--admin-tls'))).toBe(false);
    expect(dp.readinessProbe?.httpGet.scheme).toBe('HTTP');
    expect(container(find(plain, 'Deployment', 'tollgate-operator')).args).not.toContain('--managed-tls');
  });

  it('gives the data plane a grace period covering preStop, the drain, the usage-report allowance and exit', () => {
    for (const [values, expected] of [
      [[], 50],
      [[ALL_FEATURES], 150],
    ] as const) {
      const d = find(render({ values: [...values] }), 'Deployment', 'tollgate-dataplane');
      const drain = Number(container(d).args.find((a) => a.startsWith('--drain-timeout='))?.split('=')[1]);
      const preStop = Number(container(d).lifecycle?.preStop?.exec?.command[1]);
      expect(podSpec(d).terminationGracePeriodSeconds).toBe(expected);
      // The process stops reporting usage USAGE_REPORT_ALLOWANCE_MS after the drain timeout, then exits.
      expect(expected).toBeGreaterThanOrEqual(preStop + drain + USAGE_REPORT_ALLOWANCE_MS / 1000 + 5);
    }
    // Longer than preStop + drain, but without the time to report usage: refused.
    const r = helm(['template', 't', CHART, '--kube-version', KUBE_VERSION, '--set', 'dataplane.drainTimeoutSeconds=60', '--set', 'dataplane.terminationGracePeriodSeconds=70']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('dataplane.terminationGracePeriodSeconds (70) must be at least dataplane.preStopDelaySeconds + dataplane.drainTimeoutSeconds + 15 (80');
    expect(container(find(render({ set: ['dataplane.drainTimeoutSeconds=60', 'dataplane.terminationGracePeriodSeconds=80'] }), 'Deployment', 'tollgate-dataplane')).args).toContain('--drain-timeout=60');
  });

  it('lets outside callers through the NetworkPolicy when the Service is a LoadBalancer or NodePort, unless clientsFrom says who', () => {
    const publicFrom = (objects: K8sObject[]) =>
      at<{ ports: { port: string }[]; from: Record<string, unknown>[] }[]>(find(objects, 'NetworkPolicy', 'tollgate-dataplane'), 'spec.ingress').find((r) => r.ports.some((p) => p.port === 'http'))?.from;
    expect(publicFrom(render())).toEqual([{ namespaceSelector: {} }]);
    for (const type of ['LoadBalancer', 'NodePort']) {
      expect(publicFrom(render({ set: [`service.type=${type}`] })), type).toEqual([{ namespaceSelector: {} }, { ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }]);
    }
    const narrowed = render({ set: ['service.type=LoadBalancer', 'networkPolicy.clientsFrom[0].ipBlock.cidr=203.0.113.0/24'] });
    expect(publicFrom(narrowed)).toEqual([{ ipBlock: { cidr: '203.0.113.0/24' } }]);
  });

  it('spreads each Deployment over nodes by default (ScheduleAnyway, its own pods), and takes [] or a list of one\'s own instead', () => {
    for (const [name, component] of [['tollgate-operator', 'operator'], ['tollgate-dataplane', 'dataplane']] as const) {
      expect(podSpec(find(render(), 'Deployment', name)).topologySpreadConstraints, name).toEqual([
        {
          maxSkew: 1,
          topologyKey: 'kubernetes.io/hostname',
          whenUnsatisfiable: 'ScheduleAnyway',
          matchLabelKeys: ['pod-template-hash'],
          labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'tollgate', 'app.kubernetes.io/instance': 'tollgate', 'app.kubernetes.io/component': component } },
        },
      ]);
      const off = valuesFile(`spread-off-${component}.yaml`, `${component}:\n  topologySpreadConstraints: []\n`);
      expect(podSpec(find(render({ values: [off] }), 'Deployment', name)).topologySpreadConstraints, name).toBeUndefined();
      const zones = valuesFile(`spread-zones-${component}.yaml`, `${component}:\n  topologySpreadConstraints:\n    - { maxSkew: 2, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule }\n`);
      expect(at(find(render({ values: [zones] }), 'Deployment', name), 'spec.template.spec.topologySpreadConstraints.0')).toMatchObject({ maxSkew: 2, topologyKey: 'topology.kubernetes.io/zone' });
      expect(at<unknown[]>(find(render({ values: [zones] }), 'Deployment', name), 'spec.template.spec.topologySpreadConstraints')).toHaveLength(1);
    }
  });

  it.each([
    ['operator-managed TLS', [], ['tollgate-api-key-hash', 'tollgate-ca', 'tollgate-dataplane-tls']],
    ['cert-manager, an existing API key hash Secret', ['tls.certManager.enabled=true', 'tls.certManager.issuerRef.name=ca', 'apiKeyHash.existingSecret=hash-key'], ['hash-key']],
    ['no TLS', ['tls.enabled=false'], ['tollgate-api-key-hash']],
  ])("grants the operator get and update in the release namespace only on the objects it names (%s)", (_name, set, secrets) => {
    const objects = render({ set });
    const rules = at<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[]>(find(objects, 'Role', 'tollgate-operator', NS), 'rules');
    const args = container(find(objects, 'Deployment', 'tollgate-operator')).args;
    // Before: get on every Secret and get/update on every Lease of the namespace.
    for (const r of rules) {
      const named = r.verbs.filter((v) => !['create', 'list', 'watch'].includes(v));
      if (named.length > 0) expect(r.resourceNames, `${r.verbs.join(',')} ${r.resources.join(',')}`).toBeDefined();
    }
    const namesOf = (resource: string, verb: string) => rules.filter((r) => r.resources.includes(resource) && r.verbs.includes(verb)).flatMap((r) => r.resourceNames ?? ['*']);
    expect(namesOf('secrets', 'get').sort()).toEqual(secrets);
    expect(namesOf('secrets', 'create')).toEqual(['*']);
    // The names are the ones the operator is told to use.
    expect(namesOf('leases', 'get')).toEqual(['tollgate-operator']);
    expect(namesOf('leases', 'update')).toEqual(['tollgate-operator']);
    expect(args).toContain('--lease-name=tollgate-operator');
    expect(namesOf('serviceaccounts', 'get')).toEqual(['tollgate-operator']);
    expect(args).toContain('--owner-service-account=tollgate-operator');
    expect(args.find((a) => a.startsWith('--api-key-hash-secret='))).toBe(`--api-key-hash-secret=${secrets[0]}`);
  });

  it('carries one version: package.json, the chart, its appVersion, the default image tag and the spans (docs/upgrade.md#versions)', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const chart = yaml.load(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { version: string; appVersion: string };
    expect({ chart: chart.version, appVersion: chart.appVersion }).toEqual({ chart: pkg.version, appVersion: pkg.version });
    expect(TOLLGATE_VERSION).toBe(pkg.version);
    const operator = find(render(), 'Deployment', 'tollgate-operator');
    expect(operator.metadata.labels?.['helm.sh/chart']).toBe(`tollgate-${pkg.version}`);
    expect(operator.metadata.labels?.['app.kubernetes.io/version']).toBe(pkg.version);
    expect(at<string>(operator, 'spec.template.spec.containers.0.image')).toMatch(new RegExp(`:${pkg.version.replaceAll('.', '\\.')}$`));
  });

  it('gives each release its own Lease, and a renamed one the old name as a legacy Lease (rolling upgrade from 0.1.x)', () => {
    // Before: every release's operator campaigned for `tollgate-operator`, so a second release in the
    // namespace never led (or, with clock trouble, both did).
    const objects = render({ set: ['fullnameOverride=team'] });
    const rules = at<{ resources: string[]; verbs: string[]; resourceNames?: string[] }[]>(find(objects, 'Role', 'team-operator', NS), 'rules');
    const named = rules.filter((r) => r.resources.includes('leases') && r.verbs.includes('update')).flatMap((r) => r.resourceNames ?? ['*']);
    expect(named.sort()).toEqual(['team-operator', 'tollgate-operator']);
    const args = container(find(objects, 'Deployment', 'team-operator')).args;
    expect(args).toContain('--lease-name=team-operator');
    expect(args).toContain('--legacy-lease-name=tollgate-operator');
    // The default name keeps its Lease, and needs no legacy one.
    expect(container(find(render(), 'Deployment', 'tollgate-operator')).args.filter((a) => a.includes('lease'))).toEqual(['--lease-name=tollgate-operator']);
  });

  it('keeps a data plane in the Service through a multi-second stall, and restarts none that is merely busy', () => {
    const dp = container(find(render(), 'Deployment', 'tollgate-dataplane'));
    const ready = dp.readinessProbe;
    const live = dp.livenessProbe;
    if (ready === undefined || live === undefined) throw new Error('data-plane probes missing');
    // Before: one probe unanswered for 2 s (a GC pause, a large body parsed under a CPU limit) took the pod out.
    expect(stallTolerated(ready)).toBeGreaterThanOrEqual(5);
    // A hung pod is still out soon: the last failing probe starts failureThreshold periods in and times out.
    expect((ready.failureThreshold ?? 3) * (ready.periodSeconds ?? 10) + (ready.timeoutSeconds ?? 1)).toBeLessThanOrEqual(10);
    // Liveness asks the process only (/healthz: no upstream, Redis or operator) and outlasts readiness by far.
    expect(live.httpGet.path).toBe('/healthz');
    expect(stallTolerated(live)).toBeGreaterThanOrEqual(3 * stallTolerated(ready));
  });

  it.each([
    ['defaults', []],
    ['every optional feature', [ALL_FEATURES]],
  ])('runs every pod restricted, with resources and probes (%s)', (_name, values) => {
    const objects = render({ values });
    for (const d of deployments(objects)) {
      const spec = podSpec(d);
      expect(spec.securityContext, d.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of at<Container[]>(d, 'spec.template.spec.containers')) {
        expect(c.securityContext, c.name).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources.requests?.cpu, c.name).toBeDefined();
        expect(c.resources.requests?.memory, c.name).toBeDefined();
        expect(c.resources.limits?.memory, c.name).toBeDefined();
        expect(c.readinessProbe, c.name).toBeDefined();
        expect(c.livenessProbe, c.name).toBeDefined();
      }
      // Every selector picks exactly its own pods.
      const labels = at<Record<string, string>>(d, 'spec.template.metadata.labels');
      expect(labels).toMatchObject(at<Record<string, string>>(d, 'spec.selector.matchLabels'));
    }
    // Unready pods serve nothing: a node drain may evict them even when none of the others is ready.
    for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) expect(at(pdb, 'spec.unhealthyPodEvictionPolicy'), pdb.metadata.name).toBe('AlwaysAllow');
    for (const s of objects.filter((o) => o.kind === 'Service' || o.kind === 'PodDisruptionBudget')) {
      const selector = at<Record<string, string>>(s, s.kind === 'Service' ? 'spec.selector' : 'spec.selector.matchLabels');
      const matched = deployments(objects).filter((d) => Object.entries(selector).every(([k, v]) => at<Record<string, string>>(d, 'spec.template.metadata.labels')[k] === v));
      expect(matched.length, `${s.kind} ${s.metadata.name}`).toBe(1);
    }
  });

  it('renders every optional feature: HPA, NetworkPolicies, ServiceMonitors, OTLP, Redis, per-namespace Roles', () => {
    const objects = render({ values: [ALL_FEATURES] });
    const dpDeploy = find(objects, 'Deployment', 'tollgate-dataplane');
    expect(at(dpDeploy, 'spec.replicas'), 'the HPA owns replicas').toBeUndefined();
    expect(at(find(objects, 'HorizontalPodAutoscaler', 'tollgate-dataplane'), 'spec')).toMatchObject({ minReplicas: 3, maxReplicas: 20 });
    expect(at(find(objects, 'PodDisruptionBudget', 'tollgate-dataplane'), 'spec.maxUnavailable')).toBe('25%');
    expect(at(dpDeploy, 'spec.template.spec.containers.0.image')).toBe(
      'registry.example.com/platform/tollgate@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );

    // Only the operator reaches the admin port (and the metrics scrapers, since scrapeDataplane is on).
    const np = find(objects, 'NetworkPolicy', 'tollgate-dataplane');
    const rules = at<{ ports: { port: string }[]; from: Record<string, unknown>[] }[]>(np, 'spec.ingress');
    const admin = rules.find((r) => r.ports.some((p) => p.port === 'admin'));
    expect(admin?.from[0]).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'tollgate', 'app.kubernetes.io/instance': 'tollgate', 'app.kubernetes.io/component': 'operator' } } });
    expect(rules.find((r) => r.ports.some((p) => p.port === 'http'))?.from).toEqual([{ namespaceSelector: { matchLabels: { 'tollgate.dev/client': 'true' } } }]);
    find(objects, 'NetworkPolicy', 'tollgate-operator');

    expect(objects.filter((o) => o.kind === 'ServiceMonitor').map((o) => o.metadata.name).sort()).toEqual(['tollgate-dataplane', 'tollgate-operator']);
    expect(find(objects, 'ServiceMonitor', 'tollgate-operator').metadata.labels?.release).toBe('prometheus');
    // Prometheus holds the read-only metrics token, never the admin token (which pulls and pushes snapshots).
    for (const name of ['tollgate-operator', 'tollgate-dataplane']) {
      expect(at(find(objects, 'ServiceMonitor', name), 'spec.endpoints.0.authorization.credentials')).toEqual({ name: 'tollgate-metrics-token', key: 'token' });
    }

    const env = container(dpDeploy).env ?? [];
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    expect(byName.OTEL_EXPORTER_OTLP_ENDPOINT?.value).toBe('http://otel-collector.observability.svc:4318');
    expect(byName.OTEL_EXPORTER_OTLP_HEADERS?.valueFrom).toEqual({ secretKeyRef: { name: 'otel-headers', key: 'headers' } });
    expect(byName.OTEL_TRACES_SAMPLER?.value).toBe('parentbased_traceidratio');
    expect(byName.OTEL_TRACES_SAMPLER_ARG?.value).toBe('0.25');
    expect(byName.TOLLGATE_REDIS_URL?.valueFrom).toEqual({ secretKeyRef: { name: 'tollgate-redis', key: 'url' } });
    expect(container(find(objects, 'Deployment', 'tollgate-operator')).args).toEqual(expect.arrayContaining(['--watch-namespaces=team-a,team-b', '--retention-interval=120']));

    // watchNamespaces: the ClusterRole keeps only the cluster-scoped namespaces rule; one Role per namespace.
    const clusterRules = at<{ resources: string[] }[]>(find(objects, 'ClusterRole', 'tollgate-operator-tollgate-system'), 'rules');
    expect(clusterRules.flatMap((r) => r.resources)).toEqual(['namespaces']);
    expect(objects.filter((o) => o.kind === 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'team-a/tollgate-operator-tollgate-system',
      'team-b/tollgate-operator-tollgate-system',
      'tollgate-system/tollgate-operator',
    ]);
    // The release namespace is not watched, so the data-plane EndpointSlices are granted there.
    const releaseRules = at<{ resources: string[] }[]>(find(objects, 'Role', 'tollgate-operator', NS), 'rules');
    expect([...new Set(releaseRules.flatMap((r) => r.resources))].sort()).toEqual(['endpointslices', 'leases', 'secrets', 'serviceaccounts']);
  });

  it.each([
    ['a misspelt key', ['operator.replica=3'], '- operator: Additional property replica is not allowed'],
    ['a misspelt top-level key', ['watchNamespace={a}'], '- (root): Additional property watchNamespace is not allowed'],
    ['a wrong type', ['dataplane.replicas=two'], '- dataplane.replicas: Invalid type. Expected: integer, given: string'],
    ['an unknown enum value', ['logLevel=verbose'], '- logLevel: logLevel must be one of the following: "fatal", "error", "warn", "info", "debug", "trace"'],
    ['an invalid namespace name', ['watchNamespaces={Team_A}'], "- watchNamespaces.0: Does not match pattern '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'"],
    ['a typo in resources', ['dataplane.resources.request.cpu=1'], '- dataplane.resources: Additional property request is not allowed'],
    ['a Redis URL with a password inline', ['redis.url=redis://:secret@redis:6379'], '- redis.url: Does not match pattern'],
    ['an image tag that is no tag (the pods would fail with InvalidImageName)', ['image.tag=1.0 beta'], '- image.tag: Does not match pattern'],
  ])('refuses %s with a readable message', (_name, set, message) => {
    const r = helm(['template', 't', CHART, '--kube-version', KUBE_VERSION, ...set.flatMap((s) => ['--set', s])]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema(s)");
    expect(r.stderr).toContain(message);
  });
});

describe('NOTES.txt', () => {
  /**
   * helm template leaves NOTES out and install needs a cluster: a copy of the chart renders the
   * notes into a ConfigMap, exactly as helm would print them after an install.
   */
  function renderNotes(set: string[] = [], extra: string[] = []): string {
    const chart = join(work, 'notes-chart');
    rmSync(chart, { recursive: true, force: true });
    cpSync(CHART, chart, { recursive: true });
    const notes = readFileSync(join(chart, 'templates', 'NOTES.txt'), 'utf8');
    rmSync(join(chart, 'templates', 'NOTES.txt'));
    writeFileSync(join(chart, 'templates', '_notes-dump.tpl'), `{{- define "notesdump" }}${notes}{{- end }}`);
    writeFileSync(join(chart, 'templates', 'zz-notes.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\ndata:\n  notes: {{ include "notesdump" . | toJson }}\n');
    const [configMap] = parseManifests(helmOk(['template', 'tollgate', chart, '-n', NS, '--kube-version', KUBE_VERSION, '--show-only', 'templates/zz-notes.yaml', ...set.flatMap((v) => ['--set', v]), ...extra]));
    return at<string>(configMap!, 'data.notes');
  }

  it('step 2 sends an API key, not a ServiceAccount token, when the data planes cannot verify tokens (automountToken false)', () => {
    const step2 = (printed: string) => /^2\. [\s\S]*?\nMore: /m.exec(printed)?.[0] ?? '';
    expect(step2(renderNotes())).toContain('create token default --audience tollgate');
    const withoutTokens = step2(renderNotes(['dataplane.serviceAccount.automountToken=false']));
    // Before, it said to send a ServiceAccount token, which such a data plane answers with 401.
    expect(withoutTokens).not.toContain('create token');
    expect(withoutTokens).toContain('label secret tollgate-try-key tollgate.dev/api-key=true');
    expect(withoutTokens).toContain('-H "authorization: Bearer $TOKEN"');
    expect(step2(renderNotes(['dataplane.serviceAccount.automountToken=false', 'secretLabelSelector=tollgate.dev/use=true']))).toContain('the labels of secretLabelSelector: tollgate.dev/use=true');
  });

  it('reminds an upgrade that helm does not update the CRDs, and how to apply them', () => {
    const apply = 'kubectl apply --server-side --force-conflicts -f charts/tollgate/crds/';
    expect(renderNotes()).not.toContain(apply);
    const upgraded = renderNotes([], ['--is-upgrade']);
    expect(upgraded).toMatch(/^Tollgate \S+ is upgraded in namespace tollgate-system\./);
    expect(upgraded).toContain('helm upgrade never updates the CRDs');
    expect(upgraded).toContain(apply);
  });

  it('says that the public port is plain HTTP when the Service is a LoadBalancer or NodePort (terminate TLS in front)', () => {
    expect(renderNotes()).not.toContain('plain HTTP');
    for (const type of ['LoadBalancer', 'NodePort']) {
      expect(renderNotes([`service.type=${type}`]), type).toContain(`The Service tollgate is a ${type}, and the gateway's public port speaks plain HTTP`);
    }
  });

  it('prints a step 1 that runs when pasted: the heredoc ends and its body is a Provider and a ModelRoute', () => {
    const printed = renderNotes();
    const step1 = /^1\. .*\n([\s\S]*?)\n2\. /m.exec(printed)?.[1] ?? '';
    expect(step1).toContain("cat <<'YAML' | kubectl apply -f -");

    // Run it as a user who pasted it would, with a kubectl that records what it was given.
    const bin = join(work, 'notes-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'kubectl'), `#!/bin/sh\necho "$*" >> ${join(work, 'kubectl-args')}\nif [ "$1 $2" = "apply -f" ]; then cat > ${join(work, 'applied.yaml')}; fi\n`, { mode: 0o755 });
    const run = spawnSync('bash', ['-e', '-c', step1], { encoding: 'utf8', timeout: 10_000, input: '', env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, OPENAI_API_KEY: 'sk-test' } });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(readFileSync(join(work, 'kubectl-args'), 'utf8').trim().split('\n').at(-1)).toMatch(/^-n team-a get providers,modelroutes/);
    const applied = loadManifests([{ path: 'step1', content: readFileSync(join(work, 'applied.yaml'), 'utf8') }]);
    expect(applied.errors).toEqual([]);
    expect([...applied.input.providers, ...applied.input.routes].map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'Provider/team-a/openai',
      'ModelRoute/team-a/chat-default',
    ]);
  });
});

describe('on a real kube-apiserver', () => {
  let cluster: Cluster;
  let kubectl: (args: string[], input?: string) => string;

  beforeAll(async () => {
    cluster = await startCluster();
    kubectl = (args, input) => kubectlWith(cluster.kubeconfig, args, input);
    for (const ns of [NS, 'team-a', 'team-b', 'apply-test']) kubectl(['create', 'namespace', ns]);
    // The Prometheus Operator is not installed: a stand-in ServiceMonitor CRD lets the manifests apply.
    kubectl(['apply', '-f', '-'], toYaml([serviceMonitorCrd()]));
    kubectl(['wait', '--for=condition=Established', 'crd/servicemonitors.monitoring.coreos.com', '--timeout=30s']);
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it.each([
    ['defaults', []],
    ['every optional feature', [ALL_FEATURES]],
  ])('accepts the rendered manifests in a server-side dry run (%s)', (_name, values) => {
    const manifests = toYaml(render({ values, includeCrds: true }));
    const out = kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=helm-test', '-f', '-'], manifests);
    expect(out).toMatch(/deployment.apps\/tollgate-dataplane serverside-applied \(server dry run\)/);
  });

  it('creates every rendered object for real (every optional feature on)', () => {
    const objects = render({ values: [ALL_FEATURES], namespace: 'apply-test', includeCrds: true });
    kubectl(['apply', '--server-side', '--field-manager=helm-test', '-f', '-'], toYaml(objects));
    // `kubectl get -f` fails unless every object exists.
    const names = kubectl(['get', '-f', '-', '-o', 'name'], toYaml(objects)).trim().split('\n');
    expect(names.length).toBe(objects.length);
    expect(names).toContain('deployment.apps/tollgate-dataplane');
    expect(names).toContain('servicemonitor.monitoring.coreos.com/tollgate-operator');
  });

  it('pod templates pass the Pod Security Standard "restricted" in enforce mode', () => {
    kubectl(['create', 'namespace', 'psa-restricted']);
    kubectl(['label', 'namespace', 'psa-restricted', 'pod-security.kubernetes.io/enforce=restricted']);
    for (const values of [[], [ALL_FEATURES]]) {
      for (const d of deployments(render({ values, namespace: 'psa-restricted' }))) {
        const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: d.metadata.name, namespace: 'psa-restricted' }, spec: podSpec(d) };
        const out = kubectl(['create', '--dry-run=server', '-f', '-'], toYaml([pod]));
        expect(out).toContain(`pod/${d.metadata.name} created (server dry run)`);
      }
    }
    // A container without the restricted settings is refused there, so the check above means something.
    const bad = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad', namespace: 'psa-restricted' }, spec: { containers: [{ name: 'c', image: 'x' }] } };
    expect(() => kubectl(['create', '--dry-run=server', '-f', '-'], toYaml([bad]))).toThrow(/violates PodSecurity "restricted/);
  });

  it('refuses a values-schema violation at install, creating nothing', () => {
    const r = helm(['install', 'typo', CHART, '-n', 'team-b', '--set', 'dataplane.replica=3'], cluster.kubeconfig);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('- dataplane: Additional property replica is not allowed');
    expect(helmOk(['list', '-n', 'team-b', '-q'], cluster.kubeconfig).trim()).toBe('');
  });

  it('installs with helm, and an upgrade keeps the generated admin token unchanged', () => {
    const installed = helmOk(['install', 'tollgate', CHART, '-n', NS], cluster.kubeconfig);
    // NOTES.txt: how to apply a first Provider and ModelRoute, and how to call the gateway from a pod.
    expect(installed).toContain('kind: Provider');
    expect(installed).toContain('kind: ModelRoute');
    expect(installed).toContain('curl -s http://tollgate.tollgate-system.svc/v1/chat/completions');
    expect(installed).toContain('create token default --audience tollgate');
    writeFileSync(join(work, 'NOTES.txt'), installed);
    kubectl(['wait', '--for=condition=Established', 'crd/providers.tollgate.dev', 'crd/modelroutes.tollgate.dev', 'crd/budgets.tollgate.dev', '--timeout=30s']);
    const secret = () => JSON.parse(kubectl(['get', 'secret', 'tollgate-admin-token', '-n', NS, '-o', 'json'])) as { data: { token: string }; metadata: { uid: string } };
    const before = secret();

    const values = valuesFile('upgrade.yaml', 'dataplane:\n  replicas: 3\n  drainTimeoutSeconds: 90\nlogLevel: debug\n');
    helmOk(['upgrade', 'tollgate', CHART, '-n', NS, '-f', values], cluster.kubeconfig);
    const after = secret();
    expect(after.data.token).toBe(before.data.token);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    const deploy = JSON.parse(kubectl(['get', 'deployment', 'tollgate-dataplane', '-n', NS, '-o', 'json'])) as K8sObject;
    expect(at(deploy, 'spec.replicas')).toBe(3);
    expect(at(deploy, 'spec.template.spec.terminationGracePeriodSeconds')).toBe(110);

    // A second upgrade that changes nothing keeps the token and the pod template.
    const template = JSON.stringify(at(deploy, 'spec.template'));
    helmOk(['upgrade', 'tollgate', CHART, '-n', NS, '--reuse-values'], cluster.kubeconfig);
    expect(secret().data.token).toBe(before.data.token);
    const again = JSON.parse(kubectl(['get', 'deployment', 'tollgate-dataplane', '-n', NS, '-o', 'json'])) as K8sObject;
    expect(JSON.stringify(at(again, 'spec.template'))).toBe(template);
  });

  it("keeps the data plane's replicas when an upgrade turns autoscaling on (Helm would patch them to null: 1 replica)", () => {
    const ns = 'hpa-switch';
    kubectl(['create', 'namespace', ns]);
    helmOk(['install', 'tollgate', CHART, '-n', ns, '--set', 'dataplane.replicas=3'], cluster.kubeconfig);
    const replicas = () => at((JSON.parse(kubectl(['get', 'deployment', 'tollgate-dataplane', '-n', ns, '-o', 'json'])) as K8sObject), 'spec.replicas');
    expect(replicas()).toBe(3);
    // No controllers run here, so nothing but the upgrade itself changes the count.
    helmOk(['upgrade', 'tollgate', CHART, '-n', ns, '--reuse-values', '--set', 'dataplane.autoscaling.enabled=true'], cluster.kubeconfig);
    expect(replicas()).toBe(3);
    kubectl(['get', 'hpa', 'tollgate-dataplane', '-n', ns]);
    // The HPA moved it since: the next upgrade keeps the HPA's count.
    kubectl(['scale', 'deployment', 'tollgate-dataplane', '-n', ns, '--replicas=5']);
    helmOk(['upgrade', 'tollgate', CHART, '-n', ns, '--reuse-values', '--set', 'logLevel=debug'], cluster.kubeconfig);
    expect(replicas()).toBe(5);
    helmOk(['uninstall', 'tollgate', '-n', ns], cluster.kubeconfig);
  });

  it('accepts examples/cluster/ once the chart installed the CRDs (server-side dry run)', () => {
    kubectl(['apply', '-f', 'examples/cluster/00-namespaces.yaml']);
    const out = kubectl(['apply', '--dry-run=server', '-f', 'examples/cluster/']);
    for (const o of ['provider.tollgate.dev/openai', 'provider.tollgate.dev/vllm', 'modelroute.tollgate.dev/chat-default', 'budget.tollgate.dev/team-a-monthly', 'deployment.apps/chat-client']) {
      expect(out).toContain(o);
    }
  });

  it('upgrades to watchNamespaces: namespaced Roles replace the cluster-wide rules', () => {
    helmOk(['upgrade', 'tollgate', CHART, '-n', NS, '--reuse-values', '--set', 'watchNamespaces={team-a,team-b}'], cluster.kubeconfig);
    const manifest = parseManifests(helmOk(['get', 'manifest', 'tollgate', '-n', NS], cluster.kubeconfig));
    expect(manifest.filter((o) => o.kind === 'Role').length).toBe(3);
    const clusterRole = JSON.parse(kubectl(['get', 'clusterrole', 'tollgate-operator-tollgate-system', '-o', 'json'])) as { rules: { resources: string[] }[] };
    expect(clusterRole.rules.flatMap((r) => r.resources)).toEqual(['namespaces']);
    // kubectl auth can-i prints yes or no (and exits 1 on no).
    const can = (verb: string, resource: string, ns: string, ...extra: string[]) =>
      spawnSync('kubectl', ['auth', 'can-i', verb, resource, ...extra, '-n', ns, '--as', `system:serviceaccount:${NS}:tollgate-operator`], {
        encoding: 'utf8',
        env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
      }).stdout.trim();
    for (const ns of ['team-a', 'team-b']) {
      expect(can('watch', 'modelroutes.tollgate.dev', ns)).toBe('yes');
      expect(can('patch', 'modelroutes.tollgate.dev', ns, '--subresource=status')).toBe('yes');
      expect(can('patch', 'modelroutes.tollgate.dev', ns)).toBe('no');
      expect(can('list', 'secrets', ns)).toBe('yes');
      expect(can('get', 'secrets', ns)).toBe('no');
    }
    expect(can('list', 'secrets', 'default')).toBe('no');
    expect(can('list', 'modelroutes.tollgate.dev', 'default')).toBe('no');
  });
});

function serviceMonitorCrd(): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'servicemonitors.monitoring.coreos.com' },
    spec: {
      group: 'monitoring.coreos.com',
      names: { kind: 'ServiceMonitor', listKind: 'ServiceMonitorList', plural: 'servicemonitors', singular: 'servicemonitor' },
      scope: 'Namespaced',
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };
}
