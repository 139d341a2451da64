// examples/cluster/ is what a new user applies after `helm install`: every Tollgate object in it is
// valid under the same schema and rules the API server enforces, and it compiles to the intended
// configuration (chat-default fails over from vLLM to OpenAI).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';

const DIR = 'examples/cluster';
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((name) => ({ path: join(DIR, name), content: readFileSync(join(DIR, name), 'utf8') }));

type Doc = { kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown> };
const docs = files.flatMap((f) => yaml.loadAll(f.content) as Doc[]);

describe('examples/cluster', () => {
  it('holds the objects the install docs promise', () => {
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Secret/platform/openai',
        'Provider/platform/openai',
        'Provider/team-a/vllm',
        'ModelRoute/team-a/chat-default',
        'Budget/team-a/team-a-monthly',
        'Deployment/team-a/chat-client',
      ]),
    );
    // Every namespaced object names its namespace, so `kubectl apply -f` puts it where intended.
    for (const d of docs.filter((x) => x.kind !== 'Namespace')) expect(d.metadata.namespace, `${d.kind} ${d.metadata.name}`).toBeDefined();
  });

  it('validates every Provider, ModelRoute and Budget against the CRD schemas and rules', () => {
    const loaded = loadManifests(files);
    expect(loaded.errors).toEqual([]);
    expect(loaded.input.providers.length).toBe(2);
    expect(loaded.input.routes.length).toBe(1);
    expect(loaded.input.budgets.length).toBe(1);
  });

  it('compiles chat-default to failover from vLLM to OpenAI; without the vLLM Service, vLLM reports ServiceNotFound', () => {
    const { input } = loadManifests(files);
    const { snapshot, statuses } = compile(input);
    const route = snapshot.routes.find((r) => r.id === 'team-a/chat-default');
    expect(route?.strategy).toBe('failover');
    // vLLM first, then OpenAI in another namespace (admitted by the namespace label).
    expect(route?.targets.map((t) => [t.providerId, t.priority])).toEqual([
      ['team-a/vllm', 0],
      ['platform/openai', 10],
    ]);
    expect(route?.unresolved).toEqual([]);
    // Without a vllm Service the provider has no endpoints: requests fail over to OpenAI.
    expect(snapshot.providers.find((p) => p.id === 'team-a/vllm')?.endpoints).toEqual([]);
    const vllm = statuses.find((s) => s.kind === 'Provider' && s.name === 'vllm');
    expect(vllm?.conditions.find((c) => c.type === 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'ServiceNotFound' });
    const budget = statuses.find((s) => s.kind === 'Budget');
    expect(budget?.conditions.every((c) => c.status === 'True')).toBe(true);
  });

  it('mounts a projected ServiceAccount token of audience tollgate and calls the gateway Service', () => {
    const deployment = docs.find((d) => d.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { volumes: { projected?: { sources: { serviceAccountToken?: { audience: string } }[] } }[]; containers: { env: { value: string }[] }[] } } };
    };
    const sources = deployment.spec.template.spec.volumes.flatMap((v) => v.projected?.sources ?? []);
    expect(sources.map((s) => s.serviceAccountToken?.audience)).toContain('tollgate');
    expect(deployment.spec.template.spec.containers[0]?.env[0]?.value).toBe('http://tollgate.tollgate-system.svc/v1');
  });
});
