// End to end on a real single-node cluster (make e2e: make cluster-up NODE=1, make image, then this
// file inside the node's network namespace), as a platform team and its workloads use Tollgate:
// helm install into a restricted namespace, CRDs applied with kubectl, a client pod calling the
// Service DNS name with the official `openai` client and its projected ServiceAccount token, an
// in-cluster vLLM Deployment scaled under load, faults under load, helm uninstall.
// docs/install.md describes exactly these steps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apply,
  clientLoad,
  clientOnce,
  conditionTrue,
  helm,
  helmOk,
  type KubeObject,
  kubectl,
  kubectlJson,
  kubectlOk,
  loadAdvances,
  phaseTimer,
  readyPods,
  waitFor,
} from './kube.js';

const NS = 'tollgate-system';
const CHART = 'charts/tollgate';
const BASE = `http://tollgate.${NS}.svc/v1`;
const TOKEN = '/var/run/secrets/tollgate/token';
const OTHER_TOKEN = '/var/run/secrets/other-audience/token';
// USD per million tokens; the emulators answer 3 completion tokens and count the prompt's words.
const PRICE = { input: 1000, output: 2000 };
const cost = (u: { prompt: number; completion: number }): number => (u.prompt * PRICE.input + u.completion * PRICE.output) / 1e6;
const INSTALL = ['--set', 'image.repository=tollgate', '--set', 'image.tag=dev'];
const phase = phaseTimer();
/**
 * The tests stop their load themselves; these bounds are a safety net past the test timeout (600 s)
 * at the client's pace (2 workers, at most ~50 requests/s each). Tighter ones (3000 or 5000
 * requests) could run out while a loaded node still rolled pods: the next loadAdvances then waited
 * for requests that never came.
 */
const LOAD_BOUNDS = { workers: 2, maxRequests: 60_000, maxSeconds: 600 };

const spent = (): number => Number(kubectlJson<KubeObject>(['-n', 'team-a', 'get', 'budget', 'team-a']).status?.spent ?? 0);

/** A ServiceAccount and an idle testkit pod with a projected token of audience tollgate (and one of another audience). */
function clientPod(ns: string): string {
  return `apiVersion: v1
kind: ServiceAccount
metadata: { name: chat-client, namespace: ${ns} }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: ${ns}, labels: { app: client } }
spec:
  serviceAccountName: chat-client
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: client
      image: tollgate-testkit:dev
      imagePullPolicy: IfNotPresent
      command: [sleep, infinity]
      # A CPU request, as a real workload has: a BestEffort pod on a loaded node stalls for seconds.
      resources: { requests: { cpu: 50m } }
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }
      volumeMounts:
        - { name: tollgate-token, mountPath: /var/run/secrets/tollgate, readOnly: true }
        - { name: other-token, mountPath: /var/run/secrets/other-audience, readOnly: true }
  volumes:
    - name: tollgate-token
      projected: { sources: [{ serviceAccountToken: { audience: tollgate, expirationSeconds: 3600, path: token } }] }
    - name: other-token
      projected: { sources: [{ serviceAccountToken: { audience: not-tollgate, expirationSeconds: 3600, path: token } }] }
`;
}

/** A Deployment of vLLM emulators (testkit image) and its Service on port 8000. */
function vllmDeployment(ns: string, name: string, model: string, replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${ns} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      terminationGracePeriodSeconds: 20
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: RuntimeDefault } }
      containers:
        - name: vllm
          image: tollgate-testkit:dev
          imagePullPolicy: IfNotPresent
          args: [test/node-e2e/pod/vllm-main.ts]
          env: [{ name: MODEL, value: "${model}" }]
          ports: [{ name: http, containerPort: 8000 }]
          # A slow answer under CPU starvation (BestEffort pod on a loaded node) is not a dead emulator:
          # with the 1 s default timeout it left its Service for a moment, and the gateway's
          # connection was refused (502 to the client).
          readinessProbe: { httpGet: { path: /health, port: 8000 }, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 5 }
          # Stay in service while the EndpointSlice drops the pod (the usual preStop pattern).
          lifecycle: { preStop: { exec: { command: [sleep, "3"] } } }
          # A CPU request, as a real model server has: starved as BestEffort on a loaded node, its
          # /health answered too late for the gateway's health check (503, no pod available).
          resources: { requests: { cpu: 50m } }
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }
---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 8000, targetPort: 8000 }]
`;
}

const namespaces = `apiVersion: v1
kind: Namespace
metadata:
  name: ${NS}
  labels: { pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/enforce-version: latest }
---
apiVersion: v1
kind: Namespace
metadata: { name: platform }
---
apiVersion: v1
kind: Namespace
metadata: { name: emulators }
---
apiVersion: v1
kind: Namespace
metadata: { name: team-a }
---
apiVersion: v1
kind: Namespace
metadata: { name: team-b }
`;

const governance = `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: emulated-openai, namespace: platform }
spec:
  type: openai-compatible
  url: http://openai.emulators.svc:8000/v1
  models:
    - name: gpt-e2e
      pricing: { input: ${PRICE.input}, output: ${PRICE.output} }
  allowedRoutes: { namespaces: { from: All } }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat, namespace: team-a }
spec:
  model: chat
  targets: [{ providerRef: { name: emulated-openai, namespace: platform }, model: gpt-e2e }]
---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: team-a, namespace: team-a }
spec:
  limit: { amount: 100000, unit: USD }
  period: Month
  subjects: { namespaces: [team-a] }
`;

const vllmProvider = `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: vllm, namespace: team-a }
spec:
  type: vllm
  serviceRef: { name: vllm, port: 8000, path: /v1 }
  models:
    - name: meta-llama/Llama-3.1-8B-Instruct
      pricing: { input: 0, output: 0 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: llama, namespace: team-a }
spec:
  model: llama
  targets: [{ providerRef: { name: vllm }, model: meta-llama/Llama-3.1-8B-Instruct }]
`;

const deploymentReady = (ns: string, name: string, replicas: number): true | undefined => {
  const d = kubectlJson<KubeObject & { status?: { readyReplicas?: number; updatedReplicas?: number; replicas?: number } }>(['-n', ns, 'get', 'deployment', name]);
  const s = d.status ?? {};
  return s.readyReplicas === replicas && s.updatedReplicas === replicas && s.replicas === replicas ? true : undefined;
};

beforeAll(async () => {
  kubectlOk(['get', 'nodes']);
  // On a kept node (TOLLGATE_E2E_KEEP=1) the last run's namespaces may still be terminating:
  // objects applied into one now are refused. Wait until each is gone or active.
  for (const ns of [NS, 'platform', 'emulators', 'team-a', 'team-b']) {
    await waitFor(`namespace ${ns} not terminating`, 180_000, () => {
      const r = kubectl(['get', 'namespace', ns, '-o', 'jsonpath={.status.phase}']);
      return r.status !== 0 || r.stdout !== 'Terminating' ? true : undefined;
    });
  }
  phase('cluster reachable');
});

afterAll(() => {
  // Leave the cluster as found when a step failed half way (cluster-down removes it anyway).
  helm(['uninstall', 'tollgate', '-n', NS, '--wait', '--timeout', '2m']);
  kubectl(['delete', 'namespace', 'team-a', 'team-b', 'platform', 'emulators', '--wait=false', '--ignore-not-found']);
});

describe('Tollgate on a real node', () => {
  it('helm install into a restricted namespace: 2 operators and 2 data planes become Ready', async () => {
    apply(namespaces);
    helmOk(['install', 'tollgate', CHART, '-n', NS, ...INSTALL, '--wait', '--timeout', '5m']);
    await waitFor('operator Deployment ready', 120_000, () => deploymentReady(NS, 'tollgate-operator', 2));
    await waitFor('data-plane Deployment ready', 120_000, () => deploymentReady(NS, 'tollgate-dataplane', 2));
    const pods = kubectlJson<{ items: (KubeObject & { spec: { containers: { securityContext: Record<string, unknown> }[] } })[] }>(['-n', NS, 'get', 'pods']);
    expect(pods.items).toHaveLength(4);
    for (const p of pods.items) {
      expect(conditionTrue(p, 'Ready'), p.metadata.name).toBe(true);
      expect(p.spec.containers[0]?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    }
    phase('helm install → every pod Ready');
  });

  it('Provider, ModelRoute and Budget applied with kubectl become Programmed, every printer column filled', async () => {
    apply(vllmDeployment('emulators', 'openai', 'gpt-e2e', 1));
    apply(governance);
    await waitFor('emulator ready', 120_000, () => deploymentReady('emulators', 'openai', 1));
    kubectlOk(['-n', 'team-a', 'wait', '--for=condition=Programmed', 'modelroute/chat', '--timeout=60s'], undefined, 70_000);
    kubectlOk(['-n', 'platform', 'wait', '--for=condition=ResolvedRefs', 'provider/emulated-openai', '--timeout=60s'], undefined, 70_000);
    await waitFor('Budget status', 60_000, () => (kubectlJson<KubeObject>(['-n', 'team-a', 'get', 'budget', 'team-a']).status?.spent !== undefined ? true : undefined));
    const table = kubectlOk(['get', 'providers,modelroutes,budgets', '-A']);
    console.log(table);
    expect(table).not.toContain('<none>');
    expect(table.trim().split('\n').filter((l) => !l.startsWith('NAMESPACE') && l.trim() !== '')).toHaveLength(3);
    phase('CRDs applied → Programmed');
  });

  it('a client pod calls the Service DNS name with the openai client and its projected token', async () => {
    apply(clientPod('team-a'));
    apply(clientPod('team-b'));
    kubectlOk(['-n', 'team-a', 'wait', '--for=condition=Ready', 'pod/client', '--timeout=120s'], undefined, 130_000);
    kubectlOk(['-n', 'team-b', 'wait', '--for=condition=Ready', 'pod/client', '--timeout=120s'], undefined, 130_000);

    const before = spent();
    const plain = clientOnce('team-a', 'client', BASE, 'chat', TOKEN);
    expect(plain, JSON.stringify(plain)).toMatchObject({ ok: true, content: 'Hello from vLLM' });
    const streamed = clientOnce('team-a', 'client', BASE, 'chat', TOKEN, true);
    expect(streamed, JSON.stringify(streamed)).toMatchObject({ ok: true, content: 'Hello from vLLM' });

    expect(clientOnce('team-a', 'client', BASE, 'chat', '-')).toMatchObject({ ok: false, status: 401 });
    expect(clientOnce('team-a', 'client', BASE, 'chat', OTHER_TOKEN)).toMatchObject({ ok: false, status: 401 });
    expect(clientOnce('team-b', 'client', BASE, 'chat', TOKEN)).toMatchObject({ ok: false, status: 403 });

    // usage × price of the two answered requests, exactly (the refused ones cost nothing).
    const expected = before + cost(plain.usage ?? { prompt: 0, completion: 0 }) + cost(streamed.usage ?? { prompt: 0, completion: 0 });
    expect(expected).toBeGreaterThan(before);
    await waitFor(`Budget.status.spent = ${expected}`, 30_000, () => (Math.abs(spent() - expected) < 1e-9 ? true : undefined));
    phase('client pod: stream, non-stream, 401, 401, 403, Budget');
  });

  it('in-cluster vLLM by serviceRef: scale 3 → 1 → 3 under load, no request fails', async () => {
    apply(vllmDeployment('team-a', 'vllm', 'meta-llama/Llama-3.1-8B-Instruct', 3));
    apply(vllmProvider);
    const endpoints = (): number => Number(kubectlJson<KubeObject>(['-n', 'team-a', 'get', 'provider', 'vllm']).status?.endpoints ?? 0);
    await waitFor('3 vLLM endpoints', 120_000, () => (endpoints() === 3 ? true : undefined));
    kubectlOk(['-n', 'team-a', 'wait', '--for=condition=Programmed', 'modelroute/llama', '--timeout=60s'], undefined, 70_000);

    const load = clientLoad('team-a', 'client', BASE, 'llama', TOKEN, LOAD_BOUNDS);
    await loadAdvances(load, 20);
    kubectlOk(['-n', 'team-a', 'scale', 'deployment/vllm', '--replicas=1']);
    await waitFor('1 vLLM endpoint', 60_000, () => (endpoints() === 1 ? true : undefined));
    await waitFor('scaled down to 1 pod', 60_000, () => (kubectlJson<{ items: unknown[] }>(['-n', 'team-a', 'get', 'pods', '-l', 'app=vllm']).items.length === 1 ? true : undefined));
    await loadAdvances(load, 20);
    kubectlOk(['-n', 'team-a', 'scale', 'deployment/vllm', '--replicas=3']);
    await waitFor('3 vLLM endpoints again', 120_000, () => (endpoints() === 3 ? true : undefined));
    await loadAdvances(load, 20);
    const r = await load.stop();
    console.log(`[e2e] vLLM scale: ${r.ok} requests answered, ${r.failed} failed`);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBeGreaterThanOrEqual(60);
    phase('vLLM 3 → 1 → 3 under load');
  });

  it('faults under load: a data-plane pod deleted, helm upgrade, the leader operator deleted; nothing fails, spend is exact', async () => {
    const before = spent();
    const load = clientLoad('team-a', 'client', BASE, 'chat', TOKEN, LOAD_BOUNDS);
    await loadAdvances(load, 20);

    const [victim] = readyPods(NS, 'app.kubernetes.io/component=dataplane');
    expect(victim).toBeDefined();
    kubectlOk(['-n', NS, 'delete', 'pod', victim ?? '', '--wait=false']);
    await waitFor('deleted data-plane pod gone', 120_000, () => (kubectl(['-n', NS, 'get', 'pod', victim ?? '']).status !== 0 ? true : undefined));
    await waitFor('2 data planes ready', 120_000, () => deploymentReady(NS, 'tollgate-dataplane', 2));
    await loadAdvances(load, 20);
    phase('data-plane pod deleted under load');

    helmOk(['upgrade', 'tollgate', CHART, '-n', NS, ...INSTALL, '--set', 'dataplane.podAnnotations.e2e/rolled=yes', '--wait', '--timeout', '5m']);
    await waitFor('data planes rolled', 180_000, () => deploymentReady(NS, 'tollgate-dataplane', 2));
    await loadAdvances(load, 20);
    phase('helm upgrade rolled the data plane under load');

    const lease = (): string => String(kubectlJson<KubeObject>(['-n', NS, 'get', 'lease', 'tollgate-operator']).spec?.holderIdentity ?? '');
    const leader = lease();
    expect(readyPods(NS, 'app.kubernetes.io/component=operator')).toContain(leader);
    kubectlOk(['-n', NS, 'delete', 'pod', leader, '--wait=false']);
    await waitFor('a new operator leader', 120_000, () => {
      const now = lease();
      return now !== '' && now !== leader ? now : undefined;
    });
    await waitFor('2 operators ready', 120_000, () => deploymentReady(NS, 'tollgate-operator', 2));
    await loadAdvances(load, 20);
    phase('leader operator deleted under load');

    const r = await load.stop();
    console.log(`[e2e] faults: ${r.ok} requests answered, ${r.failed} failed`);
    expect(r.failures).toEqual([]);
    const expected = before + cost(r.usage);
    let seen = before;
    await waitFor(`Budget.status.spent = ${expected.toFixed(4)} (${r.ok} requests)`, 60_000, () => {
      seen = spent();
      return Math.abs(seen - expected) < 0.005 ? true : undefined;
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}; last seen ${seen.toFixed(4)} (from ${before.toFixed(4)})`);
    });
    phase('spend settled to the cent');
  });

  it('helm uninstall removes every namespaced object the chart made; the CRDs and the admin token Secret stay', async () => {
    const kinds = 'deployments,replicasets,pods,services,serviceaccounts,secrets,configmaps,roles,rolebindings,poddisruptionbudgets,networkpolicies,horizontalpodautoscalers';
    const made = kubectlOk(['-n', NS, 'get', kinds, '-l', 'app.kubernetes.io/instance=tollgate', '-o', 'name']).trim().split('\n');
    expect(made.length).toBeGreaterThan(5);
    helmOk(['uninstall', 'tollgate', '-n', NS, '--wait', '--timeout', '3m']);
    await waitFor('every pod gone', 120_000, () => (kubectlOk(['-n', NS, 'get', 'pods', '-o', 'name']).trim() === '' ? true : undefined));
    const left = kubectlOk(['-n', NS, 'get', kinds, '-l', 'app.kubernetes.io/instance=tollgate', '-o', 'name']).trim().split('\n').filter((l) => l !== '');
    // The admin and metrics token Secrets are kept on purpose (helm.sh/resource-policy: keep), see docs/install.md.
    expect(left.sort()).toEqual(['secret/tollgate-admin-token', 'secret/tollgate-metrics-token']);
    expect(kubectlOk(['get', 'clusterroles', '-o', 'name'])).not.toContain('tollgate-');
    for (const crd of ['providers.tollgate.dev', 'modelroutes.tollgate.dev', 'budgets.tollgate.dev']) kubectlOk(['get', 'crd', crd]);
    phase('helm uninstall');
  });
});
