/**
 * Control-plane benchmark: how long the pure compile step takes for 100, 1,000 and 10,000
 * ModelRoutes (over 50 Providers in 10 namespaces, two failover targets per route). Manifests are
 * generated as YAML, loaded and validated the way `tollgate dev -f` loads them (timed separately),
 * then compiled `repeats` times. Prints one JSON object.
 *
 *   npx tsx bench/compile-bench.ts [sizes=100,1000,10000] [repeats=5]
 */
import { performance } from 'node:perf_hooks';
import { compile } from '../operator/compile/compile.js';
import { wireJson } from '../dataplane/config/secret-value.js';
import { loadManifests } from '../operator/sources/manifest-loader.js';
import { scaleManifests } from './lib/manifests.js';

export interface CompileSize {
  routes: number;
  providers: number;
  yamlBytes: number;
  loadMs: number;
  compileMs: { min: number; median: number; max: number; runs: number };
  snapshotBytes: number;
  snapshotRoutes: number;
  statuses: number;
  rejected: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function measure(routes: number, repeats: number): CompileSize {
  const providers = Math.min(50, Math.max(2, Math.ceil(routes / 20)));
  const yaml = scaleManifests(routes, providers);
  const t0 = performance.now();
  const loaded = loadManifests([{ path: `bench-${routes}.yaml`, content: yaml }]);
  const loadMs = performance.now() - t0;
  if (loaded.errors.length > 0) throw new Error(`generated manifests are invalid: ${JSON.stringify(loaded.errors.slice(0, 3))}`);
  const times: number[] = [];
  let last = compile(loaded.input);
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    last = compile(loaded.input);
    times.push(performance.now() - t);
  }
  const rejected = last.statuses.filter((s) => s.conditions.some((c) => c.status === 'False')).length;
  return {
    routes,
    providers,
    yamlBytes: Buffer.byteLength(yaml),
    loadMs,
    compileMs: { min: Math.min(...times), median: median(times), max: Math.max(...times), runs: times.length },
    snapshotBytes: Buffer.byteLength(wireJson(last.snapshot)),
    snapshotRoutes: last.snapshot.routes.length,
    statuses: last.statuses.length,
    rejected,
  };
}

function main(): void {
  const sizes = (process.argv[2] ?? '100,1000,10000').split(',').map(Number);
  const repeats = Number(process.argv[3] ?? '5');
  // JIT warm-up on a small input, not reported.
  measure(50, 3);
  const results = sizes.map((n) => measure(n, repeats));
  process.stdout.write(`${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
}

main();
