import { describe, expect, it } from 'vitest';
import { formatManifestError, loadManifests } from './manifest-loader.js';

const load = (content: string) => loadManifests([{ path: 'm.yaml', content }]);
const messages = (content: string) => load(content).errors.map(formatManifestError);

const budget = (apiVersion: string, kind: string, metadata = '{ name: cap }') => `apiVersion: ${apiVersion}
kind: ${kind}
metadata: ${metadata}
spec:
  limit: { amount: 1, unit: USD }
  period: Day
  subjects: { namespaces: [default] }
`;

describe('loadManifests: typos in our group are errors, not skipped objects', () => {
  it('names a mistyped kind and the kind it probably meant', () => {
    expect(messages(budget('tollgate.dev/v1alpha1', 'budget'))).toEqual(['m.yaml: budget default/cap: kind: unknown kind budget in tollgate.dev/v1alpha1 (did you mean Budget?)']);
    expect(messages(budget('tollgate.dev/v1alpha1', 'Modelroute'))[0]).toContain('unknown kind Modelroute in tollgate.dev/v1alpha1 (did you mean ModelRoute?)');
    expect(messages(budget('tollgate.dev/v1alpha1', 'Quota'))[0]).toMatch(/unknown kind Quota in tollgate.dev\/v1alpha1$/);
  });

  it('names the served version for a version of our group that is not served', () => {
    expect(messages(budget('tollgate.dev/v1', 'Budget'))).toEqual(['m.yaml: Budget default/cap: apiVersion: tollgate.dev/v1 is not served: Tollgate serves tollgate.dev/v1alpha1']);
  });

  it('refuses unknown metadata fields the way strict field validation does', () => {
    expect(messages(budget('tollgate.dev/v1alpha1', 'Budget', '{ name: cap, namepsace: team-a }'))).toEqual([
      'm.yaml: Budget default/cap: metadata.namepsace: unknown field (did you mean namespace?)',
    ]);
  });

  it('loads the correct spelling, and keeps other groups\' objects quiet', () => {
    const result = load(
      `${budget('tollgate.dev/v1alpha1', 'Budget', '{ name: cap, namespace: team-a, labels: { a: b } }')}---
apiVersion: apps/v1
kind: Deployment
metadata: { name: vllm, whatever: 1 }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: app }
`,
    );
    expect(result.errors).toEqual([]);
    expect(result.input.budgets).toHaveLength(1);
    expect(result.ignored).toHaveLength(2);
  });
});

// `tollgate dev` reads manifests from disk with the CRD schemas and their rules: it refuses what
// `kubectl apply` refuses, naming the file and the object.

describe('loadManifests', () => {
  it('refuses a ModelRoute that retries ContextLengthExceeded (each retry would be refused the same way, and billed)', () => {
    const content = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  targets: [{ providerRef: { name: openai }, model: gpt-4o }]
  retry: { attempts: 3, retryOn: [ServerError, ContextLengthExceeded] }
`;
    const loaded = loadManifests([{ path: 'routes.yaml', content }]);
    expect(loaded.input.routes).toEqual([]);
    expect(loaded.errors).toEqual([
      expect.objectContaining({ file: 'routes.yaml', message: expect.stringContaining('retryOn must not list ContextLengthExceeded') }),
    ]);
  });
});

describe('loadManifests: Secrets', () => {
  it('keeps a creation time when the manifest has one (quoted or read by YAML as a timestamp): the oldest holder of an API key keeps it', () => {
    const secret = (name: string, created: string) => `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: team-a, creationTimestamp: ${created} }
stringData: { key: k }
`;
    const { input, errors } = load(`${secret('a', '2024-01-01T00:00:00Z')}---\n${secret('b', '"2024-02-01T00:00:00Z"')}---\napiVersion: v1\nkind: Secret\nmetadata: { name: c }\n`);
    expect(errors).toEqual([]);
    expect(input.secrets.map((s) => [s.name, s.createdAt])).toEqual([
      ['a', '2024-01-01T00:00:00.000Z'],
      ['b', '2024-02-01T00:00:00Z'],
      ['c', undefined],
    ]);
  });
});
