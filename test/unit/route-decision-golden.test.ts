import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../dataplane/core/caller.js';
import type { JsonObject } from '../../dataplane/core/canonical.js';
import { GatewayError } from '../../dataplane/core/gateway-error.js';
import { Router } from '../../dataplane/routing/router.js';
import { explainRoute } from '../../dataplane/routing/rules/explain-route.js';
import { TargetStats } from '../../dataplane/routing/target-stats.js';
import { buildRuntimeSnapshot, type RuntimeSnapshot } from '../../dataplane/runtime/runtime-snapshot.js';
import type { Transport } from '../../dataplane/upstream/transport.js';
import { compile } from '../../operator/compile/compile.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';
import { expectGolden } from '../support/golden.js';

// Golden files: request → route decision. test/fixtures/route-decision/<case>.in.yaml holds the
// manifests (compiled as the operator does) and one `kind: GoldenRequests` document listing the
// requests; <case>.out.json holds, per request, the decision /debug/route would show or the error
// the client would get. Regenerate with UPDATE_GOLDEN=1 (test/README.md).
const dir = 'test/fixtures/route-decision';
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.in.yaml'))
  .map((f) => f.replace(/\.in\.yaml$/, ''));

interface GoldenRequest {
  name: string;
  /** The verified caller; absent = anonymous. */
  caller?: { kind: 'serviceaccount' | 'apikey'; namespace: string; name: string; labels?: Record<string, string> };
  headers?: Record<string, string>;
  body: JsonObject & { model: string };
}

interface GoldenRequests {
  kind: 'GoldenRequests';
  /** Identity on (routes admit callers by their access rules); off: every caller is anonymous. */
  identity: boolean;
  /** Compiled as the operator does with these platform namespaces; absent = as `tollgate dev` (none singled out). */
  platformNamespaces?: string[];
  requests: GoldenRequest[];
}

const noHttp: Transport = { send: () => Promise.reject(new Error('golden tests send nothing')) };

function callerOf(c: GoldenRequest['caller']): Caller {
  if (c === undefined) return { kind: 'anonymous', id: 'anonymous' };
  const prefix = c.kind === 'serviceaccount' ? 'sa' : 'key';
  return { kind: c.kind, namespace: c.namespace, name: c.name, ...(c.labels === undefined ? {} : { labels: c.labels }), id: `${prefix}:${c.namespace}/${c.name}` };
}

function load(name: string): { runtime: RuntimeSnapshot; requests: GoldenRequests } {
  const content = readFileSync(join(dir, `${name}.in.yaml`), 'utf8');
  const docs = yaml.loadAll(content) as { kind?: string }[];
  const requests = docs.find((d) => d.kind === 'GoldenRequests') as GoldenRequests | undefined;
  if (requests === undefined) throw new Error(`${name}.in.yaml has no GoldenRequests document`);
  const loaded = loadManifests([{ path: `${name}.in.yaml`, content }]);
  expect(loaded.errors).toEqual([]);
  const platform = requests.platformNamespaces === undefined ? {} : { platformNamespaces: requests.platformNamespaces };
  const built = buildRuntimeSnapshot(compile({ ...loaded.input, ...platform }).snapshot, noHttp);
  if (!built.ok) throw new Error(built.error);
  return { runtime: built.runtime, requests };
}

function decide(runtime: RuntimeSnapshot, identity: boolean, r: GoldenRequest): JsonObject {
  // Weighted and random strategies draw from this: the same order on every run.
  const router = new Router({ stats: new TargetStats(), random: () => 0.5, now: () => 0 });
  const headers = new Map(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  try {
    return { decision: explainRoute(runtime, router, { body: r.body, header: (n) => headers.get(n), caller: callerOf(r.caller), checkAccess: identity }) };
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    return { status: err.status, headers: err.headers, ...err.toBody() };
  }
}

describe('request → route decision (golden files)', () => {
  it.each(cases)('%s', (name) => {
    const { runtime, requests } = load(name);
    const actual = Object.fromEntries(requests.requests.map((r) => [r.name, decide(runtime, requests.identity, r)]));
    expectGolden(join(dir, `${name}.out.json`), actual);
  });
});
