import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { scrapeMetrics } from '../support/admin-metrics.js';

// Pass-through endpoints and Realtime are forwarded untranslated: no guardrail rule reads them.
// Before, a GuardrailPolicy with a Block rule let them through silently (a card number in a
// moderation input or an image prompt reached the upstream), so a tenant enabling pass-through on
// its route stepped around the platform's policy. Now a policy that blocks or masks refuses them
// (403 guardrail_uninspected) unless it says `uninspectedEndpoints: Allow`, and any Refuse wins.

const CARD = '4111 1111 1111 1111';
let upstream: Server;
let seen: { method: string; url: string; body: string }[];
let gateway: TestGateway;

const provider = (ns: string, base: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: up, namespace: ${ns} }
spec:
  type: openai
  url: ${base}/v1
  credentials: { secretRef: { name: up-key, key: apiKey } }
---
apiVersion: v1
kind: Secret
metadata: { name: up-key, namespace: ${ns} }
stringData: { apiKey: sk-up-0123456789 }
`;

const route = (ns: string, name: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: ${ns} }
spec:
  model: ${name}
  access: { anonymous: true }
  targets: [{ providerRef: { name: up }, model: m }]
  passThrough:
    endpoints: [images, audio, files, batches, moderations, realtime]
`;

const policy = (ns: string, name: string, subjects: string, extra = '', action = 'Block'): string => `apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:
  subjects: ${subjects}
${extra}  rules:
    - { name: no-cards, phase: Request, action: ${action}, detector: { builtin: [PaymentCard] } }
`;

const manifests = (base: string): string =>
  [
    provider('default', base),
    provider('team-a', base),
    // g: a policy that blocks, uninspectedEndpoints left at its default (Refuse).
    route('default', 'g'),
    policy('default', 'gp', '{ routes: [{ name: g }] }'),
    // open: the policy allows what it cannot inspect.
    route('default', 'open'),
    policy('default', 'lenient', '{ routes: [{ name: open }] }', '  uninspectedEndpoints: Allow\n'),
    // watched: a policy of Monitor rules only never changes a request, so it refuses nothing.
    route('default', 'watched'),
    policy('default', 'watch', '{ routes: [{ name: watched }] }', '', 'Monitor'),
    // team-a: the platform's policy refuses (default); the tenant's own allows. It sorts first.
    route('team-a', 't'),
    policy('tollgate-system', 'platform', '{ namespaces: [team-a] }'),
    policy('team-a', 'own', '{ namespaces: [team-a] }', '  uninspectedEndpoints: Allow\n'),
  ].join('---\n');

beforeAll(async () => {
  seen = [];
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.setHeader('content-type', 'application/json');
      if (req.url?.endsWith('/files')) res.end(JSON.stringify({ id: 'file-1', object: 'file', bytes: body.length, purpose: 'batch', filename: 'b.jsonl' }));
      else if (req.url?.endsWith('/moderations')) res.end(JSON.stringify({ id: 'modr-1', model: 'm', results: [{ flagged: false, categories: {} }] }));
      else res.end(JSON.stringify({ created: 1, data: [{ url: 'https://example.invalid/i.png' }] }));
    });
  });
  // A Realtime session that reached the upstream would be an upgrade here.
  upstream.on('upgrade', (req, socket) => {
    seen.push({ method: 'UPGRADE', url: req.url ?? '', body: '' });
    socket.destroy();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as { port: number };
  gateway = await startTestGateway({ 'all.yaml': manifests(`http://127.0.0.1:${port}`) }, { admin: true });
});

afterAll(async () => {
  await gateway?.close();
  upstream?.close();
});

type Answer = { status: number; headers: Headers; error?: { code: string; type: string; message: string } };

async function post(path: string, body: string, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers, body });
  const json = (await res.json()) as { error?: Answer['error'] };
  return { status: res.status, headers: res.headers, ...(json.error === undefined ? {} : { error: json.error }) };
}

const moderation = (model: string): Promise<Answer> => post('/v1/moderations', JSON.stringify({ model, input: `card ${CARD}` }), { 'content-type': 'application/json' });
const image = (model: string): Promise<Answer> => post('/v1/images/generations', JSON.stringify({ model, prompt: `draw card ${CARD}` }), { 'content-type': 'application/json' });

/** A batch input file of prompts, uploaded as multipart (the route named by header, as the SDKs cannot put it in the form). */
function upload(model: string): Promise<Answer> {
  const boundary = 'b0undary';
  const line = JSON.stringify({ custom_id: '1', method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [{ role: 'user', content: `pay with ${CARD}` }] } });
  const form = [`--${boundary}`, 'content-disposition: form-data; name="purpose"', '', 'batch', `--${boundary}`, 'content-disposition: form-data; name="file"; filename="b.jsonl"', 'content-type: application/jsonl', '', line, `--${boundary}--`, ''].join('\r\n');
  return post('/v1/files', form, { 'content-type': `multipart/form-data; boundary=${boundary}`, 'x-tollgate-model': model });
}

/** The HTTP answer to a Realtime upgrade (a refusal comes before the upgrade). */
function realtime(model: string): Promise<number> {
  const url = new URL(`${gateway.url}/v1/realtime?model=${model}`);
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('error', reject);
    req.end();
  });
}

const metrics = (): Promise<string> => scrapeMetrics(gateway);

function expectUninspected(a: Answer, policy: string, endpoint: string, route: string): void {
  expect(a.status).toBe(403);
  expect(a.error).toMatchObject({ code: 'guardrail_uninspected', type: 'permission_error' });
  expect(a.error?.message).toBe(
    `endpoint ${endpoint} on route ${route} was refused by guardrail policy ${policy}: its rules cannot inspect this endpoint's content, and it refuses such endpoints (spec.uninspectedEndpoints: Refuse)`,
  );
  expect(a.headers.get('x-tollgate-guardrail')).toBe(policy);
  expect(a.headers.get('x-tollgate-route')).toBe(route);
}

describe('pass-through under a GuardrailPolicy that blocks', () => {
  it('refuses moderations, images, a file upload and a Realtime session with 403 guardrail_uninspected; the upstream gets nothing', async () => {
    const before = seen.length;
    expectUninspected(await moderation('g'), 'default/gp', 'moderations', 'default/g');
    expectUninspected(await image('g'), 'default/gp', 'images', 'default/g');
    expectUninspected(await upload('g'), 'default/gp', 'files', 'default/g');
    expect(await realtime('g')).toBe(403);
    expect(seen.slice(before)).toEqual([]);
    // Recorded as a Block of the policy, per endpoint, so a refusal is counted where rule decisions are.
    expect(await metrics()).toMatch(/tollgate_guardrail_decisions_total\{[^}]*policy="default\/gp",rule="endpoint:moderations",phase="Request",action="Block"\} 1/);
    // The Realtime refusal too (before, only in the log), and as a refused request of its route.
    const text = await metrics();
    expect(text).toMatch(/tollgate_guardrail_decisions_total\{[^}]*policy="default\/gp",rule="endpoint:realtime",phase="Request",action="Block"\} 1/);
    expect(text).toMatch(/tollgate_requests_total\{[^}]*operation="realtime",route="default\/g",[^}]*status_class="4xx"\} 1/);
  });

  it('with uninspectedEndpoints: Allow serves them as before, each recorded as an Allow decision', async () => {
    const before = seen.length;
    expect((await moderation('open')).status).toBe(200);
    expect((await image('open')).status).toBe(200);
    expect((await upload('open')).status).toBe(200);
    expect(seen.slice(before).map((s) => s.url)).toEqual(['/v1/moderations', '/v1/images/generations', '/v1/files']);
    expect(seen.at(-1)?.body).toContain(CARD);
    expect(await metrics()).toMatch(/tollgate_guardrail_decisions_total\{[^}]*policy="default\/lenient",rule="endpoint:moderations",phase="Request",action="Allow"\} 1/);
    // A Realtime session let through is counted as an Allow as well (this upstream then drops the upgrade: 502).
    expect(await realtime('open')).toBe(502);
    expect(await metrics()).toMatch(/tollgate_guardrail_decisions_total\{[^}]*policy="default\/lenient",rule="endpoint:realtime",phase="Request",action="Allow"\} 1/);
  });

  it("a tenant's Allow does not lift the platform's Refuse: the strictest wins", async () => {
    const before = seen.length;
    expectUninspected(await moderation('t'), 'tollgate-system/platform', 'moderations', 'team-a/t');
    expectUninspected(await upload('t'), 'tollgate-system/platform', 'files', 'team-a/t');
    expect(seen.slice(before)).toEqual([]);
  });

  it('a policy of Monitor rules only refuses nothing', async () => {
    expect((await moderation('watched')).status).toBe(200);
  });

  it('/debug/route shows the refusal of the route\'s pass-through endpoints', async () => {
    const explain = async (model: string): Promise<unknown> => {
      const res = await fetch(`${gateway.adminUrl}/debug/route`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.adminToken}` },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
      return ((await res.json()) as { decision: { guardrails: { passThrough?: unknown } } }).decision.guardrails.passThrough;
    };
    // In the route's compiled (sorted) order; the refusal is that of the first, each alike.
    const endpoints = ['audio', 'batches', 'files', 'images', 'moderations', 'realtime'];
    expect(await explain('g')).toEqual({
      endpoints,
      outcome: 'refused',
      refusal: {
        status: 403,
        code: 'guardrail_uninspected',
        message: "endpoint audio on route default/g was refused by guardrail policy default/gp: its rules cannot inspect this endpoint's content, and it refuses such endpoints (spec.uninspectedEndpoints: Refuse)",
      },
    });
    expect(await explain('open')).toEqual({ endpoints, outcome: 'allowed' });
    expect(await explain('t')).toMatchObject({ outcome: 'refused', refusal: { message: expect.stringContaining('tollgate-system/platform') } });
  });
});
