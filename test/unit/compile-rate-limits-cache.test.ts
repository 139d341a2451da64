import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { SnapshotSchema } from '../../dataplane/config/snapshot.js';
import type { buildCrd } from '../../operator/api/crd-builder.js';
import { ModelRouteSchema } from '../../operator/api/model-route.js';
import { compile } from '../../operator/compile/compile.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';

const PROVIDER = `
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: mock, namespace: team-a }
spec: { type: mock }
`;

function compileRoute(spec: string) {
  const content = `${PROVIDER}---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat, namespace: team-a }
spec:
  model: chat
  targets: [{ providerRef: { name: mock }, model: m }]
${spec}`;
  const loaded = loadManifests([{ path: 'route.yaml', content }]);
  expect(loaded.errors).toEqual([]);
  const { snapshot } = compile(loaded.input);
  expect(SnapshotSchema.safeParse(snapshot).success).toBe(true);
  const route = snapshot.routes[0];
  if (route === undefined) throw new Error('no route compiled');
  return route;
}

const messagesOf = (spec: unknown): string[] => {
  const r = ModelRouteSchema.safeParse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'ModelRoute', metadata: { name: 'x', namespace: 'a' }, spec });
  return r.success ? [] : r.error.issues.map((i) => i.message);
};
const target = { providerRef: { name: 'p' }, model: 'm' };

describe('compile: rate limits and cache', () => {
  it('compiles rate limits as declared, with per defaulting to Caller', () => {
    const route = compileRoute(`  rateLimits:
    - { per: Route, requestsPerMinute: 600, tokensPerMinute: 200000 }
    - { tokensPerMinute: 20000 }
    - { per: RouteAndCaller, requestsPerMinute: 60 }
`);
    expect(route.rateLimits).toEqual([
      { per: 'Route', requestsPerMinute: 600, tokensPerMinute: 200000 },
      { per: 'Caller', tokensPerMinute: 20000 },
      { per: 'RouteAndCaller', requestsPerMinute: 60 },
    ]);
  });

  it('compiles an enabled cache with defaults, and leaves a disabled or absent one out', () => {
    expect(compileRoute('  cache: { enabled: true }\n').cache).toEqual({ ttlMs: 300_000, maxEntries: 1000, shareAcrossCallers: false });
    expect(compileRoute('  cache: { enabled: true, ttl: 1h30m, maxEntries: 50, shareAcrossCallers: true }\n').cache).toEqual({
      ttlMs: 5_400_000,
      maxEntries: 50,
      shareAcrossCallers: true,
    });
    const off = compileRoute('  cache: { enabled: false, ttl: 1m }\n');
    expect(off.cache).toBeUndefined();
    expect(off.rateLimits).toBeUndefined();
    expect('cache' in compileRoute('')).toBe(false);
  });

  it.each([
    [{ model: 'm', targets: [target], rateLimits: [{ per: 'Route', requestsPerMinute: 1 }, { per: 'Route', tokensPerMinute: 1 }] }, 'each per value may appear once: put requestsPerMinute and tokensPerMinute in the same entry'],
    [{ model: 'm', targets: [target], rateLimits: [{ requestsPerMinute: 1 }, { per: 'Caller', tokensPerMinute: 1 }] }, 'each per value may appear once: put requestsPerMinute and tokensPerMinute in the same entry'],
    [{ model: 'm', targets: [target], cache: { enabled: true, ttl: '0s' } }, 'ttl must be greater than 0'],
    [{ model: 'm', targets: [target], cache: { enabled: true, ttl: '25h' } }, 'ttl must be at most 24h'],
  ])('refuses %j', (spec, message) => {
    expect(messagesOf(spec)).toContain(message);
  });

  it('refuses bad numbers and unknown fields', () => {
    expect(messagesOf({ model: 'm', targets: [target], rateLimits: [{ per: 'Route', requestsPerMinute: 0 }] })).not.toEqual([]);
    expect(messagesOf({ model: 'm', targets: [target], cache: { enabled: true, maxEntries: 0 } })).not.toEqual([]);
    expect(messagesOf({ model: 'm', targets: [target], cache: { enabled: true, size: 5 } })).not.toEqual([]);
    expect(messagesOf({ model: 'm', targets: [target], rateLimits: [{ per: 'Namespace', requestsPerMinute: 1 }] })).not.toEqual([]);
  });

  it('carries the same rules as CEL in the generated CRD', () => {
    const crd = yaml.load(readFileSync('crds/tollgate.dev_modelroutes.yaml', 'utf8')) as ReturnType<typeof buildCrd>;
    const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties?.spec;
    const rateLimits = spec?.properties?.rateLimits;
    expect(rateLimits?.['x-kubernetes-validations']?.map((r) => r.rule)).toEqual(['self.all(l, self.exists_one(m, m.per == l.per))']);
    expect(rateLimits?.items?.['x-kubernetes-validations']?.map((r) => r.message)).toEqual(['set requestsPerMinute or tokensPerMinute']);
    const cache = spec?.properties?.cache;
    expect(cache?.['x-kubernetes-validations']?.map((r) => r.rule)).toEqual(["duration(self.ttl) > duration('0s')", "duration(self.ttl) <= duration('24h')"]);
    expect(Object.keys(cache?.properties ?? {}).sort()).toEqual(['enabled', 'maxEntries', 'shareAcrossCallers', 'ttl']);
  });
});
