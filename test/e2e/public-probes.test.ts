import { afterAll, beforeAll, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// The public port's probes answer anyone, tenants and (behind a LoadBalancer) the internet. Before,
// GET /readyz there named the snapshot version: a hash over every tenant's configuration and every
// credential in it, which told any caller when any team changed anything (a key rotated, a route
// added) and gave whoever knows the rest of a snapshot a test for guesses of a credential.

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await startTestGateway({
    'providers.yaml': openAiProvider('up', 'http://127.0.0.1:9'),
    'routes.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: m }
spec:
  model: m
  targets: [{ providerRef: { name: up }, model: m }]
`,
  });
});
afterAll(() => gateway?.close());

it('GET /readyz on the public port says whether the pod is ready, not which snapshot it serves', async () => {
  const version = gateway.dataplane.store.current?.snapshot.version;
  expect(version).toMatch(/^[0-9a-f]{16}$/);
  const res = await fetch(`${gateway.url}/readyz`);
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(JSON.parse(text)).toEqual({ ready: true, draining: false });
  expect(text).not.toContain(version ?? '');
});
