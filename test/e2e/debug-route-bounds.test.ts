import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../dataplane/server/body/json-body.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// POST /debug/route reads a body a client would send (up to 4 MB, behind the admin token) but
// parsed it with nothing but express.json: none of the public port's bounds on nesting and
// elements. 4 MB of nested arrays held the event loop every tenant's requests share for about
// 0.6 s in JSON.parse alone, and the explanation then walked the value again.

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await startTestGateway(
    {
      'providers.yaml': openAiProvider('up', 'http://127.0.0.1:9'),
      'routes.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: m }
spec:
  model: m
  targets: [{ providerRef: { name: up }, model: m }]
`,
    },
    { admin: true },
  );
});
afterAll(() => gateway?.close());

const explain = (body: string) =>
  fetch(`${gateway.adminUrl}/debug/route`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.adminToken}` }, body });

it('refuses a body nested deeper than the public port allows, before parsing it', async () => {
  const depth = 1_000_000;
  const res = await explain(`{"model":"m","messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(depth)}${']'.repeat(depth)}}`);
  const body = (await res.json()) as { decision: unknown; error?: { code?: string; message?: string } };
  expect(res.status).toBe(400);
  expect(body).toMatchObject({ decision: null, error: { code: 'json_too_deep' } });
  expect(body.error?.message).toContain(String(MAX_JSON_DEPTH));
});

it('refuses a body of more elements than the public port allows', async () => {
  const res = await explain(`{"model":"m","messages":[{"role":"user","content":"hi"}],"x":[${'{},'.repeat(300_000)}{}]}`);
  const body = (await res.json()) as { decision: unknown; error?: { code?: string } };
  expect(res.status).toBe(400);
  expect(body).toMatchObject({ decision: null, error: { code: 'json_too_many_elements' } });
});

it('still explains an ordinary body, and says what is wrong with one that is not JSON', async () => {
  const ok = await explain(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }));
  expect(ok.status).toBe(200);
  expect(((await ok.json()) as { decision: { route?: string } }).decision.route).toBe('default/m');
  const bad = await explain('{"model":');
  expect(bad.status).toBe(400);
});
