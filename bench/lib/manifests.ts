/**
 * Manifests for Tollgate in the benchmarks: one openai-compatible Provider pointing at the emulator
 * and one ModelRoute per model name the scenarios send.
 *
 * Governance `on` adds what issues 5 (identity, access, rate limits) and 6 (tracing) will enforce:
 * an API key Secret, `access.apiKeys` and a generous `rateLimits` entry on every route, so that
 * admission runs but never rejects. In this build the data plane does not enforce any of it yet
 * (the fields are accepted by the CRD schema and ignored), so `on` measures the same code path as
 * `off`; the report says so. When issues 5 and 6 land, adjust the Secret format and add the tracing
 * settings here (a local OTLP receiver), and the `on` rows become meaningful without other changes.
 */

export type Governance = 'off' | 'on';

/** Sent by the load generators as `Authorization: Bearer …`; only ever a benchmark placeholder. */
export const BENCH_API_KEY = 'sk-bench-not-a-real-key';

export interface ManifestOptions {
  upstreamBaseUrl: string;
  models: string[];
  governance: Governance;
}

function route(model: string, governance: Governance): string {
  const lines = [
    'apiVersion: tollgate.dev/v1alpha1',
    'kind: ModelRoute',
    'metadata:',
    `  name: ${model}`,
    'spec:',
    `  model: ${model}`,
    '  targets:',
    '    - providerRef: { name: emulator }',
    `      model: ${model}`,
  ];
  if (governance === 'on') {
    lines.push(
      '  access:',
      '    apiKeys:',
      '      selector: { matchLabels: { tollgate.dev/bench: "true" } }',
      '  rateLimits:',
      '    - per: Caller',
      '      requestsPerMinute: 1000000000',
      '      tokensPerMinute: 1000000000',
    );
  }
  return lines.join('\n');
}

/** YAML documents for `tollgate dev -f <dir>`, one file per kind. */
export function benchManifests(opts: ManifestOptions): Record<string, string> {
  const provider = [
    'apiVersion: tollgate.dev/v1alpha1',
    'kind: Provider',
    'metadata:',
    '  name: emulator',
    'spec:',
    '  type: openai-compatible',
    `  url: ${opts.upstreamBaseUrl}`,
    '  credentials:',
    '    secretRef: { name: emulator, key: apiKey }',
  ].join('\n');
  const upstreamSecret = ['apiVersion: v1', 'kind: Secret', 'metadata:', '  name: emulator', 'stringData:', `  apiKey: ${BENCH_API_KEY}`].join('\n');
  const files: Record<string, string> = {
    'provider.yaml': `${provider}\n---\n${upstreamSecret}\n`,
    'routes.yaml': `${opts.models.map((m) => route(m, opts.governance)).join('\n---\n')}\n`,
  };
  if (opts.governance === 'on') {
    // Caller API key; the Secret format is a placeholder until issue 5 defines it.
    files['api-key.yaml'] = [
      'apiVersion: v1',
      'kind: Secret',
      'metadata:',
      '  name: bench-caller',
      '  labels: { tollgate.dev/api-key: "true", tollgate.dev/bench: "true" }',
      'stringData:',
      `  key: ${BENCH_API_KEY}`,
      '',
    ].join('\n');
  }
  return files;
}

/** N routes over P providers, for the control-plane benchmark (compile time). */
export function scaleManifests(routes: number, providers: number): string {
  const docs: string[] = [];
  for (let p = 0; p < providers; p++) {
    docs.push(
      [
        'apiVersion: tollgate.dev/v1alpha1',
        'kind: Provider',
        'metadata:',
        `  name: upstream-${p}`,
        `  namespace: team-${p % 10}`,
        'spec:',
        '  type: openai-compatible',
        `  url: http://127.0.0.1:${10000 + p}/v1`,
        '  allowedRoutes: { namespaces: { from: All } }',
        '  models:',
        `    - { name: model-${p}, pricing: { input: 0.15, output: 0.6 } }`,
      ].join('\n'),
    );
  }
  for (let r = 0; r < routes; r++) {
    const a = r % providers;
    const b = (r + 1) % providers;
    docs.push(
      [
        'apiVersion: tollgate.dev/v1alpha1',
        'kind: ModelRoute',
        'metadata:',
        `  name: route-${r}`,
        `  namespace: team-${r % 10}`,
        'spec:',
        `  model: public-model-${r}`,
        '  strategy: failover',
        '  targets:',
        `    - { providerRef: { name: upstream-${a}, namespace: team-${a % 10} }, model: model-${a}, priority: 0 }`,
        `    - { providerRef: { name: upstream-${b}, namespace: team-${b % 10} }, model: model-${b}, priority: 10 }`,
        '  retry: { attempts: 2 }',
        '  timeouts: { attempt: 30s, total: 60s }',
      ].join('\n'),
    );
  }
  return `${docs.join('\n---\n')}\n`;
}
