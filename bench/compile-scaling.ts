/**
 * How compile time grows with the objects one tenant can create (the operator compiles every
 * object on every reconcile, so a super-linear part lets one tenant slow every reconcile): the
 * route stage for N ModelRoutes in N namespaces sharing one public model (open to all, and open
 * only to a selector no namespace matches), and the DataPolicy stage for N policies with an s3
 * destination among N Secrets. Prints the median of 7 runs per size and the growth per doubling
 * (≈2: linear, ≈4: quadratic).
 *
 *   npx tsx bench/compile-scaling.ts [sizes=2000,4000,8000,16000]
 */
import { performance } from 'node:perf_hooks';
import { compileDataPolicies } from '../operator/compile/compile-data-policies.js';
import { compileProviders } from '../operator/compile/compile-providers.js';
import { compileRoutes } from '../operator/compile/compile-routes.js';
import type { SecretInput } from '../operator/compile/types.js';
import { dataPolicy, provider, route } from '../test/support/objects.js';

const sizes = (process.argv[2] ?? '2000,4000,8000,16000').split(',').map(Number);
const created = (i: number): string => new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const median = (run: () => unknown): number => {
  run();
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    run();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[3]!;
};

const shared = provider('p', { type: 'openai-compatible', url: 'http://10.0.0.1/v1', allowedRoutes: { namespaces: { from: 'All' } } }, { namespace: 'tollgate-system' });
const shapes: Record<string, (n: number) => () => unknown> = {
  'routes, one model, N namespaces, open to all': (n) => routesSharingOneModel(n, { namespaces: { from: 'All' } }),
  'routes, one model, N namespaces, selector only': (n) => routesSharingOneModel(n, { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'x' } } } }),
  'DataPolicies with an s3 destination, N Secrets': (n) => {
    const secrets = Array.from({ length: n }, (_, i): SecretInput => ({ namespace: 't1', name: `s3-${i}`, labels: {}, data: { accessKeyId: 'AKID', secretAccessKey: 'key' } }));
    const policies = Array.from({ length: n }, (_, i) =>
      dataPolicy(`d${i}`, { subjects: { namespaces: ['t1'] }, capture: { mode: 'Redacted' }, destinations: [{ name: 'b', s3: { endpoint: 'http://127.0.0.1:8333', bucket: 'captures', credentialsSecretRef: { name: `s3-${n - 1 - i}` } } }] }, { namespace: 't1', creationTimestamp: created(i) }),
    );
    const opts = { routes: [], secrets, platform: new Set(['tollgate-system']), localDestinations: false };
    return () => compileDataPolicies(policies, opts);
  },
};

function routesSharingOneModel(n: number, access: Record<string, unknown>): () => unknown {
  const routes = Array.from({ length: n }, (_, i) => route('r', { model: 'shared', access, targets: [{ providerRef: { name: 'p', namespace: 'tollgate-system' }, model: 'x' }] }, { namespace: `ns${i}`, creationTimestamp: created(i) }));
  const input = { providers: [shared], routes, budgets: [], secrets: [] };
  const { providers } = compileProviders(input);
  return () => compileRoutes(input, providers);
}

for (const [shape, make] of Object.entries(shapes)) {
  let previous: number | undefined;
  const row = sizes.map((n) => {
    const ms = median(make(n));
    const growth = previous === undefined ? '' : ` (×${(ms / previous).toFixed(1)})`;
    previous = ms;
    return `N=${n}: ${ms.toFixed(1)} ms${growth}`;
  });
  console.log(`${shape}: ${row.join(', ')}`);
}
