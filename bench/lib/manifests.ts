/**
 * Manifests for Tollgate in the benchmarks: one openai-compatible Provider pointing at the emulator
 * and one ModelRoute per model name the scenarios send.
 *
 * Governance `on` turns on everything a production route would pay for on the request path, sized
 * so that it admits every benchmark request (docs/governance.md, docs/rate-limits-and-cache.md):
 * - identity: an API key Secret (label `tollgate.dev/api-key: "true"`, data key `key`); the load
 *   generators send `Authorization: Bearer <key>` and `tollgate dev` runs with `--auth`;
 * - access: every route admits only API keys labelled `tollgate.dev/bench: "true"` (no anonymous);
 * - rate limits: a `Route` and a `Caller` bucket on every route at the schema's maximum request
 *   rate and a huge token rate (checked and charged on every request, never refusing);
 * - metering into a Budget of 10^15 tokens a month whose subjects are the key and every route
 *   (`tollgate dev` keeps budgets in the process: reserved at admission, charged at the end);
 * - tracing to a local OTLP receiver (`--otlp-endpoint`, see otlp-sink.ts), not set here.
 */

/** `on-nobudget`: everything of `on` except the Budget, to separate what metering into a budget costs. */
export type Governance = 'off' | 'on' | 'on-nobudget';

/** Sent by the load generators as `Authorization: Bearer …`; only ever a benchmark placeholder. */
export const BENCH_API_KEY = 'sk-bench-not-a-real-key';
/** Name of the caller's API key Secret (governance on). */
export const BENCH_KEY_SECRET = 'bench-caller';

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
  if (governance !== 'off') {
    lines.push(
      '  access:',
      '    anonymous: false',
      '    apiKeys:',
      '      selector: { matchLabels: { tollgate.dev/bench: "true" } }',
      '  rateLimits:',
      // Schema maxima for requests (10^8/min); tokens far above anything a run can use.
      '    - { per: Route, requestsPerMinute: 100000000, tokensPerMinute: 10000000000 }',
      '    - { per: Caller, requestsPerMinute: 100000000, tokensPerMinute: 10000000000 }',
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
  // The caller's API key: the data plane keeps only its HMAC and compares in constant time. Also
  // with governance off: every load generator sends it, and `tollgate dataplane` (which always
  // identifies callers, as a pod does) refuses a key it does not know; routes without an access
  // rule then admit it. `tollgate dev` without --auth does not look at it.
  files['api-key.yaml'] = [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${BENCH_KEY_SECRET}`,
    '  labels: { tollgate.dev/api-key: "true", tollgate.dev/bench: "true" }',
    'stringData:',
    `  key: ${BENCH_API_KEY}`,
    '',
  ].join('\n');
  if (opts.governance === 'on') {
    // Metering into a budget that can never run out: every request reserves its worst case at
    // admission and is charged its real usage when it ends.
    files['budget.yaml'] = [
      'apiVersion: tollgate.dev/v1alpha1',
      'kind: Budget',
      'metadata:',
      '  name: bench',
      'spec:',
      '  limit: { amount: 1000000000000000, unit: Tokens }',
      '  period: Month',
      '  subjects:',
      `    apiKeys: [${BENCH_KEY_SECRET}]`,
      `    routes: [${opts.models.map((m) => `{ name: ${m} }`).join(', ')}]`,
      '  action: { type: Reject }',
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
